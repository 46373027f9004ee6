"""Right of access: the export holds everything about the member, and nothing about anyone else."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from personalization.analytics.models import AnalyticsConversation
from personalization.models import (
    BrowseEvent,
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
from personalization.rights import EXPORT_FORMAT, EXPORT_VERSION, RasaEventStore, RasaStores, export_member_data


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _export(world, member_id):
    with world.session() as session:
        return export_member_data(session=session, member_id=member_id, rasa=world.rasa)


def test_export_holds_every_kind_of_data_about_the_member(world) -> None:
    mid = world.a.member_id
    document = _export(world, mid)
    counts = document["counts"]
    with world.session() as s:
        expected = {
            "orders": _count(s, Order, Order.member_id == mid),
            "order_items": _count(s, OrderItem, OrderItem.order_id.in_(select(Order.order_id).where(Order.member_id == mid))),
            "coupons": _count(s, Coupon, Coupon.member_id == mid),
            "points_entries": _count(s, PointsEntry, PointsEntry.member_id == mid),
            "browse_events": _count(s, BrowseEvent, BrowseEvent.member_id == mid),
            "returns": _count(s, ReturnRequest, ReturnRequest.member_id == mid),
            "complaints": _count(s, Complaint, Complaint.member_id == mid),
            "handoffs": _count(s, HandoffRequest, HandoffRequest.member_id == mid),
            "csat_ratings": _count(s, CsatRating, CsatRating.member_id == mid),
            "privacy_requests": _count(s, PrivacyRequest, PrivacyRequest.member_id == mid),
            "conversations": _count(s, Conversation, Conversation.member_id == mid),
            "chat_messages": 3,
            "analytics_conversations": _count(s, AnalyticsConversation, AnalyticsConversation.member_id == mid),
        }
    assert min(expected.values()) > 0  # the world gives the member every kind of row
    assert {k: counts[k] for k in expected} == expected
    assert document["format"] == EXPORT_FORMAT and document["version"] == EXPORT_VERSION and document["generated_at"]
    assert document["profile"]["name"] == world.a.name and document["profile"]["phone"] == world.a.phone
    assert document["stored_profile"]["segment"] == "loyal"
    assert [r["kind"] for r in document["consent"]["history"]] == ["export", "delete"]
    assert all(o["items"] and o["timeline"] for o in document["orders"] if o["status"] != "cancelled")


def test_export_includes_the_rasa_events_of_every_conversation_of_the_member(world) -> None:
    document = _export(world, world.a.member_id)
    senders = {"C-a-web", "rest-a"}  # rest-a is tied to the member only by its member_id slot
    assert set(document["rasa"]["senders"]) == senders
    expected = sum(1 for sender, _ in world.log.rows if sender in senders)
    for store in ("rasa_tracker", "rasa_broker"):
        part = document["rasa"][store]
        assert part["status"] == "ok"
        assert {e["sender_id"] for e in part["events"]} == senders and len(part["events"]) == expected
    assert any(world.a.phone in (e["event"].get("text") or "") for e in document["rasa"]["rasa_tracker"]["events"])
    assert document["counts"]["analytics_turns"] == 3  # two in the web chat, one in the REST chat


def test_export_is_json_and_holds_nothing_of_another_member(world) -> None:
    text = json.dumps(_export(world, world.a.member_id), ensure_ascii=False)
    assert world.a.phone in text
    assert world.b.phone not in text and world.b.name not in text and world.b.member_id not in text
    assert "C-anon" not in text


def test_unknown_or_malformed_member_has_no_export(world) -> None:
    assert _export(world, "M999999") is None
    assert _export(world, "'; DROP TABLE members; --") is None


def test_missing_and_broken_rasa_stores_are_reported_not_raised(world, tmp_path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    rasa = RasaStores(tracker=RasaEventStore("rasa_tracker", f"sqlite:///{tmp_path / 'missing.db'}"),
                      broker=RasaEventStore("rasa_broker", f"sqlite:///{broken}"))
    with world.session() as session:
        document = export_member_data(session=session, member_id=world.a.member_id, rasa=rasa)
    rasa.close()
    assert document["rasa"]["rasa_tracker"]["status"] == "absent"
    assert document["rasa"]["rasa_broker"]["status"] == "failed" and document["rasa"]["rasa_broker"]["error"]
    assert not (tmp_path / "missing.db").exists()  # never creates Rasa's file
    assert document["counts"]["orders"] > 0
