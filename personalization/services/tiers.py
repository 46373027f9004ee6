"""Membership tiers: benefits, the member's progress to the next tier, growth value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Order, Tier
from personalization.services._common import find_member, resolve_now

# Growth value (成长值) counts yuan paid for completed orders placed in this window.
GROWTH_WINDOW_DAYS = 365


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
    }


def tier_for_growth(growth_value: int, thresholds: Iterable[tuple[str, int]]) -> str:
    """The code of the highest tier whose threshold ``growth_value`` reaches.

    Args:
        growth_value: the member's growth value.
        thresholds: ``(code, threshold)`` pairs; one of them must have threshold 0.
    """
    reached = [(threshold, code) for code, threshold in thresholds if growth_value >= threshold]
    return max(reached)[1]


def all_tiers(*, session: Session) -> list[dict[str, Any]]:
    """Every tier, lowest first (what an anonymous visitor is shown)."""
    return [tier_dict(t) for t in session.scalars(select(Tier).order_by(Tier.rank))]


def compute_growth_value(*, session: Session, member_id: str, now: datetime | None = None) -> int:
    """Yuan paid for the member's completed orders placed in the 365 days up to ``now``."""
    now = resolve_now(now)
    total = session.scalar(
        select(func.coalesce(func.sum(Order.total_amount), 0)).where(
            Order.member_id == member_id,
            Order.status == "completed",
            Order.created_at > now - timedelta(days=GROWTH_WINDOW_DAYS),
            Order.created_at <= now,
        )
    )
    # Sum in fen to keep float noise out of the floor.
    return int(round(float(total) * 100)) // 100


def tier_status(*, session: Session, member_id: str | None) -> dict[str, Any] | None:
    """The member's tier, growth value and what is left to reach the next tier.

    Returns:
        ``{"tier", "growth_value", "next_tier", "gap_to_next", "progress"}`` where ``progress``
        runs from 0 at the current tier's threshold to 1 at the next one (1 at the top tier),
        or None for an unknown member.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    tiers: Sequence[Tier] = session.scalars(select(Tier).order_by(Tier.threshold)).all()
    current = member.tier
    growth = int(member.growth_value)
    higher = [t for t in tiers if t.threshold > current.threshold]
    next_tier = higher[0] if higher else None
    if next_tier is None:
        gap, progress = None, 1.0
    else:
        span = next_tier.threshold - current.threshold
        gap = max(next_tier.threshold - growth, 0)
        progress = min(max((growth - current.threshold) / span, 0.0), 1.0)
    return {
        "tier": tier_dict(current),
        "growth_value": growth,
        "next_tier": tier_dict(next_tier) if next_tier else None,
        "gap_to_next": gap,
        "progress": round(progress, 4),
    }
