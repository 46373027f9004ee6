"""Privacy: what the store holds about a member, and their export / delete / consent requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import (
    BrowseEvent,
    ChatMessage,
    Complaint,
    Conversation,
    Coupon,
    CsatRating,
    HandoffRequest,
    MemberProfileRow,
    Order,
    OrderItem,
    PointsEntry,
    PrivacyRequest,
    ReturnRequest,
)
from personalization.services._common import find_member, iso, resolve_now

PRIVACY_REQUEST_KINDS = ("export", "delete", "opt_out", "opt_in")
PROFILE_FIELDS = (
    "name",
    "gender",
    "birthday",
    "city",
    "phone",
    "registered_at",
    "preferred_language",
    "tier",
    "growth_value",
    "consent_personalization",
)
CONVERSATIONS_NOTE_ZH = "网页客服的聊天记录（含人工客服对话和满意度评价）保存在会员数据库中；机器人的对话日志由对话系统另行保存。"
CONVERSATIONS_NOTE_EN = (
    "Web chat transcripts (including human-agent chats and ratings) are in the member store; "
    "the assistant's own dialogue log is kept by the conversation system."
)


def describe_stored_data(*, session: Session, member_id: str | None) -> dict[str, Any] | None:
    """How much of each kind of data the store holds about the member.

    Returns:
        ``{"member_id", "profile_fields", "consent_personalization", "consent_updated_at",
        "orders", "order_items", "browse_events", "coupons", "points_entries",
        "return_requests", "complaints", "handoff_requests", "privacy_requests", "conversations",
        "chat_messages", "csat_ratings", "conversations_note_zh", "conversations_note_en"}``, or None
        for an unknown member.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    mid = member.member_id

    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "member_id": mid,
        "profile_fields": list(PROFILE_FIELDS),
        "consent_personalization": bool(member.consent_personalization),
        "consent_updated_at": iso(member.consent_updated_at),
        "orders": count(Order, Order.member_id == mid),
        "order_items": count(OrderItem, OrderItem.order_id.in_(select(Order.order_id).where(Order.member_id == mid))),
        "browse_events": count(BrowseEvent, BrowseEvent.member_id == mid),
        "coupons": count(Coupon, Coupon.member_id == mid),
        "points_entries": count(PointsEntry, PointsEntry.member_id == mid),
        "return_requests": count(ReturnRequest, ReturnRequest.member_id == mid),
        "complaints": count(Complaint, Complaint.member_id == mid),
        "handoff_requests": count(HandoffRequest, HandoffRequest.member_id == mid),
        "privacy_requests": count(PrivacyRequest, PrivacyRequest.member_id == mid),
        "conversations": count(Conversation, Conversation.member_id == mid),
        "chat_messages": count(
            ChatMessage,
            ChatMessage.conversation_id.in_(select(Conversation.id).where(Conversation.member_id == mid)),
        ),
        "csat_ratings": count(CsatRating, CsatRating.member_id == mid),
        "conversations_note_zh": CONVERSATIONS_NOTE_ZH,
        "conversations_note_en": CONVERSATIONS_NOTE_EN,
    }


def record_privacy_request(
    *, session: Session, member_id: str | None, kind: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """Record a privacy request; opt-out / opt-in take effect at once.

    ``opt_out`` and ``opt_in`` set ``Member.consent_personalization`` and
    ``consent_updated_at`` immediately and are recorded as ``completed``; an opt-out also deletes
    the stored profile (segment, churn risk, affinities: ``member_profiles``), so nothing computed
    from the member's behaviour is shown any more (the profile batch stores a basic one next time).
    ``export`` and ``delete`` are recorded as ``received``: a member downloads the export at
    ``GET /api/me/export`` (which completes it); an admin carries out a deletion
    (:func:`personalization.rights.erase_member`), never one chat message on its own.

    Returns:
        ``{"request_id", "kind", "status"}``, or None for an unknown member.

    Raises:
        ValueError: for a kind other than export / delete / opt_out / opt_in.
    """
    if kind not in PRIVACY_REQUEST_KINDS:
        raise ValueError(f"unknown privacy request kind {kind!r}; expected one of {PRIVACY_REQUEST_KINDS}")
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    now = resolve_now(now)
    status = "received"
    if kind in ("opt_out", "opt_in"):
        member.consent_personalization = kind == "opt_in"
        member.consent_updated_at = now
        status = "completed"
        if kind == "opt_out":
            stored = session.get(MemberProfileRow, member.member_id)
            if stored is not None:
                session.delete(stored)
    request = PrivacyRequest(member_id=member.member_id, kind=kind, created_at=now, status=status)
    session.add(request)
    session.flush()
    return {"request_id": f"PR{request.id:06d}", "kind": kind, "status": status}


OPEN_STATUSES = ("received", "in_progress", "failed")


def request_dict(request: PrivacyRequest) -> dict[str, Any]:
    """A privacy request as JSON: ``{"request_id", "id", "member_id", "kind", "status", "created_at"}``."""
    return {
        "request_id": f"PR{request.id:06d}",
        "id": request.id,
        "member_id": request.member_id,
        "kind": request.kind,
        "status": request.status,
        "created_at": iso(request.created_at),
    }


def open_privacy_requests(*, session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Requests staff still have to carry out (received or failed), oldest first."""
    rows = session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.status.in_(OPEN_STATUSES)).order_by(PrivacyRequest.id).limit(limit)
    )
    return [request_dict(r) for r in rows]


def complete_export_requests(*, session: Session, member_id: str, now: datetime | None = None) -> str:
    """Mark the member's open export requests completed (they downloaded their data); records one if
    there was none. Returns the request id of the last one (``PR000123``)."""
    rows = list(session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.member_id == member_id, PrivacyRequest.kind == "export",
                                     PrivacyRequest.status.in_(OPEN_STATUSES)).order_by(PrivacyRequest.id)
    ))
    if not rows:
        rows = [PrivacyRequest(member_id=member_id, kind="export", created_at=resolve_now(now), status="received")]
        session.add(rows[0])
    for row in rows:
        row.status = "completed"
    session.flush()
    return f"PR{rows[-1].id:06d}"
