"""requests: returns (七天无理由), complaints and hand-offs record rows the right way."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.desk.handoff import PRIORITY
from personalization.models import Complaint, HandoffRequest, Order, ReturnRequest, ShipmentEvent
from personalization.services import requests

from .conftest import NOW


def _delivered_order(
    session: Session, member_id: str, order_id: str, *, days_ago: float, status: str = "delivered"
) -> str:
    created = NOW - timedelta(days=days_ago + 3)
    session.add(
        Order(
            order_id=order_id,
            member_id=member_id,
            created_at=created,
            status=status,
            total_amount=Decimal("199.00"),
            shipping_city="上海",
            carrier="顺丰速运",
            tracking_no="SF0000000000001",
        )
    )
    session.add(
        ShipmentEvent(order_id=order_id, at=created, status="created", description_zh="下单", description_en="Placed")
    )
    if status in ("delivered", "completed"):
        session.add(
            ShipmentEvent(
                order_id=order_id,
                at=NOW - timedelta(days=days_ago),
                status="delivered",
                description_zh="已签收",
                description_en="Delivered",
            )
        )
    session.flush()
    return order_id


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_return_within_seven_days_of_delivery_is_recorded(session: Session, active_member_id: str) -> None:
    order_id = _delivered_order(session, active_member_id, "DD209901010001", days_ago=2)
    result = requests.record_return(
        session=session, member_id=active_member_id, order_id=order_id, reason="尺码不合适", now=NOW
    )
    assert result["eligible"] is True and result["status"] == "submitted"
    assert result["request_id"].startswith("RT")
    row = session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order_id)).one()
    assert (row.member_id, row.reason, row.created_at) == (active_member_id, "尺码不合适", NOW)
    assert "7天" in result["policy_zh"] and "7 days" in result["policy_en"]


def test_return_after_seven_days_is_refused_and_not_recorded(session: Session, active_member_id: str) -> None:
    order_id = _delivered_order(session, active_member_id, "DD209901010002", days_ago=8, status="completed")
    before = _count(session, ReturnRequest)
    result = requests.record_return(
        session=session, member_id=active_member_id, order_id=order_id, reason="不想要了", now=NOW
    )
    assert result["eligible"] is False and result["request_id"] is None
    assert result["reason_en"] == "The 7-day return period after delivery has passed."
    assert _count(session, ReturnRequest) == before


def test_return_of_an_order_still_in_transit_is_refused(session: Session, active_member_id: str) -> None:
    order_id = _delivered_order(session, active_member_id, "DD209901010003", days_ago=1, status="shipped")
    result = requests.record_return(session=session, member_id=active_member_id, order_id=order_id, reason="x", now=NOW)
    assert result["eligible"] is False and "配送中" in result["reason_zh"]


def test_return_of_another_members_order_is_refused_without_details(
    session: Session, active_member_id: str, segments
) -> None:  # type: ignore[no-untyped-def]
    other = segments[("normal", "active")][0]
    order_id = _delivered_order(session, other, "DD209901010004", days_ago=1)
    before = _count(session, ReturnRequest)
    result = requests.record_return(session=session, member_id=active_member_id, order_id=order_id, reason="x", now=NOW)
    assert result["eligible"] is False and result["reason_en"].startswith("We could not find that order")
    assert _count(session, ReturnRequest) == before


def test_asking_twice_to_return_an_order_gives_the_same_request(session: Session, active_member_id: str) -> None:
    order_id = _delivered_order(session, active_member_id, "DD209901010005", days_ago=1)
    first = requests.record_return(session=session, member_id=active_member_id, order_id=order_id, reason="x", now=NOW)
    second = requests.record_return(session=session, member_id=active_member_id, order_id=order_id, reason="x", now=NOW)
    assert first == second
    assert (
        session.scalar(select(func.count()).select_from(ReturnRequest).where(ReturnRequest.order_id == order_id)) == 1
    )


def test_complaint_is_recorded_with_member_and_text(session: Session, active_member_id: str) -> None:
    result = requests.record_complaint(
        session=session, conversation_id="conv-1", member_id=active_member_id, text="快递太慢了", now=NOW
    )
    assert result["status"] == "open" and result["complaint_id"].startswith("CM")
    row = session.scalars(select(Complaint).where(Complaint.conversation_id == "conv-1")).one()
    assert (row.member_id, row.text, row.status) == (active_member_id, "快递太慢了", "open")


def test_complaint_from_unknown_member_is_stored_as_anonymous(session: Session) -> None:
    requests.record_complaint(session=session, conversation_id="conv-2", member_id="M999999", text="bad")
    assert session.scalars(select(Complaint).where(Complaint.conversation_id == "conv-2")).one().member_id is None


def test_handoff_twice_in_one_conversation_returns_the_queued_request(session: Session, active_member_id: str) -> None:
    first = requests.record_handoff(
        session=session, conversation_id="conv-3", member_id=active_member_id, reason="member_request", now=NOW
    )
    second = requests.record_handoff(
        session=session, conversation_id="conv-3", member_id=active_member_id, reason="member_request", now=NOW
    )
    assert first == second
    count = session.scalar(
        select(func.count()).select_from(HandoffRequest).where(HandoffRequest.conversation_id == "conv-3")
    )
    assert count == 1


def test_handoff_after_the_previous_one_was_resolved_queues_a_new_request(
    session: Session, active_member_id: str
) -> None:
    first = requests.record_handoff(
        session=session, conversation_id="conv-4", member_id=active_member_id, reason="member_request", now=NOW
    )
    session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == "conv-4")).one().status = "resolved"
    second = requests.record_handoff(
        session=session, conversation_id="conv-4", member_id=active_member_id, reason="member_request", now=NOW
    )
    assert second["handoff_id"] != first["handoff_id"]


def test_handoff_priority_rises_with_tier_and_serves_higher_tiers_first(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    anonymous = requests.record_handoff(
        session=session, conversation_id="q-anon", member_id=None, reason="member_request", now=NOW
    )
    # Tier weights (personalization.desk.handoff.PRIORITY): normal and anonymous 0, silver 10, diamond 30.
    normal = requests.record_handoff(
        session=session,
        conversation_id="q-normal",
        member_id=segments[("silver", "active")][0],
        reason="member_request",
        now=NOW,
    )
    diamond = requests.record_handoff(
        session=session,
        conversation_id="q-diamond",
        member_id=segments[("diamond", "active")][0],
        reason="member_request",
        now=NOW,
    )
    assert anonymous["priority"] < normal["priority"] < diamond["priority"]
    assert diamond["position_in_queue"] == 1
    again = requests.record_handoff(
        session=session, conversation_id="q-anon", member_id=None, reason="member_request", now=NOW
    )
    assert again["position_in_queue"] == 3


def test_complaint_handoff_gets_the_complaint_weight(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    member_id = segments[("normal", "active")][0]
    plain = requests.record_handoff(
        session=session, conversation_id="p-1", member_id=member_id, reason="member_request", now=NOW
    )
    complaint = requests.record_handoff(
        session=session, conversation_id="p-2", member_id=member_id, reason="complaint", now=NOW
    )
    assert complaint["priority"] == plain["priority"] + PRIORITY["reason"]["complaint"]


def test_handoff_needs_a_conversation_id(session: Session) -> None:
    with pytest.raises(ValueError):
        requests.record_handoff(session=session, conversation_id=" ", member_id=None, reason="member_request")
