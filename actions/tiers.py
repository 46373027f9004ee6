"""action_tier_benefits: the member's tier, growth value, gap to the next tier and benefits."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import texts
from actions.base import MemberServiceAction, Turn
from personalization.services import tiers


class ActionTierBenefits(MemberServiceAction):
    def name(self) -> str:
        return "action_tier_benefits"

    def respond(self, turn: Turn) -> list[EventType]:
        status = tiers.tier_status(session=turn.session, member_id=turn.member_id) if turn.member_id else None
        if status is None:
            every_tier = tiers.all_tiers(session=turn.session)
            turn.say(
                "utter_tier_overview",
                rows=texts.tier_overview_lines(every_tier, turn.lang),
                payload={"type": "tier", "tiers": every_tier},
            )
            turn.invite_login()
            return []
        tier_name = texts.tier_name(status["tier"], turn.lang)
        # "再消费¥320升级为金卡会员": the spend still needed in the rolling 12-month window.
        progress = str(status.get(f"progress_{turn.lang}") or "")
        if not progress and status.get("next_tier"):
            progress = turn.text(
                "utter_tier_next", gap=status["gap_to_next"], next_tier=texts.tier_name(status["next_tier"], turn.lang)
            )
        elif not progress:
            progress = turn.text("utter_tier_top")
        turn.say(
            "utter_tier_status",
            tier=tier_name,
            growth_value=status["growth_value"],
            rows=[
                progress,
                turn.text("utter_tier_benefits", tier=tier_name),
                *texts.benefit_lines(status["tier"], turn.lang),
            ],
            payload={"type": "tier", **status},
        )
        return []
