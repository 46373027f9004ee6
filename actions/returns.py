"""action_request_return: the 7-day return policy, and a recorded return for an eligible order."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import context, texts
from actions.base import MemberServiceAction, Turn
from personalization.services import orders, requests

# How many recent orders the member may pick from when no order number was given.
CHOICES = 3


class ActionRequestReturn(MemberServiceAction):
    def name(self) -> str:
        return "action_request_return"

    def respond(self, turn: Turn) -> list[EventType]:
        if turn.member_id is None:
            turn.say("utter_return_policy")
            turn.invite_login()
            return []
        order_id = context.order_id(turn.tracker)
        if order_id is None:
            self._offer_orders(turn)
            return []
        if orders.get_order(session=turn.session, member_id=turn.member_id, order_id=order_id) is None:
            turn.say("utter_order_not_found", order_id=order_id)
            return []
        result = requests.record_return(
            session=turn.session, member_id=turn.member_id, order_id=order_id, reason=context.latest_text(turn.tracker)
        )
        if result.get("eligible"):
            turn.say(
                "utter_return_recorded", order_id=result.get("order_id", order_id), request_id=result.get("request_id")
            )
        else:
            turn.say(
                "utter_return_not_eligible",
                order_id=order_id,
                # The template adds its own full stop.
                reason=(texts.pick(result, "reason", turn.lang) or texts.pick(result, "policy", turn.lang)).rstrip(
                    "。. "
                ),
            )
        return []

    @staticmethod
    def _offer_orders(turn: Turn) -> None:
        recent = orders.latest_orders(session=turn.session, member_id=turn.member_id, limit=CHOICES)
        turn.say("utter_return_policy")
        if not recent:
            turn.say("utter_return_no_orders")
            return
        turn.say(
            "utter_return_choose_order",
            buttons=[texts.order_button(order, turn.lang, "我要退货，订单号", "return order") for order in recent],
        )
