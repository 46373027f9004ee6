"""action_recommend_products: exactly what recommend_for_member returns, as product cards.

Filters come from Rasa's entities (category, brand) and, for what Rasa does not extract, from the
catalog parser (``personalization.catalog_nlu``: prices like "三百块以内", brands and categories in
phrasings Rasa never saw). Within a conversation nothing is shown twice: "换一批" / "show more"
(or the 换一批 button) pages on with the same filters. Members are then asked whether to check
their coupons too (rules: affirm → action_show_coupons).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk.events import EventType, SlotSet

from actions import context, texts
from actions.base import MemberServiceAction, Turn
from personalization.catalog_nlu import get_catalog_parser
from personalization.services import recommendations

logger = logging.getLogger(__name__)

SHOWN_SLOT = "recommended_skus"
FILTERS_SLOT = "recommendation_filters"
# Remember at most this many shown products (a long conversation must not grow the slot forever).
MAX_REMEMBERED = 60
MORE_BUTTON_PAYLOAD = "/ask_recommendation"
_MORE = re.compile(
    r"换一批|换一换|再来|再推荐|更多|别的|其他|其它|\bmore\b|\bother\b|\belse\b|\banother\b", re.IGNORECASE
)
_FILTER_KEYS = ("category", "brand", "price_min", "price_max", "keywords")


class ActionRecommendProducts(MemberServiceAction):
    def name(self) -> str:
        return "action_recommend_products"

    def respond(self, turn: Turn) -> list[EventType]:
        asked = _asked_filters(turn)
        previous = turn.tracker.get_slot(FILTERS_SLOT)
        shown = [str(sku) for sku in (turn.tracker.get_slot(SHOWN_SLOT) or []) if isinstance(sku, str)]
        if not any(asked.values()) and _wants_more(turn) and isinstance(previous, dict):
            asked = {key: previous.get(key) for key in _FILTER_KEYS}
        items = recommendations.recommend_for_member(
            session=turn.session,
            member_id=turn.member_id,
            k=turn.settings.recommend_k,
            exclude_skus=shown,
            settings=turn.settings,
            **asked,
        )
        if not items:
            turn.say("utter_recommend_empty_seen" if shown and _wants_more(turn) else "utter_recommend_empty")
        else:
            response, values = _intro(turn, asked)
            turn.say(
                response,
                rows=texts.product_lines(items, turn.lang),
                payload={"type": "product_cards", "items": items, "filters": asked},
                buttons=[{"title": "Show more" if turn.lang == "en" else "换一批", "payload": MORE_BUTTON_PAYLOAD}],
                **values,
            )
        if turn.member is None:
            turn.invite_login()
        elif items:
            # Members only: a visitor has no coupons of their own to look at.
            turn.say("utter_offer_coupons")
        remembered = (shown + [item["sku"] for item in items])[-MAX_REMEMBERED:]
        return [SlotSet(SHOWN_SLOT, remembered), SlotSet(FILTERS_SLOT, asked)]


def _wants_more(turn: Turn) -> bool:
    text = context.latest_text(turn.tracker)
    return text.startswith(MORE_BUTTON_PAYLOAD) or bool(_MORE.search(text))


def _asked_filters(turn: Turn) -> dict[str, Any]:
    """Category and brand from Rasa's entities first, then whatever the catalog parser finds."""
    category, brand = context.category(turn.tracker), context.brand(turn.tracker)
    price_min = price_max = None
    keywords: list[str] = []
    text = context.latest_text(turn.tracker)
    if text and not text.startswith("/"):
        try:
            parsed = get_catalog_parser().parse(text, language=turn.lang)
        except (ValueError, TypeError) as exc:  # never let a parse problem cost the member an answer
            logger.warning("catalog parser could not read the message: %s", exc)
        else:
            category = category or parsed.category
            brand = brand or parsed.brand
            price_min = float(parsed.price_min) if parsed.price_min is not None else None
            price_max = float(parsed.price_max) if parsed.price_max is not None else None
            keywords = list(parsed.keywords)
    return {"category": category, "brand": brand, "price_min": price_min, "price_max": price_max, "keywords": keywords}


def _intro(turn: Turn, asked: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The sentence above the list: filtered, best sellers (visitors, opted out) or personal."""
    category, brand, keywords = asked.get("category"), asked.get("brand"), asked.get("keywords") or []
    price = texts.price_range(asked.get("price_min"), asked.get("price_max"), turn.lang)
    if category or brand or price or keywords:
        # What the member said ("耳机") reads better than its category ("数码").
        what = ("、" if turn.lang == "zh" else "/").join(keywords) if keywords else ""
        names = [
            price,
            texts.brand_name(brand, turn.lang) if brand else "",
            what or (texts.category_name(category, turn.lang) if category else ""),
        ]
        return "utter_recommend_filtered", {"filter": (" " if turn.lang == "en" else "").join(n for n in names if n)}
    if turn.member is None:
        return "utter_recommend_bestsellers", {}
    if not turn.member.consent_personalization:
        return "utter_recommend_opted_out", {}
    return "utter_recommend_personal", {"name": turn.member.name}
