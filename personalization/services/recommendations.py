"""Product recommendations: the member's favourite categories first, best sellers otherwise.

First version, rule based: a product's score is the member's recency-weighted interest in its
category (orders and browsing) times its popularity (orders in the last 90 days), with a small
lift for brands the member already likes. Only products in stock that the member has not bought
are suggested. Members who opted out of personalization, unknown members and anonymous visitors
get the same non-personal best-seller list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Order, OrderItem, Product
from personalization.services._common import (
    BRAND_BY_KEY,
    MemberHistory,
    category_labels,
    find_member,
    load_history,
    money,
    normalize_brand,
    normalize_category,
    resolve_now,
)

MAX_K = 50
POPULARITY_DAYS = 90
# Orders that did not end in a sale do not make a product popular.
_NOT_SOLD = ("cancelled", "returned")
# score = category share x (POP_FLOOR + (1 - POP_FLOOR) x popularity) x (1 + BRAND_LIFT x brand share)
POP_FLOOR = 0.3
BRAND_LIFT = 0.3

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


def _candidates(session: Session, now: datetime, category: str | None, brand: str | None) -> list[Product]:
    query = select(Product).where(Product.stock > 0, Product.launched_at <= now)
    if category:
        query = query.where(Product.category == category)
    if brand:
        query = query.where(Product.brand == brand)
    return list(session.scalars(query.order_by(Product.sku)))


def _card(product: Product, score: float, reason: tuple[str, str]) -> dict[str, Any]:
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
    }


def _best_seller_cards(products: list[Product], popularity: _Popularity, k: int) -> list[dict[str, Any]]:
    ranked = sorted(products, key=lambda p: popularity.rank_key(p.sku))[:k]
    return [_card(p, popularity.normalized(p.sku), BEST_SELLER_REASON) for p in ranked]


def _personal_reason(history: MemberHistory, category: str) -> tuple[str, str]:
    name_zh, name_en = category_labels(category)
    bought = history.category_order_counts.get(category, 0)
    if bought >= 2:
        return (f"因为你常买{name_zh}", f"Because you often buy {name_en}")
    if bought == 1:
        return (f"因为你买过{name_zh}", f"Because you bought {name_en} before")
    return ("你最近浏览过同类商品", "You recently viewed similar items")


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
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Non-personal best sellers in stock, optionally within a category and/or brand.

    Args:
        session: the caller's session.
        k: how many (0..50).
        category: a category key (or its Chinese/English name or a synonym).
        brand: a brand key (or its Chinese/English name).
        now: reference instant (default: now).

    Returns:
        Product cards (see :func:`recommend_for_member`); empty when the filter matches nothing.
    """
    request = _resolve_request(k, category, brand)
    if request is None:
        return []
    k, category_key, brand_key = request
    now = resolve_now(now)
    products = _candidates(session, now, category_key, brand_key)
    return _best_seller_cards(products, _popularity(session, now), k)


def recommend_for_member(
    *,
    session: Session,
    member_id: str | None,
    k: int = 5,
    category: str | None = None,
    brand: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Up to ``k`` products for this member, best first.

    Products from the member's favourite categories (in stock, not bought before), ranked by
    interest x popularity; if those run out, best sellers the member has not bought fill the
    list. Anonymous or unknown members and members who opted out of personalization get
    :func:`best_sellers`. Ties are broken by SKU, so the same data give the same list.

    Args:
        session: the caller's session.
        member_id: the member's id, or None for an anonymous visitor.
        k: how many (0..50; larger values are capped at 50).
        category: only this category (key, name or synonym); an unknown category gives [].
        brand: only this brand (key or name); an unknown brand gives [].
        now: reference instant (default: now).

    Returns:
        ``[{"sku", "title_zh", "title_en", "category", "category_zh", "category_en", "brand",
        "brand_zh", "brand_en", "price", "score", "reason_zh", "reason_en"}]``.
    """
    member = find_member(session=session, member_id=member_id) if member_id else None
    if member is None or not member.consent_personalization:
        return best_sellers(session=session, k=k, category=category, brand=brand, now=now)
    request = _resolve_request(k, category, brand)
    if request is None:
        return []
    k, category_key, brand_key = request
    now = resolve_now(now)
    history = load_history(session=session, member_id=member.member_id, now=now)
    popularity = _popularity(session, now)
    products = [p for p in _candidates(session, now, category_key, brand_key) if p.sku not in history.bought_skus]

    shares = history.category_shares()
    brand_shares = history.brand_shares()
    scored = []
    for product in products:
        share = shares.get(product.category, 0.0)
        if share <= 0:
            continue
        score = (
            share
            * (POP_FLOOR + (1 - POP_FLOOR) * popularity.normalized(product.sku))
            * (1 + BRAND_LIFT * brand_shares.get(product.brand, 0.0))
        )
        scored.append((round(score, 6), product))
    scored.sort(key=lambda sp: (-sp[0], sp[1].sku))
    cards = [_card(p, s, _personal_reason(history, p.category)) for s, p in scored[:k]]

    if len(cards) < k:
        chosen = {c["sku"] for c in cards}
        rest = [p for p in products if p.sku not in chosen]
        cards.extend(_best_seller_cards(rest, popularity, k - len(cards)))
    return cards
