"""action_order_status: one order's status and latest shipping event (the named one, else the latest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rasa_sdk.events import EventType

from actions import context, texts
from actions.base import MemberServiceAction, Turn
from personalization.services import orders


class ActionOrderStatus(MemberServiceAction):
    def name(self) -> str:
        return "action_order_status"

    def respond(self, turn: Turn) -> list[EventType]:
        if turn.member_id is None:
            turn.say("utter_order_anonymous")
            turn.invite_login()
            return []
        order_id = context.order_id(turn.tracker)
        if order_id:
            # None also for another member's order: the answer must not tell the two apart.
            order = orders.get_order(session=turn.session, member_id=turn.member_id, order_id=order_id)
            if order is None:
                turn.say("utter_order_not_found", order_id=order_id)
                return []
        else:
            latest = orders.latest_orders(session=turn.session, member_id=turn.member_id, limit=1)
            if not latest:
                turn.say("utter_order_none")
                return []
            order = latest[0]
        self._present(turn, order, anxious=context.is_anxious(turn.tracker))
        return []

    @staticmethod
    def _present(turn: Turn, order: Mapping[str, Any], *, anxious: bool) -> None:
        lang = turn.lang
        status = {
            "order_id": order["order_id"],
            "date": texts.date(order.get("created_at")),
            "status": texts.pick(order, "status", lang),
        }
        event = order.get("latest_event") or (list(order.get("timeline") or []) or [None])[-1]
        rows: list[str] = []
        if event:
            rows.append(
                turn.text(
                    "utter_order_latest_event",
                    time=texts.date_time(event.get("at")),
                    event=texts.pick(event, "description", lang),
                )
            )
        carrier = (order.get("carrier_en") if lang == "en" else None) or order.get("carrier")
        if carrier and order.get("tracking_no"):
            rows.append(turn.text("utter_order_tracking", carrier=carrier, tracking_no=order["tracking_no"]))
        payload = {"type": "order", "order": dict(order)}
        if anxious:
            # A worried member reads the newest shipping event first, then the status.
            rows.append(turn.text("utter_order_status", **status))
            turn.say("utter_order_anxious", order_id=order["order_id"], rows=rows, payload=payload)
        else:
            turn.say(
                "utter_order_status", rows=[*rows, *texts.order_item_lines(order, lang)], payload=payload, **status
            )
