"""Members: look-up by id, lifecycle stage and the profile the assistant personalises with."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Member, Order
from personalization.privacy.pii import mask_phone
from personalization.services import points as points_service
from personalization.services import tiers as tiers_service
from personalization.services._common import (
    category_labels,
    find_member,
    iso,
    load_history,
    normalize_member_id,
    resolve_now,
)

__all__ = [
    "get_member",
    "last_order_at",
    "lifecycle_stage",
    "list_members",
    "mask_phone",
    "member_profile",
    "normalize_member_id",
]

NEW_MEMBER_DAYS = 30
DORMANT_DAYS = 180
TOP_CATEGORIES = 3


def get_member(*, session: Session, member_id: str | None) -> Member | None:
    """The member with this id.

    Args:
        session: the caller's session.
        member_id: a member id such as ``M100001`` (surrounding spaces and case are ignored).

    Returns:
        The member, or None for an unknown or malformed id (never raises on bad input).
    """
    return find_member(session=session, member_id=member_id)


def lifecycle_stage(*, registered_at: datetime, last_order_at: datetime | None, now: datetime) -> str:
    """``new`` (registered < 30 days ago), ``dormant`` (no order in 180+ days) or ``active``."""
    if registered_at > now - timedelta(days=NEW_MEMBER_DAYS):
        return "new"
    if last_order_at is None or last_order_at <= now - timedelta(days=DORMANT_DAYS):
        return "dormant"
    return "active"


def last_order_at(*, session: Session, member_id: str, now: datetime) -> datetime | None:
    """When the member last placed an order (any status) up to ``now``."""
    return session.scalar(
        select(func.max(Order.created_at)).where(Order.member_id == member_id, Order.created_at <= now)
    )


def member_profile(*, session: Session, member_id: str | None, now: datetime | None = None) -> dict[str, Any] | None:
    """The member's profile as the assistant and the CLI show it.

    Args:
        session: the caller's session.
        member_id: the member's id.
        now: reference instant for lifecycle, points and recency weights (default: now).

    Returns:
        ``{"member_id", "name", "masked_phone", "gender", "city", "registered_at",
        "preferred_language", "consent_personalization", "tier", "growth_value", "points",
        "top_categories", "lifecycle", "orders_count", "spend_12m", "tier_progress_zh",
        "tier_progress_en", "segment", "profile", "profile_unavailable"}``, or None for an unknown
        member. ``tier`` and ``growth_value`` come from the rolling 12-month spend as of ``now``
        (:func:`~personalization.services.tiers.tier_status`). ``lifecycle`` is the three-stage
        new/active/dormant of :func:`lifecycle_stage`; ``profile`` is the full
        :class:`personalization.profiles.MemberProfile` as a dict (four-stage lifecycle, RFM,
        affinities, price sensitivity, churn risk, segment), stored or live, and None with a
        reason in ``profile_unavailable`` when ``now`` is before the member registered.
        ``top_categories`` is empty for a member who opted out of personalization: their
        history is not profiled.
    """
    from personalization import profiles  # numpy / scikit-learn only when a full profile is asked for

    member = get_member(session=session, member_id=member_id)
    if member is None:
        return None
    now = resolve_now(now)
    status = tiers_service.tier_status(session=session, member_id=member.member_id, now=now)
    assert status is not None  # the member exists
    found = profiles.get_profile(session=session, member_id=member.member_id, now=now)
    full = found.to_dict() if found else None
    orders_count = session.scalar(
        select(func.count()).select_from(Order).where(Order.member_id == member.member_id, Order.created_at <= now)
    )
    summary = points_service.points_summary(session=session, member_id=member.member_id, now=now)
    top_categories: list[dict[str, Any]] = []
    if member.consent_personalization:
        shares = load_history(session=session, member_id=member.member_id, now=now).category_shares()
        ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
        for key, share in ranked:
            name_zh, name_en = category_labels(key)
            top_categories.append({"key": key, "name_zh": name_zh, "name_en": name_en, "score": round(share, 3)})
    return {
        "member_id": member.member_id,
        "name": member.name,
        "masked_phone": mask_phone(member.phone),
        "gender": member.gender,
        "city": member.city,
        "registered_at": iso(member.registered_at),
        "preferred_language": member.preferred_language,
        "consent_personalization": bool(member.consent_personalization),
        "tier": {key: status["tier"][key] for key in ("code", "name_zh", "name_en")},
        "growth_value": int(status["growth_value"]),
        "points": summary["balance"] if summary else 0,
        "top_categories": top_categories,
        "lifecycle": lifecycle_stage(
            registered_at=member.registered_at,
            last_order_at=last_order_at(session=session, member_id=member.member_id, now=now),
            now=now,
        ),
        "orders_count": int(orders_count or 0),
        "spend_12m": status["spend_12m"],
        "tier_progress_zh": status["progress_zh"],
        "tier_progress_en": status["progress_en"],
        "segment": full["segment_label"] if full else None,
        "profile": full,
        "profile_unavailable": (
            None if full else profiles.profile_unavailable_reason(session=session, member_id=member.member_id, now=now)
        ),
    }


def list_members(
    *,
    session: Session,
    limit: int = 20,
    tier: str | None = None,
    lifecycle: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """A short listing of members (for finding demo ids), optionally by tier code and lifecycle stage.

    Args:
        session: the caller's session.
        limit: at most this many members, by member id.
        tier: only this tier code (``normal``/``silver``/``gold``/``diamond``).
        lifecycle: only this stage (``new``/``active``/``dormant``).
        now: reference instant for the lifecycle stage.

    Returns:
        ``[{"member_id", "name", "tier", "lifecycle", "orders_count", "preferred_language",
        "consent_personalization"}]``.
    """
    now = resolve_now(now)
    stats = (
        select(
            Order.member_id.label("member_id"),
            func.max(Order.created_at).label("last_order_at"),
            func.count().label("orders_count"),
        )
        .where(Order.created_at <= now)
        .group_by(Order.member_id)
        .subquery()
    )
    query = (
        select(Member, stats.c.last_order_at, stats.c.orders_count)
        .outerjoin(stats, stats.c.member_id == Member.member_id)
        .order_by(Member.member_id)
    )
    if tier:
        query = query.where(Member.tier_code == tier)
    result: list[dict[str, Any]] = []
    for member, last_at, count in session.execute(query):
        stage = lifecycle_stage(registered_at=member.registered_at, last_order_at=last_at, now=now)
        if lifecycle and stage != lifecycle:
            continue
        result.append(
            {
                "member_id": member.member_id,
                "name": member.name,
                "tier": member.tier_code,
                "lifecycle": stage,
                "orders_count": int(count or 0),
                "preferred_language": member.preferred_language,
                "consent_personalization": bool(member.consent_personalization),
            }
        )
        if len(result) >= limit:
            break
    return result
