"""Right to erasure: everything goes (or is anonymized), the re-scan proves it, B is untouched."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import create_engine, func, select, text

from personalization.analytics.models import AnalyticsConversation, AnalyticsTurn
from personalization.models import ChatMessage, Conversation, Member, PrivacyReport, PrivacyRequest
from personalization.rights import (
    ERASED_NAME,
    RasaEventStore,
    RasaStores,
    erase_member,
    export_member_data,
    load_report,
)
from tests.analytics.builders import EventLog, write_events

SENDERS_A = {"C-a-web", "rest-a"}


def _erase(world, **kwargs):
    return erase_member(factory=world.factory, member_id=world.a.member_id, rasa=world.rasa, **kwargs)


def _rasa_rows(path, senders) -> int:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        n = sum(c.scalar(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": s}) for s in senders)
    engine.dispose()
    return n


def _everything_of_b(world) -> dict:
    """Every count of B's export plus B's raw rows in Rasa's stores and the analytics tables."""
    with world.session() as s:
        document = export_member_data(session=s, member_id=world.b.member_id, rasa=world.rasa)
        analytics = s.scalar(select(func.count()).select_from(AnalyticsConversation).where(AnalyticsConversation.sender_id == "C-b-web"))
    document.pop("generated_at")
    return {"document": json.dumps(document, sort_keys=True, ensure_ascii=False), "analytics": analytics,
            "tracker": _rasa_rows(world.tracker_path, {"C-b-web"}), "broker": _rasa_rows(world.events_path, {"C-b-web"}),
            "anon": _rasa_rows(world.events_path, {"C-anon"})}


def test_erasure_removes_the_member_everywhere_and_verifies_it(world) -> None:
    report = _erase(world)
    assert report.ok, report.verification.problems
    assert report.verification.ok and report.verification.checked == ["member_id", "name", "phone"]
    app = report.stores["app"].tables
    assert app["browse_events"].deleted > 0 and app["points_ledger"].deleted > 0 and app["chat_messages"].deleted == 3
    assert app["members"].anonymized == 1 and app["orders"].anonymized > 0 and app["order_items"].kept > 0
    assert report.stores["rasa_tracker"].tables["events"].deleted == sum(1 for s, _ in world.log.rows if s in SENDERS_A)
    assert report.stores["rasa_broker"].tables["events"].deleted == report.stores["rasa_tracker"].tables["events"].deleted
    assert _rasa_rows(world.tracker_path, SENDERS_A) == 0 and _rasa_rows(world.events_path, SENDERS_A) == 0
    with world.session() as s:
        member = s.get(Member, world.a.member_id)
        assert (member.name, member.phone, member.birthday, member.city) == (ERASED_NAME, "", None, "")
        assert member.consent_personalization is False
        document = export_member_data(session=s, member_id=world.a.member_id, rasa=world.rasa)
        assert s.scalar(select(func.count()).select_from(Conversation).where(Conversation.public_id == "C-a-web")) == 0
    for kind in ("browse_events", "points_entries", "complaints", "handoffs", "csat_ratings", "conversations",
                 "chat_messages", "rasa_tracker_events", "rasa_broker_events", "analytics_conversations", "analytics_turns"):
        assert document["counts"][kind] == 0, kind
    assert document["stored_profile"] is None
    dumped = json.dumps(document, ensure_ascii=False)
    assert world.a.phone not in dumped and world.a.name not in dumped


def test_another_members_data_is_untouched(world) -> None:
    before = _everything_of_b(world)
    assert before["tracker"] > 0 and before["analytics"] > 0
    assert _erase(world).ok
    assert _everything_of_b(world) == before


def test_the_report_is_saved_and_the_request_completed(world) -> None:
    report = _erase(world)
    with world.session() as s:
        saved = load_report(s, report.report_id)
        requests = {r.kind: r.status for r in s.scalars(select(PrivacyRequest).where(PrivacyRequest.member_id == world.a.member_id))}
        row = s.get(PrivacyReport, report.report_id)
    assert saved["status"] == "completed" and saved["stores"]["app"]["tables"]["members"]["anonymized"] == 1
    assert requests["delete"] == "completed"
    stored = json.dumps(row.report, ensure_ascii=False)
    assert world.a.name not in stored and world.a.phone not in stored


def test_erasing_twice_is_fine(world) -> None:
    first = _erase(world)
    second = _erase(world)
    assert first.ok and second.ok and second.report_id != first.report_id
    assert second.stores["rasa_broker"].tables["events"].found == 0
    assert second.stores["app"].tables["browse_events"].found == 0


def test_a_leftover_makes_the_verification_fail_loudly(world) -> None:
    # A's phone typed into an anonymous visitor's web chat: not tied to A, so not erased, but found.
    with world.session() as s:
        conversation = Conversation(public_id="C-stranger", created_at=datetime(2026, 10, 14), updated_at=datetime(2026, 10, 14))
        s.add(conversation)
        s.flush()
        s.add(ChatMessage(conversation_id=conversation.id, seq=1, sender="member", text=f"帮我查 {world.a.phone}",
                          created_at=datetime(2026, 10, 14)))
        s.commit()
    report = _erase(world)
    assert report.status == "failed" and not report.verification.ok
    assert report.verification.stores["app"]["hits"] == {"chat_messages.text": {"phone": 1}}
    assert any("chat_messages.text" in p for p in report.verification.problems)
    with world.session() as s:
        assert {r.status for r in s.scalars(select(PrivacyRequest).where(PrivacyRequest.kind == "delete"))} == {"failed"}


def test_analytics_pipeline_after_erasure_does_not_resurrect_and_still_reads_new_events(world) -> None:
    with world.session() as s:
        top = s.scalar(select(func.max(AnalyticsTurn.event_id)))
    report = _erase(world)
    assert report.ok
    # A's REST conversation held the newest broker rows: a tombstone keeps the top id taken.
    assert report.stores["rasa_broker"].tables["events_tombstone"].kept == 1
    later = EventLog()
    later.user("C-b-web", datetime(2026, 10, 14, 12), "还有别的推荐吗", "ask_recommendation", member=world.b.member_id)
    write_events(world.events_path, later)
    summary = world.pipeline()
    assert summary["events_applied"] >= 1
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(AnalyticsConversation).where(
            (AnalyticsConversation.member_id == world.a.member_id) | AnalyticsConversation.sender_id.in_(SENDERS_A))) == 0
        new_turn = s.scalar(select(AnalyticsTurn).where(AnalyticsTurn.event_id > top))
    assert new_turn is not None and new_turn.intent == "ask_recommendation"


def test_an_unreachable_store_fails_the_erasure_without_a_traceback(world, tmp_path) -> None:
    broken = tmp_path / "tracker-broken.db"
    broken.write_bytes(b"not a database at all " * 200)
    rasa = RasaStores(tracker=RasaEventStore("rasa_tracker", f"sqlite:///{broken}"), broker=world.rasa.broker)
    report = erase_member(factory=world.factory, member_id=world.a.member_id, rasa=rasa)
    assert report.status == "failed"
    assert report.stores["rasa_tracker"].status == "failed" and report.stores["rasa_tracker"].error
    assert report.stores["app"].status == "ok" and report.report_id is not None
    broken.unlink()  # the store comes back (here: never written) and the erasure is run again
    again = erase_member(factory=world.factory, member_id=world.a.member_id, rasa=rasa)
    rasa.tracker.close()
    assert again.ok and again.stores["rasa_tracker"].status == "absent"


def test_a_member_sharing_the_name_is_not_a_failure(world) -> None:
    with world.session() as s:
        twin = s.get(Member, world.b.member_id)
        twin.name = world.a.name
        s.commit()
    report = _erase(world)
    assert report.ok
    assert report.verification.stores["app"]["shared"] == {"name": 1}
    with world.session() as s:
        assert s.get(Member, world.b.member_id).name == world.a.name


def test_unknown_member_erases_nothing(world) -> None:
    assert erase_member(factory=world.factory, member_id="M999999", rasa=world.rasa) is None
    assert erase_member(factory=world.factory, member_id="not-an-id", rasa=world.rasa) is None
