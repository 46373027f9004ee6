"""action_show_coupons: the member's usable coupons, soonest expiry first."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import texts
from actions.base import MemberServiceAction, Turn
from personalization.services import coupons


class ActionShowCoupons(MemberServiceAction):
    def name(self) -> str:
        return "action_show_coupons"

    def respond(self, turn: Turn) -> list[EventType]:
        if turn.member_id is None:
            turn.say("utter_coupons_anonymous")
            turn.invite_login()
            return []
        usable = coupons.usable_coupons(session=turn.session, member_id=turn.member_id)
        if not usable:
            turn.say("utter_coupons_none")
        else:
            turn.say(
                "utter_coupons_list",
                count=len(usable),
                rows=texts.coupon_lines(usable, turn.lang),
                payload={"type": "coupon_cards", "items": usable},
            )
        return []
