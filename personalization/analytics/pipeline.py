"""Incremental analytics pipeline: Rasa's event stream + the app's tables -> analytics tables.

How it stays correct
--------------------
* **Incremental.** Each source has a cursor (``analytics_cursor``: the id of the last event
  processed). A run reads only events after it, ``batch`` at a time; nothing is ever rescanned.
* **Crash-safe.** One transaction per batch writes the conversation and turn rows *and* moves the
  cursor. A crash (or a failing source) mid-run loses at most the batch in flight, which the next
  run reads again from the last committed cursor: no event is counted twice or lost.
* **Idempotent.** Re-running on the same events changes nothing: the cursor skips them, and even
  if a cursor is reset, every conversation remembers the last event applied to it
  (``last_event_id``), turns are unique per ``(source, event_id)`` and conversations per
  ``"<sender_id>#<first event id>"``; joined app facts are recomputed from the app's tables (a
  pure function of them), never accumulated.
* **Rollup.** ``analytics_daily`` (:mod:`personalization.analytics.rollups`) is recomputed for
  the start days of the conversations each transaction changed, inside that transaction; a
  database whose conversations predate the rollup gets it built at the start of the next run.
* **App facts** (handoff reason/status/agent/times, CSAT, tier, segment) are joined for the
  conversations a batch touched, for conversations whose handoff is still active
  (``needs_refresh``), and for conversations that got new ``handoff_requests`` / ``csat_ratings``
  rows since the last run (two more cursors, ``app:handoff_requests`` and ``app:csat_ratings``).

Event sources
-------------
Anything with a ``name`` and ``read_after(cursor, limit)`` is a source (:class:`EventSource`).
:class:`SqlEventSource` reads Rasa's SQL event broker table (``events(id, sender_id, data)``) at
any SQLAlchemy URL. A RabbitMQ or Kafka source implements the same protocol:

* **Kafka**: the cursor is the offset + 1 of a single-partition topic (Rasa's Kafka broker
  publishes every event to one topic; use one partition or key by sender and keep one cursor per
  partition, i.e. one source per partition, ``name="kafka:<topic>:<partition>"``).
  ``read_after`` seeks to ``cursor`` and polls up to ``limit`` records; ids are offsets. Commit
  nothing to Kafka: the analytics cursor *is* the committed offset.
* **RabbitMQ** (Pika) has no replay: a small consumer appends each message to a local spool table
  with an autoincrement id and acks it after the insert commits; the source reads that spool like
  :class:`SqlEventSource` does: :mod:`personalization.analytics.rabbitmq` (``spool_from_rabbitmq``
  and ``SpoolEventSource``; ``python -m personalization analytics --from-rabbitmq``).

On PostgreSQL, ids of concurrently inserted events can commit out of order; a reader that moves
past a gap may miss the late row. Rasa writes one event per transaction from one process, so the
broker table is effectively ordered; with several Rasa replicas writing one table, read with a
short settle lag (``SqlEventSource(settle_seconds=...)``).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, Text, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics.masking import mask_text
from personalization.analytics.models import ANALYTICS_TABLES, AnalyticsConversation, AnalyticsCursor, AnalyticsTurn
from personalization.analytics.rollups import ensure_rollup, refresh_days
from personalization.models import CsatRating, HandoffRequest, Member, MemberProfileRow

Event = tuple[int, str, dict[str, Any]]

DEFAULT_SOURCE_NAME = "rasa-sql-broker"
HANDOFF_CURSOR = "app:handoff_requests"
CSAT_CURSOR = "app:csat_ratings"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"utter_default", "action_default_fallback"})
HANDOFF_ACTION = "action_handoff_to_human"
MORE_RECOMMENDATIONS_INTENT = "ask_recommendation"
ACTIVE_HANDOFF = ("queued", "assigned")
SENTIMENT_PATH_MAX = 200
TEXT_MAX = 500
_CHUNK = 500  # ids per IN (...) list


class EventSourceError(Exception):
    """The event source cannot be read (missing database or table, broker unreachable)."""


@runtime_checkable
class EventSource(Protocol):
    """A replayable, ordered stream of Rasa events.

    ``name`` keys the cursor (keep it stable for one stream). ``read_after(cursor, limit)``
    returns up to ``limit`` events with id > ``cursor``, ordered by id, as ``(id, sender_id,
    event)`` where ``event`` is Rasa's event dict (``Event.as_dict()``); an undecodable record is
    returned with an empty dict so the cursor can move past it.
    """

    name: str

    def read_after(self, cursor: int, limit: int) -> list[Event]: ...


class SqlEventSource:
    """Rasa's SQL event broker table (``events``: id, sender_id, data JSON) at any SQLAlchemy URL."""

    def __init__(
        self,
        url: str,
        *,
        table: str = "events",
        name: str = DEFAULT_SOURCE_NAME,
        settle_seconds: float = 0.0,
    ) -> None:
        self.url = url
        self.name = name
        self.settle_seconds = settle_seconds
        self._table = Table(
            table,
            MetaData(),
            Column("id", BigInteger, primary_key=True),
            Column("sender_id", String(255)),
            Column("data", Text),
        )
        self._engine: Engine | None = None

    @classmethod
    def for_sqlite_file(cls, path: str | Path, **kwargs: Any) -> "SqlEventSource":
        """The broker database Rasa writes with ``dialect: sqlite`` (``Settings.rasa_events_db``)."""
        return cls(f"sqlite:///{Path(path)}", **kwargs)

    def _connect(self) -> Engine:
        if self._engine is None:
            url = make_url(self.url)
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                if not Path(url.database).is_file():
                    raise EventSourceError(f"events database not found: {url.database}")
            self._engine = create_engine(url)
        return self._engine

    def read_after(self, cursor: int, limit: int) -> list[Event]:
        table = self._table
        query = select(table.c.id, table.c.sender_id, table.c.data).where(table.c.id > cursor).order_by(table.c.id)
        try:
            with self._connect().connect() as connection:
                rows = connection.execute(query.limit(limit)).all()
        except SQLAlchemyError as exc:
            raise EventSourceError(f"cannot read {table.name!r}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
        events: list[Event] = []
        settle_before = time.time() - self.settle_seconds
        for event_id, sender_id, data in rows:
            event = _decode(data)
            if self.settle_seconds and float(event.get("timestamp") or 0) > settle_before:
                break  # too fresh: an earlier id may still be committing elsewhere
            events.append((int(event_id), str(sender_id or event.get("sender_id") or ""), event))
        return events

    def read_sender(self, sender_id: str, first_id: int, last_id: int) -> list[Event]:
        """The events of one sender with ``first_id <= id <= last_id`` (a conversation, for drill-down)."""
        table = self._table
        query = (
            select(table.c.id, table.c.sender_id, table.c.data)
            .where(table.c.sender_id == sender_id, table.c.id >= first_id, table.c.id <= last_id)
            .order_by(table.c.id)
        )
        try:
            with self._connect().connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise EventSourceError(f"cannot read {table.name!r}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
        return [(int(event_id), str(sender or ""), _decode(data)) for event_id, sender, data in rows]

    def count_after(self, cursor: int) -> int:
        """How many events lie after ``cursor`` (for a progress bar)."""
        table = self._table
        try:
            with self._connect().connect() as connection:
                return int(connection.scalar(select(func.count()).select_from(table).where(table.c.id > cursor)) or 0)
        except SQLAlchemyError as exc:
            raise EventSourceError(f"cannot read {table.name!r}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _decode(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        event = json.loads(data)
    except (TypeError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def ensure_tables(engine: Engine) -> None:
    """Create the analytics tables that do not exist yet (the app's tables are left alone)."""
    from personalization.models import Base

    Base.metadata.create_all(engine, tables=list(ANALYTICS_TABLES))


# ---------------------------------------------------------------------------------------------
# The run loop


def run_pipeline(
    session_factory: sessionmaker[Session],
    source: EventSource,
    *,
    batch: int = 5000,
    progress: bool = False,
) -> dict[str, Any]:
    """Process the events after the stored cursor, then re-join changed app facts.

    Args:
        session_factory: sessions on the app database (analytics tables included).
        source: where the events come from.
        batch: events per transaction.
        progress: show a tqdm progress bar.

    Returns:
        A summary: ``source``, ``cursor_before``, ``cursor``, ``events_read``, ``events_applied``,
        ``invalid_events`` (undecodable, or without type, sender or timestamp: skipped), ``batches``,
        ``conversations_created``, ``conversations_touched`` and ``conversations_refreshed`` (summed
        over batches), ``turns_written``, ``fallback_turns_written`` (member messages that got a
        fallback), ``rollup_rebuilt`` (the rollup was built from scratch first), ``seconds``,
        ``events_per_s``.

    Raises:
        EventSourceError: the source cannot be read (batches before it stay committed).
        ValueError: ``batch`` < 1.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1: {batch}")
    started = time.perf_counter()
    stats: dict[str, int] = defaultdict(int)
    with session_factory() as session:
        rollup_rebuilt = ensure_rollup(session, progress=progress)  # an existing database's first run
        session.commit()
    with session_factory() as session:
        cursor_before = _cursor(session, source.name).last_event_id
        session.rollback()
    bar = _progress_bar(source, cursor_before) if progress else None
    cursor = cursor_before
    try:
        while True:
            with session_factory() as session:
                cursor_row = _cursor(session, source.name, lock=True)
                events = source.read_after(cursor_row.last_event_id, batch)
                if not events:
                    session.rollback()
                    break
                touched = _apply_events(session, source.name, events, stats)
                stats["conversations_refreshed"] += _refresh(session, touched)
                refresh_days(session, {c.started_day for c in touched})
                cursor_row.last_event_id = events[-1][0]
                cursor_row.events_processed += len(events)
                cursor_row.updated_at = datetime.now().replace(microsecond=0)
                session.commit()
            cursor = events[-1][0]
            stats["events_read"] += len(events)
            stats["batches"] += 1
            if bar is not None:
                bar.update(len(events))
            if len(events) < batch:
                break
        with session_factory() as session:
            stats["conversations_refreshed"] += _refresh_app_changes(session)
            session.commit()
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    return {
        "source": source.name,
        "cursor_before": cursor_before,
        "cursor": cursor,
        "events_read": stats["events_read"],
        "events_applied": stats["events_applied"],
        "invalid_events": stats["invalid_events"],
        "batches": stats["batches"],
        "conversations_created": stats["conversations_created"],
        "conversations_touched": stats["conversations_touched"],
        "turns_written": stats["turns_written"],
        "fallback_turns_written": stats["fallback_turns_written"],
        "rollup_rebuilt": rollup_rebuilt,
        "conversations_refreshed": stats["conversations_refreshed"],
        "seconds": round(seconds, 3),
        "events_per_s": round(stats["events_read"] / seconds, 1) if seconds > 0 else None,
    }


def _progress_bar(source: EventSource, cursor: int) -> Any:
    from tqdm import tqdm

    count_after = getattr(source, "count_after", None)
    total = count_after(cursor) if callable(count_after) else None
    return tqdm(total=total, unit="event", desc="analytics", leave=False)


def _cursor(session: Session, name: str, *, lock: bool = False) -> AnalyticsCursor:
    query = select(AnalyticsCursor).where(AnalyticsCursor.source == name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        row = AnalyticsCursor(source=name, last_event_id=0, events_processed=0)
        session.add(row)
    return row


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _when(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(stamp)  # naive local time, like the app's tables
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Applying events


class _Batch:
    """Per-batch state: the conversations of the batch's senders and the turns written."""

    def __init__(self, session: Session, source: str, events: Sequence[Event]) -> None:
        self.session = session
        self.source = source
        self.by_key: dict[str, AnalyticsConversation] = {}
        self.current: dict[str, AnalyticsConversation | None] = {}
        self.turns: dict[int, AnalyticsTurn] = {}
        self.names: dict[str, str] = {}  # member_id -> name, for masking
        self.slot_names: dict[str, str] = {}  # sender -> member_name slot value
        senders = sorted({sender for _, sender, _ in events})
        for chunk in _chunks(senders):
            rows = session.scalars(
                select(AnalyticsConversation)
                .where(AnalyticsConversation.sender_id.in_(chunk))
                .order_by(AnalyticsConversation.start_event_id)
            )
            for conversation in rows:
                self.by_key[conversation.conversation_key] = conversation
                self.current[conversation.sender_id] = conversation  # ordered: the latest wins
        member_ids = {c.member_id for c in self.by_key.values() if c.member_id}
        for _, _, event in events:
            member_ids.update(_member_ids_in(event))
        for chunk in _chunks(sorted(member_ids)):
            rows = session.execute(select(Member.member_id, Member.name).where(Member.member_id.in_(chunk)))
            self.names.update((member_id, name) for member_id, name in rows)


def _member_ids_in(event: dict[str, Any]) -> Iterable[str]:
    metadata = event.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("member_id"), str):
        yield metadata["member_id"]
    if event.get("event") == "slot":
        value = event.get("value")
        if event.get("name") == "member_id" and isinstance(value, str):
            yield value
        if event.get("name") == "session_started_metadata" and isinstance(value, dict):
            if isinstance(value.get("member_id"), str):
                yield value["member_id"]


def _apply_events(session: Session, source: str, events: Sequence[Event], stats: dict[str, int]) -> list[AnalyticsConversation]:
    state = _Batch(session, source, events)
    touched: dict[int, AnalyticsConversation] = {}
    for event_id, sender, event in events:
        kind = event.get("event")
        at = _when(event)
        if not kind or at is None or not sender:
            stats["invalid_events"] += 1
            continue
        if kind in ("session_started", "restart"):
            conversation = None
            if kind == "session_started":
                conversation = state.by_key.get(_key(sender, event_id)) or _open(state, sender, event_id, at, stats)
            state.current[sender] = conversation
            if conversation is None or event_id <= conversation.last_event_id:
                continue
        conversation = state.current.get(sender)
        if conversation is None:
            if kind != "user":
                continue  # session boilerplate before the session opens: nothing to attach
            conversation = _open(state, sender, event_id, at, stats)
        if event_id <= conversation.last_event_id:
            continue  # applied before (a reset cursor or an overlapping run)
        _apply(state, conversation, event_id, kind, event, at, stats)
        conversation.last_event_id = event_id
        stats["events_applied"] += 1
        touched[id(conversation)] = conversation
    session.flush()
    stats["conversations_touched"] += len(touched)
    return list(touched.values())


def _key(sender: str, event_id: int) -> str:
    return f"{sender}#{event_id}"


def _open(state: _Batch, sender: str, event_id: int, at: datetime, stats: dict[str, int]) -> AnalyticsConversation:
    conversation = AnalyticsConversation(
        conversation_key=_key(sender, event_id),
        source=state.source,
        sender_id=sender[:255],
        start_event_id=event_id,
        last_event_id=event_id - 1,
        started_at=at,
        started_day=at.date(),
        ended_at=at,
        turns=0,
        intents={},
        fallbacks=0,
        last_turn_fallback=False,
        sentiment_path=[],
        handoff_requested=False,
        resolved_by="bot",
        rec_shown=0,
        rec_engaged=False,
        coupon_offers_shown=0,
        coupons_claimed=0,
        claimed_codes=[],
        needs_refresh=False,
    )
    state.session.add(conversation)
    state.session.flush()  # the id, for its turns
    state.by_key[conversation.conversation_key] = conversation
    state.current[sender] = conversation
    stats["conversations_created"] += 1
    return conversation


def _apply(
    state: _Batch,
    conversation: AnalyticsConversation,
    event_id: int,
    kind: str,
    event: dict[str, Any],
    at: datetime,
    stats: dict[str, int],
) -> None:
    if kind == "user":
        _apply_user(state, conversation, event_id, event, at, stats)
    elif kind == "bot":
        _apply_bot(conversation, event)
        conversation.ended_at = max(conversation.ended_at, at)
    elif kind == "action":
        name = event.get("name")
        if name in FALLBACK_ACTIONS:
            _mark_fallback(state, conversation, stats)
        elif name == HANDOFF_ACTION:
            conversation.handoff_requested = True
        if name not in ("action_listen", "action_session_start"):
            conversation.ended_at = max(conversation.ended_at, at)
    elif kind == "slot":
        _apply_slot(state, conversation, event)


def _apply_user(
    state: _Batch,
    conversation: AnalyticsConversation,
    event_id: int,
    event: dict[str, Any],
    at: datetime,
    stats: dict[str, int],
) -> None:
    parse = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
    intent_data = parse.get("intent") if isinstance(parse.get("intent"), dict) else {}
    intent = intent_data.get("name") if isinstance(intent_data.get("name"), str) else None
    confidence = _number(intent_data.get("confidence"))
    sentiment = parse.get("sentiment") if isinstance(parse.get("sentiment"), dict) else {}
    polarity = _label(sentiment.get("polarity"))
    emotion = _label(sentiment.get("emotion"))
    score = _number(sentiment.get("score"))
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    if conversation.member_id is None and isinstance(metadata.get("member_id"), str):
        conversation.member_id = metadata["member_id"][:32]
    if conversation.channel is None and isinstance(event.get("input_channel"), str):
        conversation.channel = event["input_channel"][:32]
    fallback = intent == FALLBACK_INTENT
    conversation.turns += 1
    if intent:
        intents = dict(conversation.intents or {})
        intents[intent] = intents.get(intent, 0) + 1
        conversation.intents = intents
    if fallback:
        conversation.fallbacks += 1
    conversation.last_turn_fallback = fallback
    conversation.last_turn_event_id = event_id
    if polarity:
        if conversation.first_polarity is None:
            conversation.first_polarity, conversation.first_emotion = polarity, emotion
        conversation.last_polarity, conversation.last_emotion = polarity, emotion
        path = list(conversation.sentiment_path or [])
        if len(path) < SENTIMENT_PATH_MAX:
            conversation.sentiment_path = path + [[polarity, emotion, score]]
    if intent == MORE_RECOMMENDATIONS_INTENT and conversation.rec_shown > 0:
        conversation.rec_engaged = True
    conversation.ended_at = max(conversation.ended_at, at)
    names = [state.slot_names.get(conversation.sender_id), state.names.get(conversation.member_id or "")]
    text = event.get("text") if isinstance(event.get("text"), str) else ""
    turn = AnalyticsTurn(
        source=state.source,
        event_id=event_id,
        conversation_id=conversation.id,
        seq=conversation.turns,
        at=at,
        day=at.date(),
        intent=intent[:64] if intent else None,
        confidence=confidence,
        polarity=polarity,
        emotion=emotion,
        score=score,
        fallback=fallback,
        text_masked=mask_text(text[:TEXT_MAX], names=names),
    )
    state.session.add(turn)
    state.turns[event_id] = turn
    stats["turns_written"] += 1
    stats["fallback_turns_written"] += int(fallback)


def _mark_fallback(state: _Batch, conversation: AnalyticsConversation, stats: dict[str, int]) -> None:
    """A fallback action answered the last member message: that turn is a fallback."""
    if conversation.last_turn_event_id is None or conversation.last_turn_fallback:
        return
    turn = state.turns.get(conversation.last_turn_event_id) or state.session.scalar(
        select(AnalyticsTurn).where(
            AnalyticsTurn.source == state.source, AnalyticsTurn.event_id == conversation.last_turn_event_id
        )
    )
    if turn is not None and not turn.fallback:
        turn.fallback = True
        stats["fallback_turns_written"] += 1
    conversation.fallbacks += 1
    conversation.last_turn_fallback = True


def _apply_bot(conversation: AnalyticsConversation, event: dict[str, Any]) -> None:
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
    kind = custom.get("type")
    if kind == "product_cards" and custom.get("items"):
        conversation.rec_shown += 1
    elif kind == "coupon_offers" and custom.get("items"):
        conversation.coupon_offers_shown += 1
    elif kind == "coupon_claim" and custom.get("status") == "claimed":
        conversation.coupons_claimed += 1
        coupon = custom.get("coupon") if isinstance(custom.get("coupon"), dict) else {}
        if isinstance(coupon.get("code"), str):
            conversation.claimed_codes = list(conversation.claimed_codes or []) + [coupon["code"]]
        if conversation.rec_shown > 0:
            conversation.rec_engaged = True
    elif kind == "handoff":
        conversation.handoff_requested = True
        if conversation.handoff_id is None and isinstance(custom.get("handoff_id"), int):
            conversation.handoff_id = custom["handoff_id"]
        if conversation.handoff_reason is None and isinstance(custom.get("reason"), str):
            conversation.handoff_reason = custom["reason"][:32]  # the desk's row, once joined, has the last word


def _apply_slot(state: _Batch, conversation: AnalyticsConversation, event: dict[str, Any]) -> None:
    name, value = event.get("name"), event.get("value")
    if name == "member_id" and isinstance(value, str) and conversation.member_id is None:
        conversation.member_id = value[:32]
    elif name == "member_tier" and isinstance(value, str):
        # The tier at the time of the conversation. Always the slot's: an earlier batch may have
        # filled the tier from the member table (the join) before this slot event arrived.
        conversation.tier = value[:16]
    elif name == "language" and isinstance(value, str) and conversation.language is None:
        conversation.language = value[:2]
    elif name == "member_name" and isinstance(value, str):
        state.slot_names[conversation.sender_id] = value


def _label(value: Any) -> str | None:
    return value[:16] if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# ---------------------------------------------------------------------------------------------
# Joining app facts (handoffs, CSAT, tier, segment)


def _refresh_app_changes(session: Session) -> int:
    """Re-join conversations with active handoffs or with new handoff / CSAT rows; move the app cursors."""
    handoff_cursor = _cursor(session, HANDOFF_CURSOR, lock=True)
    csat_cursor = _cursor(session, CSAT_CURSOR, lock=True)
    new_handoffs = session.execute(
        select(HandoffRequest.id, HandoffRequest.conversation_id).where(HandoffRequest.id > handoff_cursor.last_event_id)
    ).all()
    new_ratings = session.execute(
        select(CsatRating.id, CsatRating.conversation_id).where(CsatRating.id > csat_cursor.last_event_id)
    ).all()
    senders = sorted({sender for _, sender in new_handoffs} | {sender for _, sender in new_ratings})
    conversations: dict[int, AnalyticsConversation] = {}
    for chunk in _chunks(senders):
        for conversation in session.scalars(select(AnalyticsConversation).where(AnalyticsConversation.sender_id.in_(chunk))):
            conversations[conversation.id] = conversation
    for conversation in session.scalars(select(AnalyticsConversation).where(AnalyticsConversation.needs_refresh.is_(True))):
        conversations[conversation.id] = conversation
    refreshed = _refresh(session, list(conversations.values()))
    changed = {c.started_day for c in conversations.values() if session.is_modified(c)}
    refresh_days(session, changed)  # only days whose conversations changed: the cache key stays put otherwise
    now = datetime.now().replace(microsecond=0)
    if new_handoffs:
        handoff_cursor.last_event_id = max(row_id for row_id, _ in new_handoffs)
        handoff_cursor.events_processed += len(new_handoffs)
        handoff_cursor.updated_at = now
    if new_ratings:
        csat_cursor.last_event_id = max(row_id for row_id, _ in new_ratings)
        csat_cursor.events_processed += len(new_ratings)
        csat_cursor.updated_at = now
    return refreshed


def _refresh(session: Session, conversations: Sequence[AnalyticsConversation]) -> int:
    """Recompute the joined app facts of ``conversations`` from the app's tables."""
    if not conversations:
        return 0
    senders = sorted({c.sender_id for c in conversations})
    starts: dict[str, list[tuple[datetime, int]]] = defaultdict(list)  # sender -> [(start, conversation id)]
    handoffs: list[HandoffRequest] = []
    ratings: list[CsatRating] = []
    for chunk in _chunks(senders):
        for conv_id, sender, started_at in session.execute(
            select(AnalyticsConversation.id, AnalyticsConversation.sender_id, AnalyticsConversation.started_at).where(
                AnalyticsConversation.sender_id.in_(chunk)
            )
        ):
            starts[sender].append((started_at.replace(microsecond=0), conv_id))
        handoffs.extend(session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id.in_(chunk))))
        ratings.extend(session.scalars(select(CsatRating).where(CsatRating.conversation_id.in_(chunk))))
    for values in starts.values():
        values.sort()

    def owner(sender: str, at: datetime) -> int | None:
        """The conversation of ``sender`` that was open at ``at`` (the latest started by then)."""
        found = None
        for started, conv_id in starts.get(sender, ()):
            if started <= at:
                found = conv_id
        return found

    handoff_of: dict[int, HandoffRequest] = {}
    handoff_owner: dict[int, int] = {}
    by_payload = {c.handoff_id: c.id for c in conversations if c.handoff_id is not None}
    for request in sorted(handoffs, key=lambda r: (r.created_at, r.id)):
        conv_id = by_payload.get(request.id) or owner(request.conversation_id, request.created_at)
        if conv_id is not None:
            handoff_of[conv_id] = request  # the latest handoff of a conversation wins
            handoff_owner[request.id] = conv_id
    rating_of: dict[int, CsatRating] = {}
    for rating in sorted(ratings, key=lambda r: (r.created_at, r.id)):
        conv_id = handoff_owner.get(rating.handoff_id) if rating.handoff_id else None
        conv_id = conv_id or owner(rating.conversation_id, rating.created_at)
        if conv_id is not None:
            rating_of[conv_id] = rating

    member_ids = sorted({c.member_id for c in conversations if c.member_id})
    tiers: dict[str, str] = {}
    segments: dict[str, str | None] = {}
    for chunk in _chunks(member_ids):
        rows = session.execute(select(Member.member_id, Member.tier_code).where(Member.member_id.in_(chunk)))
        tiers.update((member_id, code) for member_id, code in rows)
        rows = session.execute(
            select(MemberProfileRow.member_id, MemberProfileRow.segment).where(MemberProfileRow.member_id.in_(chunk))
        )
        segments.update((member_id, segment) for member_id, segment in rows)

    for conversation in conversations:
        if conversation.member_id:
            if conversation.tier is None and conversation.member_id in tiers:
                conversation.tier = tiers[conversation.member_id]
            if conversation.segment is None and segments.get(conversation.member_id):
                conversation.segment = segments[conversation.member_id]
        request = handoff_of.get(conversation.id)
        if request is not None:
            conversation.handoff_requested = True
            conversation.handoff_id = request.id
            conversation.handoff_reason = request.reason
            conversation.handoff_emotion = request.emotion
            conversation.handoff_status = request.status
            conversation.handoff_at = request.created_at
            conversation.agent_id = request.agent_id
            conversation.claimed_at = request.claimed_at
            conversation.resolved_at = request.resolved_at
        conversation.needs_refresh = request is not None and request.status in ACTIVE_HANDOFF
        rating = rating_of.get(conversation.id)
        conversation.csat = int(rating.score) if rating is not None else None
        conversation.resolved_by = resolved_by(conversation)
    return len(conversations)


def resolved_by(conversation: AnalyticsConversation) -> str:
    """``human``: an agent claimed the handoff. ``unresolved``: a handoff nobody claimed (queued,
    cancelled), or no handoff but the member's last message got a fallback. ``bot``: otherwise."""
    if conversation.claimed_at is not None or conversation.agent_id is not None:
        return "human"
    if conversation.handoff_requested or conversation.last_turn_fallback:
        return "unresolved"
    return "bot"


def reset_cursors(session: Session, sources: Iterable[str] = ()) -> None:
    """Forget the cursors of ``sources`` (all if empty); rows stay, so a re-run re-reads but adds nothing."""
    query = select(AnalyticsCursor)
    names = list(sources)
    if names:
        query = query.where(AnalyticsCursor.source.in_(names))
    for row in session.scalars(query):
        row.last_event_id = 0

