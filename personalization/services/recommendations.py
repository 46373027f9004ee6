"""Product recommendations for the shop: the hybrid recommender plus the shop's own rules.

Members who allow personalization get the ranking of :mod:`personalization.shop_recommender`
(collaborative filtering, content similarity, recency, trending), filtered by stock, launch
date, the asked category/brand/price and what they bought recently, diversified across
categories, each product with its reason (因为你买过… / 同类会员喜欢 / 新品 / 热销). Members who opted
out, unknown members and anonymous visitors get the same non-personal best-seller list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Order, OrderItem, Product
from personalization.recommender import HybridRecommender, diversify, reason_text
from personalization.services._common import (
    BRAND_BY_KEY,
    category_labels,
    find_member,
    money,
    normalize_brand,
    normalize_category,
    resolve_now,
)
from personalization.settings import Settings
from personalization.shop_recommender import shop_model

MAX_K = 50
# A product bought within this many days is not suggested again.
REBUY_DAYS = 90
# Without a category filter, at most this many products of one category in a list.
MAX_PER_CATEGORY = 2
POPULARITY_DAYS = 90
# Orders that did not end in a sale do not make a product popular.
_NOT_SOLD = ("cancelled", "returned")

BEST_SELLER_REASON = ("热销商品", "Best seller")


@dataclass(frozen=True)
class _Popularity:
    recent: dict[str, int]
    all_time: dict[str, int]

    @property
    def max_recent(self) -> int:
        return max(self.recent.values(), default=0)

    def normalized(self, sku: str) -> float:
        """log-scaled recent sales, 1 for the best seller, 0 for none."""
        top = self.max_recent
        return math.log1p(self.recent.get(sku, 0)) / math.log1p(top) if top else 0.0

    def rank_key(self, sku: str) -> tuple[int, int, str]:
        return (-self.recent.get(sku, 0), -self.all_time.get(sku, 0), sku)


def _popularity(session: Session, now: datetime) -> _Popularity:
    # Recent sales: driven from the orders' created_at index, so the cost follows the window, not the history.
    sold_recently = select(Order.order_id).where(
        Order.created_at > now - timedelta(days=POPULARITY_DAYS),
        Order.created_at <= now,
        Order.status.not_in(_NOT_SOLD),
    )
    recent = session.execute(
        select(OrderItem.sku, func.count()).where(OrderItem.order_id.in_(sold_recently)).group_by(OrderItem.sku)
    )
    # Tie-break: how often each product was ever ordered (an index-only count).
    all_time = session.execute(select(OrderItem.sku, func.count()).group_by(OrderItem.sku))
    return _Popularity(recent={sku: int(n) for sku, n in recent}, all_time={sku: int(n) for sku, n in all_time})


def _candidates(
    session: Session,
    now: datetime,
    category: str | None,
    brand: str | None,
    price_min: Decimal | float | None = None,
    price_max: Decimal | float | None = None,
    keywords: Collection[str] = (),
) -> list[Product]:
    query = select(Product).where(Product.stock > 0, Product.launched_at <= now)
    if category:
        query = query.where(Product.category == category)
    if brand:
        query = query.where(Product.brand == brand)
    if price_min is not None:
        query = query.where(Product.price >= Decimal(str(price_min)))
    if price_max is not None:
        query = query.where(Product.price <= Decimal(str(price_max)))
    products = list(session.scalars(query.order_by(Product.sku)))
    return [p for p in products if _mentions_any(p, keywords)] if keywords else products


def _mentions_any(product: Product, keywords: Collection[str]) -> bool:
    """Whether a keyword the member used ("耳机", "earbuds") is in the product's titles or tags."""
    haystack = " ".join([product.title_zh, product.title_en, *(product.tags or [])]).lower()
    return any(word.strip().lower() in haystack for word in keywords if word.strip())


def _card(product: Product, score: float, reason: tuple[str, ...]) -> dict[str, Any]:
    category_zh, category_en = category_labels(product.category)
    brand = BRAND_BY_KEY.get(product.brand)
    return {
        "sku": product.sku,
        "title_zh": product.title_zh,
        "title_en": product.title_en,
        "category": product.category,
        "category_zh": category_zh,
        "category_en": category_en,
        "brand": product.brand,
        "brand_zh": brand.zh if brand else product.brand,
        "brand_en": brand.en if brand else product.brand,
        "price": money(product.price),
        "score": round(score, 4),
        "reason_zh": reason[0],
        "reason_en": reason[1],
        "reason": reason[2] if len(reason) > 2 else "popular",
    }


def _best_seller_cards(products: list[Product], popularity: _Popularity, k: int) -> list[dict[str, Any]]:
    ranked = sorted(products, key=lambda p: popularity.rank_key(p.sku))[:k]
    return [_card(p, popularity.normalized(p.sku), BEST_SELLER_REASON) for p in ranked]


def _resolve_request(k: int, category: str | None, brand: str | None) -> tuple[int, str | None, str | None] | None:
    """``k`` capped to 0..50 and the filters as keys; None when nothing can match."""
    k = max(0, min(int(k), MAX_K))
    category_key = normalize_category(category) if category else None
    brand_key = normalize_brand(brand) if brand else None
    if k == 0 or (category and not category_key) or (brand and not brand_key):
        return None
    return k, category_key, brand_key


def best_sellers(
    *,
    session: Session,
    k: int = 5,
    category: str | None = None,
    brand: str | None = None,
    price_min: Decimal | float | None = None,
    price_max: Decimal | float | None = None,
    keywords: Collection[str] = (),
    exclude_skus: Collection[str] = (),
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Non-personal best sellers in stock, optionally within a category, brand and price range.

    Args:
        session: the caller's session.
        k: how many (0..50).
        category: a category key (or its Chinese/English name or a synonym).
        brand: a brand key (or its Chinese/English name).
        price_min, price_max: price range in yuan (inclusive); either may be None.
        keywords: words the member asked for ("耳机"); products must mention one in a title or tag.
        exclude_skus: products not to show again.
        now: reference instant (default: now).

    Returns:
        Product cards (see :func:`recommend_for_member`); empty when the filter matches nothing.
    """
    request = _resolve_request(k, category, brand)
    if request is None:
        return []
    k, category_key, brand_key = request
    now = resolve_now(now)
    excluded = set(exclude_skus)
    products = [
        p for p in _candidates(session, now, category_key, brand_key, price_min, price_max, keywords)
        if p.sku not in excluded
    ]
    return _best_seller_cards(products, _popularity(session, now), k)


def recommend_for_member(
    *,
    session: Session,
    member_id: str | None,
    k: int = 5,
    category: str | None = None,
    brand: str | None = None,
    price_min: Decimal | float | None = None,
    price_max: Decimal | float | None = None,
    keywords: Collection[str] = (),
    exclude_skus: Collection[str] = (),
    now: datetime | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Up to ``k`` products for this member, best first, each with the reason it was picked.

    The shop's hybrid recommender (:mod:`personalization.shop_recommender`: collaborative
    filtering + content similarity + recency + trending) ranks every product for the member;
    then the shop's rules apply: in stock and launched, within the asked category, brand and
    price range, not bought in the last :data:`REBUY_DAYS` days, not in ``exclude_skus`` (what
    the member has already been shown: "换一批" pages on without repeats), and at most
    :data:`MAX_PER_CATEGORY` products of one category when no category was asked for. Best
    sellers fill the list if the rules leave too few. Anonymous or unknown members and members
    who opted out of personalization get :func:`best_sellers` (nothing personal is read).

    Args:
        session: the caller's session.
        member_id: the member's id, or None for an anonymous visitor.
        k: how many (0..50; larger values are capped at 50).
        category: only this category (key, name or synonym); an unknown category gives [].
        brand: only this brand (key or name); an unknown brand gives [].
        price_min, price_max: price range in yuan (inclusive); either may be None.
        keywords: words the member asked for ("耳机"); products must mention one in a title or
            tag (a member asking for earbuds under ¥300 gets earbuds or nothing, not chargers).
        exclude_skus: products not to show again.
        now: reference instant (default: now).
        settings: where the trained model is saved (default: fit one from the session's data).

    Returns:
        ``[{"sku", "title_zh", "title_en", "category", "category_zh", "category_en", "brand",
        "brand_zh", "brand_en", "price", "score", "reason_zh", "reason_en", "reason"}]``.
    """
    member = find_member(session=session, member_id=member_id) if member_id else None
    if member is None or not member.consent_personalization:
        return best_sellers(session=session, k=k, category=category, brand=brand, price_min=price_min,
                            price_max=price_max, keywords=keywords, exclude_skus=exclude_skus, now=now)
    request = _resolve_request(k, category, brand)
    if request is None:
        return []
    k, category_key, brand_key = request
    now = resolve_now(now)
    excluded = set(exclude_skus) | _recently_bought(session, member.member_id, now)
    products = {
        p.sku: p
        for p in _candidates(session, now, category_key, brand_key, price_min, price_max, keywords)
        if p.sku not in excluded
    }
    if not products:
        return []
    model = shop_model(session, settings)
    ranked = [(sku, score) for sku, score in model.recommend(member.member_id, k=len(model.item_ids_),
                                                             exclude_seen=False) if sku in products]
    cap = k if category_key else MAX_PER_CATEGORY
    chosen = diversify(ranked, {sku: products[sku].category for sku, _ in ranked}, max_per_category=cap, k=k)
    cards = [_card(products[sku], score, _reason(model, member.member_id, sku, session)) for sku, score in chosen]
    if len(cards) < k:
        shown = {card["sku"] for card in cards}
        rest = [p for sku, p in products.items() if sku not in shown]
        cards.extend(_best_seller_cards(rest, _popularity(session, now), k - len(cards)))
    return cards


def _recently_bought(session: Session, member_id: str, now: datetime) -> set[str]:
    bought = session.scalars(
        select(OrderItem.sku)
        .join(Order, Order.order_id == OrderItem.order_id)
        .where(Order.member_id == member_id, Order.status != "cancelled",
               Order.created_at > now - timedelta(days=REBUY_DAYS), Order.created_at <= now)
    )
    return set(bought)


def _reason(model: HybridRecommender, member_id: str, sku: str, session: Session) -> tuple[str, str, str]:
    """(Chinese, English, code): 因为你买过「…」 / 同类会员喜欢 / 新品 / 热销."""
    explanation = model.explain(member_id, sku)

    def title(lang: str) -> Callable[[str], str]:
        def of(item: str) -> str:
            product = session.get(Product, item)
            return (product.title_zh if lang == "zh" else product.title_en) if product else item
        return of

    return reason_text(explanation, title("zh"))[0], reason_text(explanation, title("en"))[1], explanation.reason
