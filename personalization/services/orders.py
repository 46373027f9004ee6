"""A member's orders with items and shipping timeline. Never shows another member's order."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from personalization.models import Order
from personalization.services._common import find_member, iso, money

# Order status -> (Chinese, English) label.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "pending_payment": ("待付款", "Awaiting payment"),
    "paid": ("已付款，待发货", "Paid, awaiting shipment"),
    "shipped": ("已发货", "Shipped"),
    "delivered": ("已签收", "Delivered"),
    "completed": ("已完成", "Completed"),
    "cancelled": ("已取消", "Cancelled"),
    "returned": ("已退货", "Returned"),
}

# Carrier (as stored, Chinese) -> English name.
CARRIER_EN: dict[str, str] = {
    "顺丰速运": "SF Express",
    "京东物流": "JD Logistics",
    "中通快递": "ZTO Express",
    "圆通速递": "YTO Express",
    "韵达快递": "Yunda Express",
}


def normalize_order_id(order_id: object) -> str | None:
    """``" dd 2026-10150123 "`` -> ``"DD202610150123"``: upper case, no spaces or hyphens.

    None for non-text or empty input.
    """
    if not isinstance(order_id, str):
        return None
    normalized = re.sub(r"[\s\-]", "", order_id).upper()
    return normalized or None


def order_dict(order: Order) -> dict[str, Any]:
    """An order as a JSON-ready dict (OrderDict)."""
    status_zh, status_en = STATUS_LABELS.get(order.status, (order.status, order.status))
    timeline = [
        {"at": iso(e.at), "status": e.status, "description_zh": e.description_zh, "description_en": e.description_en}
        for e in order.timeline
    ]
    return {
        "order_id": order.order_id,
        "status": order.status,
        "status_zh": status_zh,
        "status_en": status_en,
        "created_at": iso(order.created_at),
        "total_amount": money(order.total_amount),
        "carrier": order.carrier,
        "carrier_en": CARRIER_EN.get(order.carrier, order.carrier) if order.carrier else None,
        "tracking_no": order.tracking_no,
        "items": [
            {
                "sku": item.sku,
                "title_zh": item.product.title_zh,
                "title_en": item.product.title_en,
                "quantity": int(item.quantity),
                "unit_price": money(item.unit_price),
            }
            for item in sorted(order.items, key=lambda i: i.id)
        ],
        "timeline": timeline,
        "latest_event": timeline[-1] if timeline else None,
    }


def _with_details(query: Select[tuple[Order]]) -> Select[tuple[Order]]:
    """Load items and timeline with the orders (two queries in all, not two per order)."""
    return query.options(selectinload(Order.items), selectinload(Order.timeline))


def get_order(*, session: Session, member_id: str | None, order_id: str | None) -> dict[str, Any] | None:
    """One of the member's orders.

    Args:
        session: the caller's session.
        member_id: the member asking.
        order_id: the order id (spaces and case are ignored).

    Returns:
        The OrderDict, or None when the order does not exist or belongs to someone else
        (the two cases look the same, so nobody learns about other members' orders).
    """
    member = find_member(session=session, member_id=member_id)
    normalized = normalize_order_id(order_id)
    if member is None or normalized is None:
        return None
    order = session.scalar(
        _with_details(select(Order)).where(Order.order_id == normalized, Order.member_id == member.member_id)
    )
    return order_dict(order) if order else None


def latest_orders(*, session: Session, member_id: str | None, limit: int = 3) -> list[dict[str, Any]]:
    """The member's most recent orders, newest first (empty for an unknown member)."""
    member = find_member(session=session, member_id=member_id)
    if member is None or limit <= 0:
        return []
    orders = session.scalars(
        _with_details(select(Order))
        .where(Order.member_id == member.member_id)
        .order_by(Order.created_at.desc(), Order.order_id.desc())
        .limit(limit)
    )
    return [order_dict(o) for o in orders]
