"""Member requests the assistant records: returns, complaints and hand-offs to a human agent.

These functions add rows and flush (so ids exist); the caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Complaint, Order, ReturnRequest, ShipmentEvent
from personalization.services._common import find_member, resolve_now
from personalization.services.orders import normalize_order_id

RETURN_WINDOW_DAYS = 7
RETURN_POLICY_ZH = "签收后7天内支持七天无理由退货，商品需保持完好、不影响二次销售。"
RETURN_POLICY_EN = (
    "Items can be returned within 7 days of delivery with no reason needed, as long as they are unused and resalable."
)
# Why a return cannot be recorded, by order status: (Chinese, English).
_NOT_RETURNABLE: dict[str, tuple[str, str]] = {
    "not_found": (
        "没有在你的账户里找到这个订单，请核对订单号。",
        "We could not find that order on your account; please check the order number.",
    ),
    "pending_payment": (
        "这个订单还没有付款，可以直接取消订单。",
        "This order has not been paid yet; you can simply cancel it.",
    ),
    "paid": (
        "这个订单还没有发货，可以直接申请取消订单。",
        "This order has not shipped yet; you can ask to cancel it instead.",
    ),
    "shipped": (
        "这个订单还在配送中，签收后7天内可以申请退货。",
        "This order is still on its way; you can request a return within 7 days of delivery.",
    ),
    "cancelled": ("这个订单已取消，无需退货。", "This order was cancelled, so there is nothing to return."),
    "returned": ("这个订单已经退货了。", "This order has already been returned."),
    "expired": ("已超过签收后7天的无理由退货期限。", "The 7-day return period after delivery has passed."),
}
_RETURNABLE_STATUSES = ("delivered", "completed")

HANDOFF_CLOSED_STATUSES = ("resolved", "closed", "cancelled")


def _public_id(prefix: str, row_id: int) -> str:
    return f"{prefix}{row_id:06d}"


def _not_eligible(order_id: str | None, why: str) -> dict[str, Any]:
    reason_zh, reason_en = _NOT_RETURNABLE[why]
    return {
        "request_id": None,
        "order_id": order_id,
        "status": "not_eligible",
        "eligible": False,
        "policy_zh": RETURN_POLICY_ZH,
        "policy_en": RETURN_POLICY_EN,
        "reason_zh": reason_zh,
        "reason_en": reason_en,
    }


def _return_result(request: ReturnRequest) -> dict[str, Any]:
    return {
        "request_id": _public_id("RT", request.id),
        "order_id": request.order_id,
        "status": request.status,
        "eligible": True,
        "policy_zh": RETURN_POLICY_ZH,
        "policy_en": RETURN_POLICY_EN,
    }


def record_return(
    *,
    session: Session,
    member_id: str | None,
    order_id: str | None,
    reason: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a return request (七天无理由退货) if the order qualifies.

    The order must be the member's and delivered or completed no more than 7 days ago. A
    request that does not qualify is not recorded. Asking twice for the same order returns the
    request already recorded.

    Returns:
        ``{"request_id", "order_id", "status", "eligible", "policy_zh", "policy_en"}``, plus
        ``reason_zh``/``reason_en`` when not eligible (then ``request_id`` is None).
    """
    now = resolve_now(now)
    member = find_member(session=session, member_id=member_id)
    normalized = normalize_order_id(order_id)
    order = (
        session.scalar(select(Order).where(Order.order_id == normalized, Order.member_id == member.member_id))
        if member is not None and normalized
        else None
    )
    if order is None:
        return _not_eligible(normalized, "not_found")

    existing = session.scalar(
        select(ReturnRequest).where(ReturnRequest.order_id == order.order_id).order_by(ReturnRequest.id).limit(1)
    )
    if existing is not None:
        return _return_result(existing)
    if order.status not in _RETURNABLE_STATUSES:
        return _not_eligible(order.order_id, order.status if order.status in _NOT_RETURNABLE else "not_found")

    delivered_at = session.scalar(
        select(func.max(ShipmentEvent.at)).where(
            ShipmentEvent.order_id == order.order_id, ShipmentEvent.status == "delivered"
        )
    )
    if delivered_at is None or now - delivered_at > timedelta(days=RETURN_WINDOW_DAYS):
        return _not_eligible(order.order_id, "expired")

    request = ReturnRequest(
        member_id=order.member_id,
        order_id=order.order_id,
        reason=(reason or "").strip() or "七天无理由退货",
        created_at=now,
        status="submitted",
    )
    session.add(request)
    session.flush()
    return _return_result(request)


def record_complaint(
    *,
    session: Session,
    conversation_id: str,
    member_id: str | None,
    text: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a complaint from a conversation (member optional; unknown ids are stored as anonymous).

    Returns:
        ``{"complaint_id", "status"}``.

    Raises:
        ValueError: if ``conversation_id`` is empty.
    """
    if not conversation_id or not str(conversation_id).strip():
        raise ValueError("conversation_id is required")
    member = find_member(session=session, member_id=member_id)
    complaint = Complaint(
        conversation_id=str(conversation_id).strip(),
        member_id=member.member_id if member else None,
        text=(text or "").strip(),
        created_at=resolve_now(now),
        status="open",
    )
    session.add(complaint)
    session.flush()
    return {"complaint_id": _public_id("CM", complaint.id), "status": complaint.status}


def record_handoff(
    *,
    session: Session,
    conversation_id: str,
    member_id: str | None,
    reason: str,
    emotion: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Queue the conversation for a human agent.

    Priority follows :data:`personalization.desk.handoff.PRIORITY` (tier, emotion and reason
    weights; waiting time adds to it in the queue). A conversation that already has an active
    (queued or assigned) request gets that request back, never a second one.

    Returns:
        ``{"handoff_id", "handoff_ref", "position_in_queue", "priority", "status"}``:
        ``handoff_id`` is the row id the desk uses (``claim(session, handoff_id, ...)``),
        ``handoff_ref`` its display form ``HO000123``; ``position_in_queue`` is 0 once assigned.

    Raises:
        ValueError: if ``conversation_id`` is empty.
    """
    from personalization.desk import handoff as desk_handoff  # the desk builds on these services

    if not conversation_id or not str(conversation_id).strip():
        raise ValueError("conversation_id is required")
    now = resolve_now(now)
    request, _created = desk_handoff.enqueue(
        session, str(conversation_id).strip(), member_id=member_id, reason=reason, emotion=emotion, now=now
    )
    return {
        "handoff_id": request.id,
        "handoff_ref": _public_id("HO", request.id),
        "position_in_queue": desk_handoff.queue_position(session, request, now),
        "priority": request.priority,
        "status": request.status,
    }
