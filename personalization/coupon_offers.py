"""Personalised coupon offers: which templates to show a member, and why.

Ranking, for members who allow personalization:

1. occasion coupons the member qualifies for: new-member welcome (registered within 30 days),
   birthday month, win-back (no order in 90+ days);
2. the member's own tier coupon;
3. general coupons (audience ``all``) by score: a category coupon scores by the member's
   recency-weighted interest in the category (orders and browsing,
   :func:`personalization.services._common.load_history`; categories below
   :data:`MIN_CATEGORY_SHARE` of their interest are not offered), a store-wide coupon a flat
   :data:`STORE_WIDE_SCORE`; scaled by *reach* (a minimum spend far above the member's typical
   order counts less) and, for price-sensitive members (who often use coupons or buy budget
   items), by how much the coupon saves.

Members who opted out of personalization get only coupons open to everyone (audience ``all``),
ranked the same for all of them, with no history read. Unknown or anonymous members get nothing.

Fairness: the member is read only through :class:`personalization.coupon_rules.MemberFacts`
(tier, registration date, birth month, consent, last order date) and their orders and browsing:
never gender, age or birth year. Offer values come from the templates alone.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.coupon_rules import (
    MemberFacts,
    audience_admits,
    coupon_valid_until,
    load_member_facts,
    period_key,
    stock_left,
    window_state,
)
from personalization.models import Coupon, CouponTemplate, Order, OrderItem
from personalization.services._common import category_labels, iso, load_history, resolve_now
from personalization.services.coupons import template_terms

MAX_OFFERS = 20
MIN_CATEGORY_SHARE = 0.10  # a category coupon needs at least this share of the member's interest
COUPON_SAVVY_RATE = 0.2  # price-sensitive: uses a coupon on at least this share of orders ...
BUDGET_ITEM_PRICE = 80.0  # ... or typically buys items at or under this price (yuan)
REACH_STRETCH = 1.5  # a minimum spend up to 1.5x the typical order is within reach

OCCASION_SCORE = 3.0
TIER_SCORE = 2.0
STORE_WIDE_SCORE = 1.0
# Occasion coupons come first, then the tier's, then general coupons by score.
REASON_RANK = {"new_member": 0, "birthday": 0, "winback": 0, "tier": 1}

# reason code -> (Chinese, English); {zh}/{en} are filled with a category or tier name.
REASONS: dict[str, tuple[str, str]] = {
    "new_member": ("新会员礼", "New-member gift"),
    "birthday": ("生日月专享", "Your birthday-month treat"),
    "winback": ("好久不见回归礼", "Welcome back — we missed you"),
    "tier": ("{zh}专享", "Exclusive to {en} members"),
    "category": ("为你推荐：你常买{zh}", "Picked for you: you often buy {en}"),
    "deal": ("为你推荐：划算好券，全场可用", "Picked for you: a good-value deal that works store-wide"),
    "store_wide": ("全场通用，人人可领", "Store-wide, open to every member"),
    "open_category": ("{zh}品类活动，人人可领", "{en} offer, open to every member"),
}


@dataclass(frozen=True)
class SpendingHabits:
    """Price sensitivity from the member's orders (not cancelled, up to ``now``)."""

    orders: int
    typical_item_price: float | None  # median unit price of the items they bought
    typical_order_total: float | None  # median order total
    coupon_use_rate: float  # share of their orders paid with a coupon

    @property
    def price_sensitive(self) -> bool:
        if self.orders == 0:
            return False
        budget = self.typical_item_price is not None and self.typical_item_price <= BUDGET_ITEM_PRICE
        return self.coupon_use_rate >= COUPON_SAVVY_RATE or budget


def spending_habits(*, session: Session, member_id: str, now: datetime) -> SpendingHabits:
    """Typical item price, typical order total and coupon-use rate of the member's orders."""
    orders = session.execute(
        select(Order.total_amount, Order.coupon_code).where(
            Order.member_id == member_id, Order.status != "cancelled", Order.created_at <= now
        )
    ).all()
    if not orders:
        return SpendingHabits(orders=0, typical_item_price=None, typical_order_total=None, coupon_use_rate=0.0)
    prices = session.scalars(
        select(OrderItem.unit_price)
        .join(Order, Order.order_id == OrderItem.order_id)
        .where(Order.member_id == member_id, Order.status != "cancelled", Order.created_at <= now)
    ).all()
    return SpendingHabits(
        orders=len(orders),
        typical_item_price=float(statistics.median(prices)) if prices else None,
        typical_order_total=float(statistics.median(total for total, _ in orders)),
        coupon_use_rate=sum(1 for _, code in orders if code) / len(orders),
    )


def savings_rate(template: CouponTemplate) -> float:
    """Share of the price saved at the minimum spend (10% off -> 0.10; 满300减50 -> 0.167)."""
    if template.kind == "percent_off":
        return float(template.value) / 100
    return float(template.value) / max(float(template.min_spend), float(template.value), 1.0)


def _reach(template: CouponTemplate, habits: SpendingHabits) -> float:
    """1 when the minimum spend is within reach of a typical order, down to 0.3 when far above it."""
    min_spend = float(template.min_spend)
    if habits.typical_order_total is None or min_spend <= 0:
        return 1.0
    return min(1.0, max(0.3, habits.typical_order_total * REACH_STRETCH / min_spend))


def _claims_per_period(*, session: Session, member_id: str) -> dict[str, list[datetime]]:
    """Claim instants of the member's coupons, by template."""
    claims: dict[str, list[datetime]] = {}
    for template_id, issued_at in session.execute(
        select(Coupon.template_id, Coupon.issued_at).where(Coupon.member_id == member_id)
    ):
        claims.setdefault(template_id, []).append(issued_at)
    return claims


def _claimable(template: CouponTemplate, claims: dict[str, list[datetime]], now: datetime) -> bool:
    """Open, in stock, and the member has not reached the limit in the current period."""
    if window_state(template, now) != "open" or stock_left(template) == 0:
        return False
    current = period_key(template.limit_period, now)
    held = Counter(period_key(template.limit_period, at) for at in claims.get(template.template_id, []))
    return held[current] < template.per_member_limit


def _personal_score(
    template: CouponTemplate,
    facts: MemberFacts,
    shares: dict[str, float],
    habits: SpendingHabits,
    now: datetime,
) -> tuple[float, str] | None:
    """(score, reason code) of a template for a member who allows personalization; None to skip."""
    audience = template.audience
    if not audience_admits(audience, facts, now):
        return None
    if audience in ("new_member", "birthday", "winback"):
        return OCCASION_SCORE, audience
    if audience.startswith("tier:"):
        return TIER_SCORE, "tier"
    if template.category is not None:
        share = shares.get(template.category, 0.0)
        if share < MIN_CATEGORY_SHARE:
            return None
        base, reason = 1.0 + 2.0 * share, "category"
    else:
        base, reason = STORE_WIDE_SCORE, "deal" if habits.price_sensitive else "store_wide"
    score = base * _reach(template, habits)
    if habits.price_sensitive:
        score *= 1.0 + 2.0 * savings_rate(template)
    return score, reason


def _open_score(template: CouponTemplate) -> tuple[float, str] | None:
    """(score, reason code) of a template for a member who opted out: open-to-all coupons only."""
    if template.audience != "all":
        return None
    if template.category is None:
        return STORE_WIDE_SCORE + savings_rate(template), "store_wide"
    return 0.5 + savings_rate(template), "open_category"


def _reason_text(reason: str, template: CouponTemplate, facts: MemberFacts) -> tuple[str, str]:
    zh, en = REASONS[reason]
    if reason == "tier":
        return zh.format(zh=facts.tier_name_zh), en.format(en=facts.tier_name_en)
    if reason in ("category", "open_category"):
        name_zh, name_en = category_labels(template.category)
        return zh.format(zh=name_zh), en.format(en=name_en)
    return zh, en


def offer_dict(
    template: CouponTemplate, *, score: float, reason: str, facts: MemberFacts, now: datetime, personalized: bool
) -> dict[str, Any]:
    """A template offered to a member: its terms, validity, stock and the reason it was picked."""
    reason_zh, reason_en = _reason_text(reason, template, facts)
    return {
        **template_terms(template),
        "valid_days": template.valid_days,
        "valid_until": iso(
            coupon_valid_until(
                valid_days=template.valid_days, template_valid_until=template.valid_until, claimed_at=now
            )
        ),
        "claim_from": iso(template.valid_from),
        "claim_until": iso(template.valid_until),
        "stock_left": stock_left(template),
        "per_member_limit": template.per_member_limit,
        "limit_period": template.limit_period,
        "reason": reason,
        "reason_zh": reason_zh,
        "reason_en": reason_en,
        "personalized": personalized,
        "score": round(score, 4),
    }


def offers_for_member(
    *, session: Session, member_id: object, now: datetime | None = None, limit: int = 3
) -> list[dict[str, Any]]:
    """Coupon templates worth offering the member now, best first, each with a reason.

    Only templates the member could claim now are offered: active, inside their claim window, in
    stock, admitting the member's audience, and not yet claimed up to the per-member limit in the
    current period.

    Args:
        session: the caller's session (read only).
        member_id: the member's id; unknown, malformed or missing ids get ``[]``.
        now: reference instant (default: now).
        limit: at most this many offers (1..20; less than 1 gives ``[]``).

    Returns:
        Offers ``{"template_id", "title_zh", "title_en", "kind", "value", "min_spend", "category",
        "category_zh", "category_en", "summary_zh", "summary_en", "valid_days", "valid_until"
        (if claimed now), "claim_from", "claim_until", "stock_left" (None: unlimited),
        "per_member_limit", "limit_period", "reason" (code), "reason_zh", "reason_en",
        "personalized", "score"}``.
    """
    if not isinstance(limit, int) or limit < 1:
        return []
    now = resolve_now(now)
    facts = load_member_facts(session=session, member_id=member_id, now=now)
    if facts is None:
        return []
    claims = _claims_per_period(session=session, member_id=facts.member_id)
    templates = [
        t
        for t in session.scalars(select(CouponTemplate).order_by(CouponTemplate.template_id))
        if _claimable(t, claims, now)
    ]
    personalized = facts.consent_personalization
    scored: list[tuple[float, str, CouponTemplate]] = []
    if personalized:
        shares = load_history(session=session, member_id=facts.member_id, now=now).category_shares()
        habits = spending_habits(session=session, member_id=facts.member_id, now=now)
        for template in templates:
            picked = _personal_score(template, facts, shares, habits, now)
            if picked is not None:
                scored.append((picked[0], picked[1], template))
    else:
        for template in templates:
            picked = _open_score(template)
            if picked is not None:
                scored.append((picked[0], picked[1], template))
    scored.sort(key=lambda s: (REASON_RANK.get(s[1], 2), -s[0], float(s[2].min_spend), s[2].template_id))
    return [
        offer_dict(template, score=score, reason=reason, facts=facts, now=now, personalized=personalized)
        for score, reason, template in scored[: min(limit, MAX_OFFERS)]
    ]
