"""Helpers shared by the service modules: formatting, catalog look-ups, a member's history."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.catalog_data import BRANDS, CATEGORIES, Brand, Category
from personalization.models import BrowseEvent, Member, Order, OrderItem, Product

CATEGORY_BY_KEY: dict[str, Category] = {c.key: c for c in CATEGORIES}
BRAND_BY_KEY: dict[str, Brand] = {b.key: b for b in BRANDS}

# Recency weighting of a member's history: an order counts half after ORDER_HALF_LIFE_DAYS,
# a browse event after BROWSE_HALF_LIFE_DAYS (browsing says more about today's intent, and fades faster).
ORDER_HALF_LIFE_DAYS = 120.0
BROWSE_HALF_LIFE_DAYS = 21.0
BROWSE_KIND_WEIGHT = {"view": 0.2, "favorite": 0.4, "cart": 0.5}
RECENT_BROWSE_DAYS = 30

_CATEGORY_ALIASES: dict[str, str] = {}
for _c in CATEGORIES:
    for _alias in (_c.key, _c.zh, _c.en, *_c.synonyms):
        _CATEGORY_ALIASES.setdefault(_alias.casefold(), _c.key)
_BRAND_ALIASES: dict[str, str] = {}
for _b in BRANDS:
    for _alias in (_b.key, _b.zh, _b.en):
        _BRAND_ALIASES.setdefault(_alias.casefold(), _b.key)


MEMBER_ID_PATTERN = re.compile(r"^M\d{6,12}$")


def normalize_member_id(member_id: object) -> str | None:
    """``" m100001 "`` -> ``"M100001"``; None for anything that cannot be a member id."""
    if not isinstance(member_id, str):
        return None
    candidate = member_id.strip().upper()
    return candidate if MEMBER_ID_PATTERN.match(candidate) else None


def find_member(*, session: Session, member_id: object) -> Member | None:
    """The member with this (normalised) id; None for unknown or malformed ids."""
    normalized = normalize_member_id(member_id)
    return session.get(Member, normalized) if normalized else None


def resolve_now(now: datetime | None) -> datetime:
    """The reference instant: ``now`` if given, else the current local time (naive, like the store)."""
    return now if now is not None else datetime.now().replace(microsecond=0)


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601 text of a date or datetime (seconds precision), or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def money(value: Decimal | float | int | None) -> float:
    """Yuan as a float rounded to fen."""
    return round(float(value or 0), 2)


def yuan_text(value: Decimal | float | int) -> str:
    """``300`` for whole yuan, ``12.50`` otherwise."""
    amount = round(float(value), 2)
    return f"{amount:.0f}" if amount == int(amount) else f"{amount:.2f}"


def normalize_category(text: str | None) -> str | None:
    """A category key for a key, Chinese or English name or synonym (case-insensitive), else None."""
    if text is None:
        return None
    return _CATEGORY_ALIASES.get(str(text).strip().casefold())


def normalize_brand(text: str | None) -> str | None:
    """A brand key for a key, Chinese or English brand name (case-insensitive), else None."""
    if text is None:
        return None
    return _BRAND_ALIASES.get(str(text).strip().casefold())


def category_labels(key: str | None) -> tuple[str | None, str | None]:
    """(Chinese, English) name of a category key; (None, None) for None or an unknown key."""
    category = CATEGORY_BY_KEY.get(key) if key else None
    return (category.zh, category.en) if category else (None, None)


def decay(age_days: float, half_life_days: float) -> float:
    """Exponential recency weight: 1 today, 0.5 after one half-life."""
    return math.pow(0.5, max(age_days, 0.0) / half_life_days)


@dataclass
class MemberHistory:
    """What a member's orders and browsing say about their interests, as of one instant."""

    category_scores: dict[str, float] = field(default_factory=dict)
    brand_scores: dict[str, float] = field(default_factory=dict)
    category_order_counts: Counter[str] = field(default_factory=Counter)
    recent_browse_categories: set[str] = field(default_factory=set)
    bought_skus: set[str] = field(default_factory=set)

    def category_shares(self) -> dict[str, float]:
        """Category scores normalised to sum to 1."""
        total = sum(self.category_scores.values())
        return {k: v / total for k, v in self.category_scores.items()} if total > 0 else {}

    def brand_shares(self) -> dict[str, float]:
        """Brand scores relative to the member's favourite brand (which gets 1)."""
        top = max(self.brand_scores.values(), default=0.0)
        return {k: v / top for k, v in self.brand_scores.items()} if top > 0 else {}


def load_history(*, session: Session, member_id: str, now: datetime) -> MemberHistory:
    """Recency-weighted category and brand interest from the member's orders and browse events.

    Cancelled orders and anything after ``now`` are ignored. Each ordered line counts once
    (buying ten cans of cat food is not ten times the interest).
    """
    history = MemberHistory()
    ordered = session.execute(
        select(Order.created_at, OrderItem.sku, Product.category, Product.brand)
        .join(OrderItem, OrderItem.order_id == Order.order_id)
        .join(Product, Product.sku == OrderItem.sku)
        .where(Order.member_id == member_id, Order.status != "cancelled", Order.created_at <= now)
    ).all()
    for created_at, sku, category, brand in ordered:
        weight = decay((now - created_at).total_seconds() / 86400, ORDER_HALF_LIFE_DAYS)
        history.category_scores[category] = history.category_scores.get(category, 0.0) + weight
        history.brand_scores[brand] = history.brand_scores.get(brand, 0.0) + weight
        history.category_order_counts[category] += 1
        history.bought_skus.add(sku)

    browsed = session.execute(
        select(BrowseEvent.at, BrowseEvent.kind, Product.category, Product.brand)
        .join(Product, Product.sku == BrowseEvent.sku)
        .where(BrowseEvent.member_id == member_id, BrowseEvent.at <= now)
    ).all()
    for at, kind, category, brand in browsed:
        age_days = (now - at).total_seconds() / 86400
        weight = BROWSE_KIND_WEIGHT.get(kind, 0.2) * decay(age_days, BROWSE_HALF_LIFE_DAYS)
        history.category_scores[category] = history.category_scores.get(category, 0.0) + weight
        history.brand_scores[brand] = history.brand_scores.get(brand, 0.0) + 0.5 * weight
        if age_days <= RECENT_BROWSE_DAYS:
            history.recent_browse_categories.add(category)
    return history
