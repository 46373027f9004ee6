"""Right of access: everything the service holds about one member, as one JSON document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.analytics.models import AnalyticsConversation, AnalyticsSpool, AnalyticsTurn
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
    PointsEntry,
    PrivacyRequest,
    ReturnRequest,
)
from personalization.rights.collect import app_senders, existing_tables, jsonable, row_dict
from personalization.rights.stores import RasaEventStore, RasaStores, StoreUnavailable, chunks
from personalization.services._common import find_member, iso, resolve_now

EXPORT_FORMAT = "member-data-export"
EXPORT_VERSION = 1


def export_member_data(
    *, session: Session, member_id: str | None, rasa: RasaStores | None = None, now: datetime | None = None
) -> dict[str, Any] | None:
    """Everything about the member: profile, consent history, orders with items and shipping, coupons,
    points, browsing, the stored profile and segment, returns, complaints, hand-offs, CSAT, web chat
    transcripts, the Rasa tracker and broker events of their conversations and the analytics rows.

    Args:
        session: the caller's session on the app database (read only).
        member_id: the member (normalised: `` m100001`` works); unknown or malformed ids give None.
        rasa: Rasa's tracker store and broker copy (None: not included, marked ``not_configured``).
        now: the ``generated_at`` instant (default: now).

    Returns:
        ``{"format", "version", "generated_at", "member_id", "profile", "consent", "orders", "coupons",
        "points", "browse_events", "stored_profile", "returns", "complaints", "handoffs",
        "csat_ratings", "conversations", "rasa", "analytics", "counts"}`` (JSON-serialisable), or None.
        A Rasa store that cannot be read is ``{"status": "failed", "error"}`` in ``rasa``, not an exception.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    mid = member.member_id
    tables = existing_tables(session)
    senders = app_senders(session, mid)
    rasa_part: dict[str, Any] = {}
    if rasa is not None:
        for store in rasa.all():
            try:
                senders |= store.senders_of(mid)
            except StoreUnavailable:
                pass  # reported below
        for store in rasa.all():
            rasa_part[store.name] = _store_events(store, senders)
    else:
        rasa_part = {"status": "not_configured"}
    orders = list(session.scalars(select(Order).where(Order.member_id == mid).order_by(Order.created_at, Order.order_id)))
    points_rows = list(session.scalars(select(PointsEntry).where(PointsEntry.member_id == mid).order_by(PointsEntry.at, PointsEntry.id)))
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "generated_at": iso(resolve_now(now)),
        "member_id": mid,
        "profile": _profile(member),
        "consent": {
            "consent_personalization": bool(member.consent_personalization),
            "consent_updated_at": iso(member.consent_updated_at),
            "history": [
                {**row_dict(r), "request_id": f"PR{r.id:06d}"}
                for r in session.scalars(select(PrivacyRequest).where(PrivacyRequest.member_id == mid).order_by(PrivacyRequest.id))
            ],
        },
        "orders": [_order(o) for o in orders],
        "coupons": [row_dict(c) for c in session.scalars(select(Coupon).where(Coupon.member_id == mid).order_by(Coupon.issued_at, Coupon.code))],
        "points": {"balance": int(sum(p.amount for p in points_rows)), "ledger": [row_dict(p) for p in points_rows]},
        "browse_events": [
            row_dict(b, skip=("member_id",))
            for b in session.scalars(select(BrowseEvent).where(BrowseEvent.member_id == mid).order_by(BrowseEvent.at, BrowseEvent.id))
        ],
        "stored_profile": _stored_profile(session, mid),
        "returns": _rows(session, ReturnRequest, ReturnRequest.member_id == mid),
        "complaints": _rows(session, Complaint, Complaint.member_id == mid),
        "handoffs": _rows(session, HandoffRequest, HandoffRequest.member_id == mid),
        "csat_ratings": _rows(session, CsatRating, CsatRating.member_id == mid),
        "conversations": _conversations(session, mid),
        "rasa": {"senders": sorted(senders), **rasa_part} if rasa is not None else rasa_part,
        "analytics": _analytics(session, mid, senders, tables),
    }
    document["counts"] = _counts(document)
    return document


def _profile(member: Any) -> dict[str, Any]:
    return {
        "member_id": member.member_id,
        "name": member.name,
        "gender": member.gender,
        "birthday": iso(member.birthday),
        "city": member.city,
        "phone": member.phone,
        "registered_at": iso(member.registered_at),
        "preferred_language": member.preferred_language,
        "tier": {"code": member.tier.code, "name_zh": member.tier.name_zh, "name_en": member.tier.name_en},
        "growth_value": member.growth_value,
    }


def _order(order: Order) -> dict[str, Any]:
    return {
        **row_dict(order),
        "items": [
            {**row_dict(item, skip=("order_id",)), "title_zh": item.product.title_zh, "title_en": item.product.title_en}
            for item in order.items
        ],
        "timeline": [row_dict(event, skip=("order_id",)) for event in order.timeline],
    }


def _rows(session: Session, model: Any, *where: Any) -> list[dict[str, Any]]:
    return [row_dict(r) for r in session.scalars(select(model).where(*where).order_by(model.id))]


def _stored_profile(session: Session, member_id: str) -> dict[str, Any] | None:
    row = session.get(MemberProfileRow, member_id)
    return row_dict(row) if row is not None else None


def _conversations(session: Session, member_id: str) -> list[dict[str, Any]]:
    result = []
    for conversation in session.scalars(select(Conversation).where(Conversation.member_id == member_id).order_by(Conversation.id)):
        messages = session.scalars(
            select(ChatMessage).where(ChatMessage.conversation_id == conversation.id).order_by(ChatMessage.seq)
        )
        result.append({
            **row_dict(conversation, skip=("id",)),
            "messages": [row_dict(m, skip=("id", "conversation_id", "agent_id")) for m in messages],
        })
    return result


def _store_events(store: RasaEventStore, senders: set[str]) -> dict[str, Any]:
    try:
        if store.absent:
            return {"status": "absent", "events": []}
        return {"status": "ok", "events": store.events_of(senders)}
    except StoreUnavailable as exc:
        return {"status": "failed", "error": str(exc), "events": []}


def _analytics(session: Session, member_id: str, senders: set[str], tables: set[str]) -> dict[str, Any]:
    if AnalyticsConversation.__tablename__ not in tables:
        return {"conversations": [], "turns": [], "spool_events": []}
    conversations = list(session.scalars(
        select(AnalyticsConversation).where(AnalyticsConversation.member_id == member_id).order_by(AnalyticsConversation.id)
    ))
    seen = {c.id for c in conversations}
    for chunk in chunks(sorted(senders)):
        for conversation in session.scalars(select(AnalyticsConversation).where(AnalyticsConversation.sender_id.in_(chunk))):
            if conversation.id not in seen:
                conversations.append(conversation)
                seen.add(conversation.id)
    turns: list[AnalyticsTurn] = []
    for chunk in chunks(sorted(seen)):
        turns.extend(session.scalars(select(AnalyticsTurn).where(AnalyticsTurn.conversation_id.in_(chunk))))
    spool: list[dict[str, Any]] = []
    if AnalyticsSpool.__tablename__ in tables:
        for chunk in chunks(sorted(senders)):
            for row in session.scalars(select(AnalyticsSpool).where(AnalyticsSpool.sender_id.in_(chunk))):
                spool.append({"id": row.id, "sender_id": row.sender_id, "received_at": iso(row.received_at), "data": row.data})
    return {
        "conversations": [row_dict(c) for c in sorted(conversations, key=lambda c: c.id)],
        "turns": [row_dict(t) for t in sorted(turns, key=lambda t: t.id)],
        "spool_events": sorted(spool, key=lambda r: r["id"]),
    }


def _counts(document: dict[str, Any]) -> dict[str, int]:
    rasa = document.get("rasa") or {}
    analytics = document["analytics"]
    return {
        "orders": len(document["orders"]),
        "order_items": sum(len(o["items"]) for o in document["orders"]),
        "coupons": len(document["coupons"]),
        "points_entries": len(document["points"]["ledger"]),
        "browse_events": len(document["browse_events"]),
        "returns": len(document["returns"]),
        "complaints": len(document["complaints"]),
        "handoffs": len(document["handoffs"]),
        "csat_ratings": len(document["csat_ratings"]),
        "privacy_requests": len(document["consent"]["history"]),
        "conversations": len(document["conversations"]),
        "chat_messages": sum(len(c["messages"]) for c in document["conversations"]),
        "rasa_senders": len(rasa.get("senders") or []),
        "rasa_tracker_events": len((rasa.get("rasa_tracker") or {}).get("events") or []),
        "rasa_broker_events": len((rasa.get("rasa_broker") or {}).get("events") or []),
        "analytics_conversations": len(analytics["conversations"]),
        "analytics_turns": len(analytics["turns"]),
        "analytics_spool_events": len(analytics["spool_events"]),
    }


__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "export_member_data", "jsonable"]
