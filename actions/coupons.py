"""action_show_coupons: the member's usable coupons, coupons picked for them to claim, and claims.

A claim button sends ``/ask_coupons{"coupon_template": "<id>"}``; the same action then claims
that coupon (atomically, see ``personalization.services.coupons.claim_coupon``) and says how it went.
"""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import context, runtime, texts
from actions.base import MemberServiceAction, Turn
from personalization import coupon_offers
from personalization.services import coupons

OFFERS_SHOWN = 3


class ActionShowCoupons(MemberServiceAction):
    def name(self) -> str:
        return "action_show_coupons"

    def respond(self, turn: Turn) -> list[EventType]:
        if turn.member_id is None:
            turn.say("utter_coupons_anonymous")
            turn.invite_login()
            return []
        template_id = context.coupon_template(turn.tracker)
        if template_id:
            _claim(turn, template_id)
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
        offers = coupon_offers.offers_for_member(session=turn.session, member_id=turn.member_id, limit=OFFERS_SHOWN)
        if offers:
            turn.say(
                "utter_coupon_offers",
                rows=texts.offer_lines(offers, turn.lang),
                payload={"type": "coupon_offers", "items": offers},
                buttons=texts.claim_buttons(offers, turn.lang),
            )
        return []


def _claim(turn: Turn, template_id: str) -> None:
    result = coupons.claim_coupon(bind=runtime.session_factory(), member_id=turn.member_id, template_id=template_id)
    message = str(result.get(f"message_{turn.lang}") or result.get("message_zh") or "")
    payload = {"type": "coupon_claim", "status": result["status"], "template_id": result.get("template_id")}
    if result.get("coupon"):
        payload["coupon"] = result["coupon"]
    turn.say("utter_coupon_claim_result", message=message, payload=payload)
