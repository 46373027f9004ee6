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
    ``consent_updated_at`` immediately and are recorded as ``completed``; ``export`` and
    ``delete`` are recorded as ``received`` for staff to carry out.

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
    request = PrivacyRequest(member_id=member.member_id, kind=kind, created_at=now, status=status)
    session.add(request)
    session.flush()
    return {"request_id": f"PR{request.id:06d}", "kind": kind, "status": status}
