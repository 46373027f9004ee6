"""Membership tiers: benefits, the member's tier from rolling 12-month spend, progress to the next tier.

A member's tier is the highest tier whose ``threshold`` (read from the ``tiers`` table, never from
code) their growth value reaches. Growth value (成长值) is the yuan paid for *completed* orders placed
in the rolling 12 months before ``now``; the window is counted in whole days (it starts at midnight
365 days before the day of ``now``), so the answer does not change during a day and matches what the
seed stores on its as-of day. :func:`reassess_tiers` writes the computed tier and growth value back to
the members table (the nightly job of a real programme).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from personalization.models import Member, Order, Tier
from personalization.services._common import find_member, resolve_now, yuan_text

# Growth value (成长值) counts yuan paid for completed orders placed in this window.
GROWTH_WINDOW_DAYS = 365
GROWTH_STATUSES = ("completed",)

# Structured benefits every tier has (tiers.perks may add more); values used when the data lack a key.
PERK_DEFAULTS: dict[str, Any] = {
    "member_discount_percent": 0,
    "free_shipping_min_spend": None,
    "birthday_gift_zh": None,
    "birthday_gift_en": None,
    "priority_service": False,
    "monthly_coupon": False,
    "early_access_hours": 0,
    "return_shipping": "standard",
}


def window_start(now: datetime) -> datetime:
    """Start (exclusive) of the rolling 12-month spend window: midnight 365 days before ``now``'s day."""
    return datetime.combine(now.date(), time()) - timedelta(days=GROWTH_WINDOW_DAYS)


def tier_perks(tier: Tier) -> dict[str, Any]:
    """The tier's structured benefits: discount, free shipping, birthday gift, points multiplier, ..."""
    perks = {**PERK_DEFAULTS, **(tier.perks or {})}
    perks["points_multiplier"] = float(tier.points_multiplier)
    return perks


def tier_dict(tier: Tier) -> dict[str, Any]:
    """A tier as a JSON-ready dict (TierDict)."""
    return {
        "code": tier.code,
        "name_zh": tier.name_zh,
        "name_en": tier.name_en,
        "threshold": int(tier.threshold),
        "points_multiplier": float(tier.points_multiplier),
        "benefits_zh": list(tier.benefits_zh),
        "benefits_en": list(tier.benefits_en),
        "perks": tier_perks(tier),
    }


def tier_for_growth(growth_value: int, thresholds: Iterable[tuple[str, int]]) -> str:
    """The code of the highest tier whose threshold ``growth_value`` reaches.

    Args:
        growth_value: the member's growth value.
        thresholds: ``(code, threshold)`` pairs; one of them must have threshold 0.
    """
    reached = [(threshold, code) for code, threshold in thresholds if growth_value >= threshold]
    return max(reached)[1]


def load_tiers(*, session: Session) -> list[Tier]:
    """Every tier, lowest threshold first."""
    return list(session.scalars(select(Tier).order_by(Tier.threshold)))


def all_tiers(*, session: Session) -> list[dict[str, Any]]:
    """Every tier, lowest first (what an anonymous visitor is shown)."""
    return [tier_dict(t) for t in session.scalars(select(Tier).order_by(Tier.rank))]


def _growth_from_spend(spend: float) -> int:
    # Floor in fen to keep float noise out (7999.999999 must not become 8000).
    return round(spend * 100) // 100


def spend_12m(*, session: Session, member_id: str, now: datetime | None = None) -> float:
    """Yuan paid for the member's completed orders placed in the rolling 12 months up to ``now``."""
    now = resolve_now(now)
    total = session.scalar(
        select(func.coalesce(func.sum(Order.total_amount), 0)).where(
            Order.member_id == member_id,
            Order.status.in_(GROWTH_STATUSES),
            Order.created_at > window_start(now),
            Order.created_at <= now,
        )
    )
    return round(float(total), 2)


def compute_growth_value(*, session: Session, member_id: str, now: datetime | None = None) -> int:
    """Growth value: whole yuan paid for completed orders in the rolling 12 months up to ``now``."""
    return _growth_from_spend(spend_12m(session=session, member_id=member_id, now=now))


def progress_texts(*, spend: float, next_tier: Tier | None, current: Tier) -> tuple[str, str]:
    """("再消费¥320升级为金卡会员", "Spend ¥320 more to reach Gold"), or the top-tier texts."""
    if next_tier is None:
        return (f"您已是最高等级{current.name_zh}，尊享全部会员权益", f"You are at our top tier, {current.name_en}")
    amount = yuan_text(max(next_tier.threshold - spend, 0.0))
    return (f"再消费¥{amount}升级为{next_tier.name_zh}", f"Spend ¥{amount} more to reach {next_tier.name_en}")


def status_from_spend(*, spend: float, tiers: Sequence[Tier]) -> dict[str, Any]:
    """Tier, next tier, amount to next tier and progress texts for a 12-month spend (pure).

    Args:
        spend: yuan of completed orders in the rolling 12 months.
        tiers: the tiers table rows (any order).
    """
    ordered = sorted(tiers, key=lambda t: t.threshold)
    growth = _growth_from_spend(spend)
    by_code = {t.code: t for t in ordered}
    current = by_code[tier_for_growth(growth, ((t.code, int(t.threshold)) for t in ordered))]
    higher = [t for t in ordered if t.threshold > current.threshold]
    next_tier = higher[0] if higher else None
    if next_tier is None:
        gap, amount, progress = None, None, 1.0
    else:
        span = next_tier.threshold - current.threshold
        gap = max(int(next_tier.threshold) - growth, 0)
        amount = round(max(next_tier.threshold - spend, 0.0), 2)
        progress = min(max((growth - current.threshold) / span, 0.0), 1.0)
    progress_zh, progress_en = progress_texts(spend=spend, next_tier=next_tier, current=current)
    return {
        "tier": tier_dict(current),
        "growth_value": growth,
        "spend_12m": round(spend, 2),
        "next_tier": tier_dict(next_tier) if next_tier else None,
        "gap_to_next": gap,
        "amount_to_next": amount,
        "progress": round(progress, 4),
        "progress_zh": progress_zh,
        "progress_en": progress_en,
    }


def tier_status(*, session: Session, member_id: str | None, now: datetime | None = None) -> dict[str, Any] | None:
    """The member's tier from their rolling 12-month spend, and what is left to reach the next tier.

    Args:
        session: the caller's session.
        member_id: the member's id.
        now: reference instant (default: now).

    Returns:
        ``{"tier", "growth_value", "spend_12m", "next_tier", "gap_to_next", "amount_to_next",
        "progress", "progress_zh", "progress_en", "window_start", "recorded_tier"}``: ``tier`` and
        ``next_tier`` are TierDicts (with ``perks``), ``gap_to_next`` whole yuan and ``amount_to_next``
        exact yuan to the next threshold (both None at the top tier), ``progress`` 0 at the current
        tier's threshold to 1 at the next one (1 at the top), ``recorded_tier`` the tier code stored
        on the member (differs from ``tier["code"]`` until :func:`reassess_tiers` runs). None for an
        unknown member.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    now = resolve_now(now)
    spend = spend_12m(session=session, member_id=member.member_id, now=now)
    status = status_from_spend(spend=spend, tiers=load_tiers(session=session))
    return {**status, "window_start": window_start(now).isoformat(), "recorded_tier": member.tier_code}


def spend_by_member(*, session: Session, now: datetime) -> dict[str, float]:
    """Rolling 12-month completed spend of every member with any (one grouped query)."""
    in_window = (Order.created_at > window_start(now)) & (Order.created_at <= now)
    rows = session.execute(
        select(Order.member_id, func.sum(case((in_window, Order.total_amount), else_=0)))
        .where(Order.status.in_(GROWTH_STATUSES))
        .group_by(Order.member_id)
    ).all()
    return {member_id: round(float(total or 0), 2) for member_id, total in rows}


def reassess_tiers(*, session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Recompute every member's growth value and tier from rolling 12-month spend and store them.

    Flushes; the caller commits.

    Returns:
        ``{"members", "changed": [{"member_id", "from", "to", "growth_value"}], "as_of"}``.
    """
    now = resolve_now(now)
    tiers = load_tiers(session=session)
    thresholds = [(t.code, int(t.threshold)) for t in tiers]
    spend = spend_by_member(session=session, now=now)
    changed: list[dict[str, Any]] = []
    members = session.scalars(select(Member).order_by(Member.member_id)).all()
    for member in members:
        growth = _growth_from_spend(spend.get(member.member_id, 0.0))
        code = tier_for_growth(growth, thresholds)
        if code != member.tier_code:
            changed.append(
                {"member_id": member.member_id, "from": member.tier_code, "to": code, "growth_value": growth}
            )
        member.tier_code, member.growth_value = code, growth
    session.flush()
    return {"members": len(members), "changed": changed, "as_of": now.isoformat(timespec="seconds")}
