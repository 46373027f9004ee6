"""orders: a member's own orders only, with items and shipping timeline."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import Order
from personalization.services import orders


def _an_order_of(session: Session, member_id: str, *statuses: str) -> Order:
    query = select(Order).where(Order.member_id == member_id).order_by(Order.created_at.desc())
    if statuses:
        query = query.where(Order.status.in_(statuses))
    return session.scalars(query).first()


def test_get_order_returns_the_members_own_order(session: Session, active_member_id: str) -> None:
    order = _an_order_of(session, active_member_id, "completed")
    result = orders.get_order(session=session, member_id=active_member_id, order_id=order.order_id)
    assert result["order_id"] == order.order_id
    assert result["status"] == "completed" and result["status_zh"] == "已完成" and result["status_en"] == "Completed"
    assert result["total_amount"] == float(order.total_amount)
    assert [i["sku"] for i in result["items"]] == [i.sku for i in sorted(order.items, key=lambda i: i.id)]
    assert result["timeline"][0]["status"] == "created"
    assert result["latest_event"] == result["timeline"][-1]
    assert result["latest_event"]["status"] == "completed"
    assert result["carrier"] and result["carrier_en"] and result["tracking_no"]


def test_get_order_refuses_another_members_order(session: Session, active_member_id: str, segments) -> None:  # type: ignore[no-untyped-def]
    other = next(m for ids in segments.values() for m in ids if m != active_member_id)
    order = _an_order_of(session, other)
    assert orders.get_order(session=session, member_id=active_member_id, order_id=order.order_id) is None
    assert orders.get_order(session=session, member_id=other, order_id=order.order_id) is not None


def test_get_order_ignores_case_and_spaces_in_the_id(session: Session, active_member_id: str) -> None:
    order = _an_order_of(session, active_member_id)
    result = orders.get_order(session=session, member_id=active_member_id, order_id=f"  {order.order_id.lower()} ")
    assert result is not None and result["order_id"] == order.order_id


@pytest.mark.parametrize("order_id", ["DD000000000000", "", "   ", None, "'; DROP TABLE orders; --"])
def test_get_order_with_unknown_id_is_none(session: Session, active_member_id: str, order_id: str | None) -> None:
    assert orders.get_order(session=session, member_id=active_member_id, order_id=order_id) is None


def test_latest_orders_are_newest_first_and_limited(session: Session, active_member_id: str) -> None:
    expected = session.scalars(
        select(Order.order_id).where(Order.member_id == active_member_id).order_by(Order.created_at.desc()).limit(3)
    ).all()
    result = orders.latest_orders(session=session, member_id=active_member_id, limit=3)
    assert [o["order_id"] for o in result] == expected
    assert len(orders.latest_orders(session=session, member_id=active_member_id, limit=1)) == 1


def test_cancelled_order_has_no_carrier(session: Session) -> None:
    order = session.scalars(select(Order).where(Order.status == "cancelled")).first()
    result = orders.get_order(session=session, member_id=order.member_id, order_id=order.order_id)
    assert result["carrier"] is None and result["tracking_no"] is None
    assert result["latest_event"]["status"] == "cancelled"


def test_unknown_member_has_no_orders(session: Session) -> None:
    assert orders.latest_orders(session=session, member_id="M999999") == []
