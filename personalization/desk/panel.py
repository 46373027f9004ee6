"""The agent's profile panel: who the member is, what they bought, what they can use, what fits them.

Built from the existing services (tiers, points, orders, coupons, recommendations); the stored
member profile (``member_profiles``) adds segment, lifecycle and churn risk when it exists
(the panel never computes a profile on the spot). Agents see the real name: they serve the member.
Members who opted out of personalization get no recommendations, and the panel says so.

Least privilege (:func:`guard_detail`, applied by ``GET /agent/api/conversations/{id}``):

=====================  =====================================================================
viewer                 the member's panel
=====================  =====================================================================
agent, assigned        the full panel (real name, masked phone, points, orders, coupons, ...)
agent, queued (any)    :func:`limited_panel`: masked name, tier and language, to triage and claim
agent, other agent's   nothing (403 from ``can_agent_view``)
admin                  the full panel of every active conversation
ops                    nothing (no agent API; the ops dashboard is aggregate and masked)
=====================  =====================================================================

Every view of a member's panel is written to the audit log (``view_profile`` / ``preview_profile``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import HandoffRequest, MemberProfileRow
from personalization.privacy import audit
from personalization.privacy.pii import mask_name
from personalization.services import coupons, members, orders, points, recommendations, tiers
from personalization.services._common import find_member, iso, resolve_now
from personalization.settings import Settings

RECENT_ORDERS = 5
RECOMMENDATIONS = 3
LIMITED = ("认领该会话后可查看会员完整资料。", "Claim the conversation to see the member's full profile.")
OPTED_OUT = ("会员已关闭个性化推荐，不显示推荐商品。", "The member opted out of personalization: no recommendations.")


def _stored_profile(session: Session, member_id: str) -> dict[str, Any] | None:
    row = session.get(MemberProfileRow, member_id)
    if row is None:
        return None
    data = row.data or {}
    return {
        "segment": row.segment,
        "segment_label": data.get("segment_label"),
        "lifecycle": row.lifecycle,
        "lifecycle_zh": data.get("lifecycle_zh"),
        "lifecycle_en": data.get("lifecycle_en"),
        "churn_risk": row.churn_risk,
        "computed_at": iso(row.computed_at),
    }


def _orders(session: Session, member_id: str) -> list[dict[str, Any]]:
    keys = ("order_id", "created_at", "status", "status_zh", "status_en", "total_amount")
    return [
        {k: o[k] for k in keys} for o in orders.latest_orders(session=session, member_id=member_id, limit=RECENT_ORDERS)
    ]


def _recommendations(session: Session, member_id: str, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    items = recommendations.recommend_for_member(
        session=session, member_id=member_id, k=RECOMMENDATIONS, now=now, settings=settings
    )
    keys = ("sku", "title_zh", "title_en", "category_zh", "category_en", "price", "reason_zh", "reason_en", "reason")
    return [{k: item.get(k) for k in keys} for item in items]


def profile_panel(
    session: Session, member_id: str | None, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """The member's panel for the console; ``{"anonymous": True}`` for a visitor or unknown id.

    Returns:
        ``{"anonymous": False, "member_id", "name", "masked_phone", "city", "preferred_language",
        "tier": {"code", "name_zh", "name_en"}, "tier_progress": {"progress", "progress_zh",
        "progress_en", "next_tier_zh", "next_tier_en"}, "points": {"balance", "expiring_points",
        "expiring_first_at", "expiry_reminder_zh", "expiry_reminder_en"}, "segment", "lifecycle",
        "churn_risk", "profile_computed_at", "recent_orders", "coupons", "consent_personalization",
        "recommendations", "recommendations_note_zh", "recommendations_note_en"}``.
    """
    member = find_member(session=session, member_id=member_id) if member_id else None
    if member is None:
        return {"anonymous": True}
    now = resolve_now(now)
    status = tiers.tier_status(session=session, member_id=member.member_id, now=now) or {}
    summary = (
        points.points_summary(
            session=session, member_id=member.member_id, now=now, warning_days=settings.points_expiry_warning_days
        )
        or {}
    )
    stored = _stored_profile(session, member.member_id)
    lifecycle = (
        stored["lifecycle"]
        if stored
        else members.lifecycle_stage(
            registered_at=member.registered_at,
            last_order_at=members.last_order_at(session=session, member_id=member.member_id, now=now),
            now=now,
        )
    )
    consent = bool(member.consent_personalization)
    next_tier = status.get("next_tier") or {}
    return {
        "anonymous": False,
        "member_id": member.member_id,
        "name": member.name,
        "masked_phone": members.mask_phone(member.phone),
        "city": member.city,
        "preferred_language": member.preferred_language,
        "tier": {"code": member.tier.code, "name_zh": member.tier.name_zh, "name_en": member.tier.name_en},
        "tier_progress": {
            "progress": status.get("progress"),
            "progress_zh": status.get("progress_zh"),
            "progress_en": status.get("progress_en"),
            "next_tier_zh": next_tier.get("name_zh"),
            "next_tier_en": next_tier.get("name_en"),
        },
        "points": {
            key: summary.get(key)
            for key in ("balance", "expiring_points", "expiring_first_at", "expiry_reminder_zh", "expiry_reminder_en")
        },
        # Segment and churn risk are computed from behaviour: shown only with the member's consent.
        "segment": stored["segment_label"] if stored and consent else None,
        "lifecycle": lifecycle,
        "churn_risk": stored["churn_risk"] if stored and consent else None,
        "profile_computed_at": stored["computed_at"] if stored else None,
        "recent_orders": _orders(session, member.member_id),
        "coupons": coupons.usable_coupons(session=session, member_id=member.member_id, now=now),
        "consent_personalization": consent,
        "recommendations": _recommendations(session, member.member_id, settings, now) if consent else [],
        "recommendations_note_zh": None if consent else OPTED_OUT[0],
        "recommendations_note_en": None if consent else OPTED_OUT[1],
    }


def limited_panel(panel: dict[str, Any]) -> dict[str, Any]:
    """What any agent sees of a queued member before claiming: enough to triage, nothing more."""
    if panel.get("anonymous", True):
        return {"anonymous": True}
    return {
        "anonymous": False,
        "limited": True,
        "member_id": panel.get("member_id"),
        "name": mask_name(panel.get("name")),
        "tier": panel.get("tier"),
        "preferred_language": panel.get("preferred_language"),
        "recommendations": [],
        "recommendations_note_zh": LIMITED[0],
        "recommendations_note_en": LIMITED[1],
        "limited_note_zh": LIMITED[0],
        "limited_note_en": LIMITED[1],
    }


def has_full_access(session: Session, *, viewer_id: int, viewer_role: str, conversation_id: str) -> bool:
    """Admins, and the agent the conversation's active handoff is assigned to."""
    if viewer_role == "admin":
        return True
    if viewer_role != "agent":
        return False
    owner = session.scalar(
        select(HandoffRequest.agent_id)
        .where(HandoffRequest.conversation_id == conversation_id, HandoffRequest.status == "assigned")
        .limit(1)
    )
    return owner is not None and owner == viewer_id


def guard_detail(
    session: Session,
    detail: dict[str, Any],
    *,
    viewer_id: int,
    viewer_username: str,
    viewer_role: str,
    viewer_name: str | None = None,
    conversation_id: str,
) -> dict[str, Any]:
    """A console conversation ``detail`` (``web.flows.conversation_detail``) cut to what the viewer may see.

    Replaces the panel with :func:`limited_panel` (and the suggested replies with ones made from it)
    unless the viewer has full access, and writes the view to the audit log.
    """
    from personalization.desk.suggestions import suggest_replies

    panel = detail.get("panel") or {"anonymous": True}
    if panel.get("anonymous", True):
        return detail
    full = has_full_access(session, viewer_id=viewer_id, viewer_role=viewer_role, conversation_id=conversation_id)
    if not full:
        panel = limited_panel(panel)
        messages = detail.get("messages") or []
        last_member = next((m for m in reversed(messages) if m.get("sender") == "member"), None)
        language = str((detail.get("conversation") or {}).get("language") or "zh")
        detail = {**detail, "panel": panel,
                  "suggestions": suggest_replies(last_member, panel, language, agent_name=viewer_name)}
    audit.record_access(
        session, actor_id=viewer_id, actor_username=viewer_username, actor_role=viewer_role,
        action="view_profile" if full else "preview_profile", member_id=panel.get("member_id"),
        target=conversation_id,
    )
    return detail
