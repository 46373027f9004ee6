"""Right to erasure: delete or anonymize a member everywhere, verify it, and keep the report.

Policy (also in every report's ``policy``):

* **Account** (``members``): kept as a closed account, anonymized in place: name 「已注销会员」, phone,
  birthday and city cleared, gender ``U``, personalization consent off. The member id stays as the
  key of the closed account (orders and the privacy records refer to it; nothing else does).
* **Orders** are kept for accounting (tax records), de-personalised: shipping city and tracking
  number cleared, the shipping timeline deleted; their items stay. Coupons redeemed on an order
  stay with it; unused coupons are deleted. Return requests stay with their order, reason text cleared.
* **Deleted**: browse events, the stored profile / segment, the points ledger (the account is
  closed), complaints, web chat conversations and every message, the member's Rasa conversations
  in the tracker store and in the event broker copy, and their analytics rows (conversations, turns,
  RabbitMQ spool). Deleting the broker events is what keeps the incremental analytics pipeline
  from re-creating the analytics rows; see :meth:`RasaEventStore.delete_senders` for how the
  pipeline's cursor stays valid.
* **Anonymized, kept for the desk's statistics**: hand-off requests and CSAT ratings (member,
  conversation id and note removed; an active hand-off is cancelled) and the desk's audit trail
  about those conversations (conversation, hand-off and detail removed). Their ids stay, so the
  analytics pipeline's ``app:*`` cursors are not disturbed.
* **Kept as proof**: the member's privacy requests and the erasure reports (no name, no phone).

Each store is changed in its own transaction, Rasa's first (so that a pipeline run in between cannot
rebuild analytics rows that were just deleted). A store that cannot be reached is reported
``failed`` and the erasure is ``failed`` (run it again: erasing is idempotent); the verification
re-scan must find nothing or the erasure is ``failed`` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics import rollups
from personalization.analytics.models import AnalyticsConversation, AnalyticsDaily, AnalyticsSpool, AnalyticsTurn
from personalization.models import (
    AgentAction,
    BrowseEvent,
    ChatMessage,
    Complaint,
    Conversation,
    Coupon,
    CsatRating,
    HandoffRequest,
    Member,
    MemberProfileRow,
    Order,
    OrderItem,
    PointsEntry,
    PrivacyReport,
    PrivacyRequest,
    ReturnRequest,
    ShipmentEvent,
)
from personalization.rights.collect import app_senders, existing_tables
from personalization.rights.report import STORE_ABSENT, STORE_FAILED, ErasureReport, StoreResult
from personalization.rights.stores import RasaEventStore, RasaStores, StoreUnavailable, chunks
from personalization.rights.verify import APP, verify_erasure
from personalization.services._common import find_member, iso, resolve_now

ERASED_NAME = "已注销会员"
POLICY = {
    "members": "kept as a closed account, anonymized (name, phone, birthday, city, gender cleared; consent off)",
    "orders": "kept for accounting, de-personalised (shipping city and tracking number cleared)",
    "order_items": "kept with their orders",
    "shipment_events": "deleted",
    "coupons": "redeemed ones kept with their orders, unused ones deleted",
    "points_ledger": "deleted (the account is closed)",
    "browse_events": "deleted",
    "member_profiles": "deleted",
    "return_requests": "kept with their orders, reason text cleared",
    "complaints": "deleted",
    "conversations": "deleted with every chat message",
    "handoff_requests": "anonymized (member, conversation, note removed), kept for desk statistics",
    "csat_ratings": "anonymized, kept for desk statistics",
    "agent_actions": "the member's conversations unlinked from the desk audit trail",
    "privacy_requests": "kept as proof of the member's requests",
    "analytics": "the member's conversations, turns and spooled events deleted; the per-day rollup of their days recomputed",
    "rasa_tracker": "every event of the member's conversations deleted",
    "rasa_broker": "every event of the member's conversations deleted (ids kept taken for the analytics cursor)",
}
OPEN_STATUSES = ("received", "in_progress", "failed")


def erase_member(
    *,
    factory: sessionmaker[Session],
    member_id: str | None,
    rasa: RasaStores | None,
    requested_by: str = "cli",
    request_id: int | None = None,
    now: datetime | None = None,
) -> ErasureReport | None:
    """Erase the member everywhere, verify, persist the report and complete the privacy request.

    Args:
        factory: sessions on the app database (each store gets its own transaction here).
        member_id: the member; unknown or malformed ids give None (nothing is touched).
        rasa: Rasa's tracker store and broker copy (None: only the app database; reported).
        requested_by: who asked ("cli", "admin:<username>"), stored with the report.
        request_id: the privacy request carried out (default: the member's open delete requests).
        now: the instant of the erasure (default: now).

    Returns:
        The :class:`ErasureReport`, already saved in ``privacy_reports`` (``report_id``). Its
        ``status`` is ``completed`` only if every store was erased and the re-scan found nothing;
        otherwise ``failed`` with the reason in ``stores`` / ``verification.problems``.
    """
    now = resolve_now(now)
    with factory() as session:
        member = find_member(session=session, member_id=member_id)
        if member is None:
            return None
        mid = member.member_id
        already = member.name == ERASED_NAME
        name = None if already else (member.name or None)
        phone = (member.phone or None) if member.phone and len(member.phone) >= 5 else None
        senders = app_senders(session, mid)
        session.rollback()
    report = ErasureReport(member_id=mid, requested_by=requested_by[:64], started_at=iso(now) or "", policy=dict(POLICY))
    stores = rasa.all() if rasa is not None else ()
    unreadable: dict[str, str] = {}
    for store in stores:
        try:
            senders |= store.senders_of(mid)
        except StoreUnavailable as exc:
            unreadable[store.name] = str(exc)
    report.senders = len(senders)
    # Rasa's stores first: once their events are gone, no analytics run can rebuild the rows.
    for store in sorted(stores, key=lambda s: s.name != "rasa_broker"):
        report.stores[store.name] = _erase_rasa(store, senders, unreadable.get(store.name))
    if rasa is None:
        report.stores["rasa"] = StoreResult(status="not_configured")
    report.stores[APP] = _erase_app_store(factory, mid, senders, now)
    report.verification = verify_erasure(factory, rasa, member_id=mid, name=name, phone=phone)
    if already:
        report.verification.checked.append("name/phone: not known any more (erased before)")
    failed = [n for n, s in report.stores.items() if s.status == STORE_FAILED]
    report.status = "completed" if not failed and report.verification.ok else "failed"
    report.finished_at = iso(resolve_now(None))
    _persist(factory, report, request_id, now)
    return report


def _erase_rasa(store: RasaEventStore, senders: set[str], unreadable: str | None) -> StoreResult:
    if unreadable is not None:
        return StoreResult(status=STORE_FAILED, error=unreadable)
    try:
        if store.absent:
            return StoreResult(status=STORE_ABSENT)
        counts = store.delete_senders(senders, keep_max_id=store.name == "rasa_broker")
    except StoreUnavailable as exc:
        return StoreResult(status=STORE_FAILED, error=str(exc))
    result = StoreResult()
    table = result.table("events")
    table.found, table.deleted = counts["found"], counts["deleted"]
    if counts["tombstones"]:
        result.table("events_tombstone").kept = counts["tombstones"]
    return result


def _erase_app_store(factory: sessionmaker[Session], member_id: str, senders: set[str], now: datetime) -> StoreResult:
    result = StoreResult()
    try:
        with factory() as session:
            _erase_app(session, result, member_id, sorted(senders), now)
            session.commit()
    except SQLAlchemyError as exc:
        return StoreResult(status=STORE_FAILED, error=str(getattr(exc, "orig", exc)).splitlines()[0][:300])
    return result


def _in(column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` in chunks (OR of INs): SQLite limits the parameters of one statement."""
    if not values:
        return column.in_([])
    return or_(*(column.in_(list(chunk)) for chunk in chunks(values)))


def _delete(session: Session, result: StoreResult, name: str, model: Any, where: Any) -> None:
    table = result.table(name)
    count = session.execute(delete(model).where(where).execution_options(synchronize_session=False)).rowcount or 0
    table.found += count
    table.deleted += count


def _erase_app(session: Session, result: StoreResult, mid: str, senders: list[str], now: datetime) -> None:
    tables = existing_tables(session)
    # Analytics (no foreign keys to the member store).
    if AnalyticsConversation.__tablename__ in tables:
        owned = session.execute(select(AnalyticsConversation.id, AnalyticsConversation.started_day).where(
            or_(AnalyticsConversation.member_id == mid, _in(AnalyticsConversation.sender_id, senders)))).all()
        conv_ids = [conv_id for conv_id, _day in owned]
        _delete(session, result, "analytics_turns", AnalyticsTurn, _in(AnalyticsTurn.conversation_id, conv_ids))
        _delete(session, result, "analytics_conversations", AnalyticsConversation, _in(AnalyticsConversation.id, conv_ids))
        if AnalyticsDaily.__tablename__ in tables:
            # The per-day rollup lists each day's distinct members: recompute the days they appear on.
            days = {day for _conv_id, day in owned}
            days.update(day for day, members in session.execute(select(AnalyticsDaily.day, AnalyticsDaily.members))
                        if mid in (members or ()))
            result.table("analytics_daily").anonymized += rollups.refresh_days(session, days) if days else 0
    if AnalyticsSpool.__tablename__ in tables:
        _delete(session, result, "analytics_spool", AnalyticsSpool, _in(AnalyticsSpool.sender_id, senders))
    # Web chats.
    chat_ids = list(session.scalars(select(Conversation.id).where(
        or_(Conversation.member_id == mid, _in(Conversation.public_id, senders)))))
    _delete(session, result, "chat_messages", ChatMessage, _in(ChatMessage.conversation_id, chat_ids))
    _delete(session, result, "conversations", Conversation, _in(Conversation.id, chat_ids))
    # Desk: anonymized, ids kept (analytics cursors), the audit trail unlinked.
    handoffs = list(session.scalars(select(HandoffRequest).where(
        or_(HandoffRequest.member_id == mid, _in(HandoffRequest.conversation_id, senders)))))
    for handoff in handoffs:
        handoff.member_id = None
        handoff.conversation_id = f"erased-h{handoff.id}"
        handoff.note = None
        if handoff.status in ("queued", "assigned"):
            handoff.status, handoff.resolved_at = "cancelled", now
    result.table("handoff_requests").found = result.table("handoff_requests").anonymized = len(handoffs)
    ratings = list(session.scalars(select(CsatRating).where(or_(CsatRating.member_id == mid, _in(CsatRating.conversation_id, senders)))))
    for rating in ratings:
        rating.member_id = None
        rating.conversation_id = f"erased-r{rating.id}"
    result.table("csat_ratings").found = result.table("csat_ratings").anonymized = len(ratings)
    handoff_ids = [h.id for h in handoffs]
    audit = session.execute(
        update(AgentAction)
        .where(or_(_in(AgentAction.conversation_id, senders), _in(AgentAction.handoff_id, handoff_ids)))
        .where(~AgentAction.kind.startswith("privacy_"))
        .values(conversation_id=None, handoff_id=None, detail=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    result.table("agent_actions").found = result.table("agent_actions").anonymized = audit
    _delete(session, result, "complaints", Complaint, or_(Complaint.member_id == mid, _in(Complaint.conversation_id, senders)))
    # Behaviour and profile.
    _delete(session, result, "browse_events", BrowseEvent, BrowseEvent.member_id == mid)
    _delete(session, result, "member_profiles", MemberProfileRow, MemberProfileRow.member_id == mid)
    _delete(session, result, "points_ledger", PointsEntry, PointsEntry.member_id == mid)
    _delete(session, result, "coupons", Coupon, (Coupon.member_id == mid) & (Coupon.status != "used") & Coupon.order_id.is_(None))
    result.table("coupons").kept = _count(session, select(Coupon.code).where(Coupon.member_id == mid))
    # Orders: kept for accounting, de-personalised.
    order_ids = list(session.scalars(select(Order.order_id).where(Order.member_id == mid)))
    _delete(session, result, "shipment_events", ShipmentEvent, _in(ShipmentEvent.order_id, order_ids))
    orders = session.execute(
        update(Order).where(Order.member_id == mid).values(shipping_city="", tracking_no=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    result.table("orders").found = result.table("orders").anonymized = orders
    result.table("order_items").kept = _count(session, select(OrderItem.id).where(_in(OrderItem.order_id, order_ids)))
    returns = session.execute(
        update(ReturnRequest).where(ReturnRequest.member_id == mid).values(reason="")
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    result.table("return_requests").found = result.table("return_requests").anonymized = returns
    # The account itself.
    member = session.get(Member, mid)
    if member is not None:
        member.name, member.phone, member.birthday, member.city, member.gender = ERASED_NAME, "", None, "", "U"
        member.consent_personalization, member.consent_updated_at = False, now
        result.table("members").found = result.table("members").anonymized = 1
    result.table("privacy_requests").kept = _count(session, select(PrivacyRequest.id).where(PrivacyRequest.member_id == mid))


def _count(session: Session, query: Any) -> int:
    return len(list(session.scalars(query)))


def _persist(factory: sessionmaker[Session], report: ErasureReport, request_id: int | None, now: datetime) -> None:
    """Save the report and move the privacy request(s) it carried out; a failure here fails the report."""
    try:
        with factory() as session:
            PrivacyReport.__table__.create(session.connection(), checkfirst=True)
            requests = _requests(session, report.member_id, request_id)
            if not requests and report.ok:
                request = PrivacyRequest(member_id=report.member_id, kind="delete", created_at=now, status="received")
                session.add(request)
                session.flush()
                requests = [request]
            for request in requests:
                request.status = "completed" if report.ok else "failed"
            report.request_id = ",".join(f"PR{r.id:06d}" for r in requests) or None
            row = PrivacyReport(
                member_id=report.member_id, request_id=requests[0].id if requests else None, kind="erasure",
                status=report.status, requested_by=report.requested_by, created_at=now,
                finished_at=resolve_now(None), report={},
            )
            session.add(row)
            session.flush()
            report.report_id = row.id
            row.report = report.as_dict()
            session.commit()
    except SQLAlchemyError as exc:
        report.status = "failed"
        report.verification.problems.append(f"the report could not be saved: {str(getattr(exc, 'orig', exc)).splitlines()[0]}")


def _requests(session: Session, member_id: str, request_id: int | None) -> list[PrivacyRequest]:
    if request_id is not None:
        request = session.get(PrivacyRequest, request_id)
        return [request] if request is not None and request.member_id == member_id else []
    return list(session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.member_id == member_id, PrivacyRequest.kind == "delete",
                                     PrivacyRequest.status.in_(OPEN_STATUSES)).order_by(PrivacyRequest.id)
    ))


def is_erased(session: Session, member_id: str) -> bool:
    """Whether an erasure ran for ``member_id`` (its account is closed, even if the run must be repeated)."""
    return session.scalar(select(PrivacyReport.id).where(PrivacyReport.member_id == member_id).limit(1)) is not None


def load_report(session: Session, report_id: int) -> dict[str, Any] | None:
    """A saved erasure report (its JSON plus ``report_id``, ``status``, ``created_at``), or None."""
    if "privacy_reports" not in existing_tables(session):
        return None
    row = session.get(PrivacyReport, report_id)
    if row is None:
        return None
    return {**(row.report or {}), "report_id": row.id, "status": row.status, "member_id": row.member_id,
            "requested_by": row.requested_by, "created_at": iso(row.created_at), "finished_at": iso(row.finished_at)}

