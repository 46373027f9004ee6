"""action_points_balance: the points balance (the profile's figure) and what expires soon."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import texts
from actions.base import MemberServiceAction, Turn
from personalization.services import points


class ActionPointsBalance(MemberServiceAction):
    def name(self) -> str:
        return "action_points_balance"

    def respond(self, turn: Turn) -> list[EventType]:
        summary = (
            points.points_summary(
                session=turn.session,
                member_id=turn.member_id,
                warning_days=turn.settings.points_expiry_warning_days,
            )
            if turn.member_id
            else None
        )
        if summary is None:
            turn.say("utter_points_anonymous")
            turn.invite_login()
            return []
        expiring = summary.get("expiring") or []
        if expiring:
            rows = [
                turn.text("utter_points_expiring", points=sum(int(lot["points"]) for lot in expiring)),
                *texts.points_lot_lines(expiring, turn.lang),
            ]
        else:
            rows = [turn.text("utter_points_no_expiry")]
        turn.say("utter_points_balance", points=summary["balance"], rows=rows, payload={"type": "points", **summary})
        return []
