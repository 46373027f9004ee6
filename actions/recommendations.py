"""action_recommend_products: exactly what recommend_for_member returns, as product cards.

Members are then asked whether to check their coupons too (rules: affirm → action_show_coupons).
"""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import context, texts
from actions.base import MemberServiceAction, Turn
from personalization.services import recommendations


class ActionRecommendProducts(MemberServiceAction):
    def name(self) -> str:
        return "action_recommend_products"

    def respond(self, turn: Turn) -> list[EventType]:
        category, brand = context.category(turn.tracker), context.brand(turn.tracker)
        items = recommendations.recommend_for_member(
            session=turn.session,
            member_id=turn.member_id,
            k=turn.settings.recommend_k,
            category=category,
            brand=brand,
        )
        if not items:
            turn.say("utter_recommend_empty")
        else:
            response, values = _intro(turn, category, brand)
            turn.say(
                response,
                rows=texts.product_lines(items, turn.lang),
                payload={"type": "product_cards", "items": items},
                **values,
            )
        if turn.member is None:
            turn.invite_login()
        elif items:
            # Members only: a visitor has no coupons of their own to look at.
            turn.say("utter_offer_coupons")
        return []


def _intro(turn: Turn, category: str | None, brand: str | None) -> tuple[str, dict[str, str]]:
    """The sentence above the list: filtered, best sellers (visitors, opted out) or personal."""
    if category or brand:
        names = [
            texts.brand_name(brand, turn.lang) if brand else "",
            texts.category_name(category, turn.lang) if category else "",
        ]
        return "utter_recommend_filtered", {"filter": (" " if turn.lang == "en" else "").join(n for n in names if n)}
    if turn.member is None:
        return "utter_recommend_bestsellers", {}
    if not turn.member.consent_personalization:
        return "utter_recommend_opted_out", {}
    return "utter_recommend_personal", {"name": turn.member.name}
