"""The incremental pipeline: what it stores, idempotence, crash-resume, app facts joined later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics import pipeline, rollups
from personalization.analytics.models import (
    AnalyticsConversation,
    AnalyticsCursor,
    AnalyticsDaily,
    AnalyticsRollupState,
    AnalyticsTurn,
)
from personalization.analytics.pipeline import (
    EventSource,
    EventSourceError,
    SqlEventSource,
    reset_cursors,
    run_pipeline,
)
from personalization.models import HandoffRequest
from tests.analytics.builders import EventLog, add_csat, app_db, write_events
from tests.analytics.conftest import D1, D2, World, at, build_world


def snapshot(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Every analytics row, keyed by natural keys (autoincrement ids left out), the daily rollup included."""
    with factory() as session:
        keys = {c.id: c.conversation_key for c in session.scalars(select(AnalyticsConversation))}
        conversations = {
            c.conversation_key: {k: v for k, v in vars(c).items() if not k.startswith("_") and k != "id"}
            for c in session.scalars(select(AnalyticsConversation))
        }
        turns = {
            (t.source, t.event_id): {
                **{k: v for k, v in vars(t).items() if not k.startswith("_") and k not in ("id", "conversation_id")},
                "conversation": keys[t.conversation_id],
            }
            for t in session.scalars(select(AnalyticsTurn))
        }
        cursors = {c.source: c.last_event_id for c in session.scalars(select(AnalyticsCursor))}
        rollup = snapshot_rollup(session)
    return {"conversations": conversations, "turns": turns, "cursors": cursors, "rollup": rollup}


def snapshot_rollup(session: Session) -> dict[Any, Any]:
    return {
        (r.day, r.tier, r.segment): (r.conversations, r.counts, r.turn_counts, sorted(r.coupon_codes))
        for r in session.scalars(select(AnalyticsDaily))
    }


def conversation(factory: sessionmaker[Session], key: str) -> AnalyticsConversation:
    with factory() as session:
        row = session.scalar(select(AnalyticsConversation).where(AnalyticsConversation.conversation_key == key))
        assert row is not None, key
        return row


def key_of(world: World, sender: str, nth: int = 0) -> str:
    """The conversation key of the ``nth`` session of ``sender`` (its session_started event id)."""
    ids = [i for i, (s, e) in enumerate(world.log.rows, start=1) if s == sender and e["event"] == "session_started"]
    return f"{sender}#{ids[nth]}"


def test_one_row_per_session_and_per_member_message(world: World) -> None:
    summary = run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=7)
    snap = snapshot(world.app.factory)
    assert summary["events_read"] == len(world.log.rows)
    assert summary["conversations_created"] == 5
    assert summary["cursor"] == len(world.log.rows)
    assert len(snap["conversations"]) == 5  # C-a has two sessions
    assert len(snap["turns"]) == 13
    first = conversation(world.app.factory, key_of(world, "C-a", 0))
    assert (first.member_id, first.tier, first.segment, first.channel) == ("M100001", "gold", "loyal", "rest")
    assert first.turns == 3 and first.intents == {"ask_recommendation": 2, "thank": 1}
    assert (first.first_polarity, first.last_polarity, first.last_emotion) == ("neutral", "positive", "joy")
    assert [step[0] for step in first.sentiment_path] == ["neutral", "positive", "positive"]
    assert (first.rec_shown, first.rec_engaged, first.resolved_by) == (2, True, "bot")


def test_handoff_agent_and_csat_are_joined_from_the_desk(world: World) -> None:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    row = conversation(world.app.factory, key_of(world, "C-b"))
    assert row.handoff_requested and row.handoff_id == world.handoff_id
    assert (row.handoff_reason, row.handoff_emotion, row.handoff_status) == ("member_request", "anger", "resolved")
    assert row.agent_id is not None and row.claimed_at == at(D1, 11, 1, 30)
    assert (row.csat, row.resolved_by, row.needs_refresh) == (5, "human", False)
    # The CSAT given by chat on day 2 belongs to C-a's second session, not its first.
    assert conversation(world.app.factory, key_of(world, "C-a", 1)).csat == 3
    assert conversation(world.app.factory, key_of(world, "C-a", 0)).csat is None


def test_fallback_action_marks_the_turn_it_answered(world: World) -> None:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=3)  # action and user event in different batches
    row = conversation(world.app.factory, key_of(world, "C-c"))
    assert (row.fallbacks, row.last_turn_fallback, row.resolved_by, row.tier) == (2, True, "unresolved", None)
    with world.app.factory() as session:
        flags = session.scalars(select(AnalyticsTurn.fallback).where(AnalyticsTurn.conversation_id == row.id).order_by(AnalyticsTurn.seq))
        assert list(flags) == [True, True]


def test_running_twice_changes_nothing(world: World) -> None:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=4)
    before = snapshot(world.app.factory)
    again = run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=4)
    assert again["events_read"] == 0 and again["turns_written"] == 0
    assert snapshot(world.app.factory) == before


def test_rereading_every_event_after_a_cursor_reset_changes_nothing(world: World) -> None:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=4)
    before = snapshot(world.app.factory)
    with world.app.factory() as session:
        reset_cursors(session)
        session.commit()
    again = run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=4)
    assert again["events_read"] == len(world.log.rows)
    assert again["events_applied"] == 0 and again["turns_written"] == 0 and again["conversations_created"] == 0
    assert snapshot(world.app.factory) == before


def test_new_events_are_added_incrementally(tmp_path: Path) -> None:
    """Half the events, a run, the other half, a run == all events in one run."""
    whole = build_world(tmp_path / "whole")
    run_pipeline(whole.app.factory, SqlEventSource(whole.events_url), batch=5)
    (tmp_path / "half").mkdir()
    half = build_world(tmp_path / "half")
    rows = half.log.rows
    events_db = tmp_path / "half" / "events2.db"
    cut = len(rows) // 2 + 3
    url = write_events(events_db, EventLog(rows=rows[:cut]))
    first = run_pipeline(half.app.factory, SqlEventSource(url), batch=5)
    write_events(events_db, EventLog(rows=rows[cut:]))  # appended to the same table
    second = run_pipeline(half.app.factory, SqlEventSource(url), batch=5)
    assert first["cursor"] == cut and second["cursor_before"] == cut and second["events_read"] == len(rows) - cut
    assert snapshot(half.app.factory) == snapshot(whole.app.factory)


class FailingSource:
    """Reads like ``inner`` but raises on read number ``fail_on`` (1-based), as a broker outage would."""

    def __init__(self, inner: EventSource, fail_on: int) -> None:
        self.inner, self.fail_on, self.reads = inner, fail_on, 0
        self.name = inner.name

    def read_after(self, cursor: int, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        self.reads += 1
        if self.reads == self.fail_on:
            raise EventSourceError("broker went away")
        return self.inner.read_after(cursor, limit)


def test_a_failed_read_resumes_without_double_counting(tmp_path: Path) -> None:
    clean = build_world(tmp_path / "clean")
    run_pipeline(clean.app.factory, SqlEventSource(clean.events_url), batch=6)
    (tmp_path / "crash").mkdir()
    crashed = build_world(tmp_path / "crash")
    with pytest.raises(EventSourceError):
        run_pipeline(crashed.app.factory, FailingSource(SqlEventSource(crashed.events_url), fail_on=2), batch=6)
    partial = snapshot(crashed.app.factory)
    assert partial["cursors"]["rasa-sql-broker"] == 6  # the first batch is committed, with its cursor
    assert 0 < len(partial["conversations"]) < 5
    resumed = run_pipeline(crashed.app.factory, SqlEventSource(crashed.events_url), batch=6)
    assert resumed["cursor_before"] == 6
    assert snapshot(crashed.app.factory) == snapshot(clean.app.factory)


def test_a_crash_while_writing_rolls_back_the_batch_and_its_cursor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = build_world(tmp_path / "clean")
    run_pipeline(clean.app.factory, SqlEventSource(clean.events_url), batch=6)
    (tmp_path / "crash").mkdir()
    crashed = build_world(tmp_path / "crash")
    real_refresh, calls = pipeline._refresh, []

    def refresh_then_die(session: Session, conversations: Any) -> int:
        calls.append(1)
        if len(calls) == 3:  # rows of batch 3 are flushed, the process dies before commit
            raise RuntimeError("killed")
        return real_refresh(session, conversations)

    monkeypatch.setattr(pipeline, "_refresh", refresh_then_die)
    with pytest.raises(RuntimeError):
        run_pipeline(crashed.app.factory, SqlEventSource(crashed.events_url), batch=6)
    partial = snapshot(crashed.app.factory)
    assert partial["cursors"]["rasa-sql-broker"] == 12
    with crashed.app.factory() as session:  # nothing of batch 3 (events 13-18) survived
        assert session.scalar(select(AnalyticsTurn).where(AnalyticsTurn.event_id > 12)) is None
    with crashed.app.factory() as session:  # ... in the rollup either: it is what batches 1-2 give
        session.execute(delete(AnalyticsRollupState))
        rollups.ensure_rollup(session)
        assert snapshot_rollup(session) == partial["rollup"] != {}
        session.rollback()
    monkeypatch.setattr(pipeline, "_refresh", real_refresh)
    run_pipeline(crashed.app.factory, SqlEventSource(crashed.events_url), batch=6)
    assert snapshot(crashed.app.factory) == snapshot(clean.app.factory)


def test_a_handoff_resolved_after_the_run_is_picked_up_without_new_events(tmp_path: Path) -> None:
    world = build_world(tmp_path, resolved=False)
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    row = conversation(world.app.factory, key_of(world, "C-b"))
    assert (row.handoff_status, row.needs_refresh, row.csat) == ("assigned", True, None)
    with world.app.factory() as session:
        session.execute(
            update(HandoffRequest).where(HandoffRequest.id == world.handoff_id).values(status="resolved", resolved_at=at(D1, 11, 10, 30))
        )
        add_csat(session, "C-b", 4, at(D1, 11, 11), handoff_id=world.handoff_id)
        session.commit()
    summary = run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    assert summary["events_read"] == 0 and summary["conversations_refreshed"] >= 1
    row = conversation(world.app.factory, key_of(world, "C-b"))
    assert (row.handoff_status, row.needs_refresh, row.csat, row.resolved_by) == ("resolved", False, 4, "human")
    assert row.resolved_at == at(D1, 11, 10, 30)


def test_a_rating_given_in_the_widget_later_is_joined_on_the_next_run(world: World) -> None:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    assert conversation(world.app.factory, key_of(world, "C-d")).csat is None
    with world.app.factory() as session:
        add_csat(session, "C-d", 2, at(D2, 15, 30), member_id="M100001")
        session.commit()
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    assert conversation(world.app.factory, key_of(world, "C-d")).csat == 2


def test_undecodable_and_incomplete_events_are_counted_and_skipped(tmp_path: Path) -> None:
    app = app_db(tmp_path / "shop.db")
    log = EventLog()
    log.session_start("C-x", at(D1, 9))
    log.user("C-x", at(D1, 9, 0, 1), "你好", "greet")
    url = write_events(tmp_path / "events.db", log, extra_rows=[("C-x", "{not json"), ("C-x", json.dumps({"event": "user"}))])
    summary = run_pipeline(app.factory, SqlEventSource(url))
    assert summary["invalid_events"] == 2
    assert summary["cursor"] == len(log.rows) + 2
    assert summary["turns_written"] == 1
    app.engine.dispose()


def test_a_missing_events_database_is_a_clear_error(tmp_path: Path) -> None:
    app = app_db(tmp_path / "shop.db")
    with pytest.raises(EventSourceError, match="events database not found"):
        run_pipeline(app.factory, SqlEventSource.for_sqlite_file(tmp_path / "nope.db"))
    app.engine.dispose()


def test_sql_event_source_reads_in_id_order_after_the_cursor(world: World) -> None:
    source = SqlEventSource(world.events_url)
    assert isinstance(source, EventSource)
    events = source.read_after(3, 4)
    assert [event_id for event_id, _, _ in events] == [4, 5, 6, 7]
    assert events[0][1] == "C-a" and events[0][2]["event"] == world.log.rows[3][1]["event"]
    assert source.count_after(len(world.log.rows) - 2) == 2
    source.close()
