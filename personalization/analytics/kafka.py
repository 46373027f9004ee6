"""Rasa's Kafka event broker as an analytics feed.

Like RabbitMQ (:mod:`personalization.analytics.rabbitmq`), Kafka messages are first copied into
the ``analytics_spool`` table, which the pipeline reads through
:class:`~personalization.analytics.rabbitmq.SpoolEventSource`; only the way a message is stored
once differs:

* Kafka numbers the messages of each partition (offsets) and can replay them, so the spool keeps,
  **in the same transaction** as the messages, the next offset to read of every partition, as an
  ``analytics_cursor`` row named ``kafka:<topic>:<partition>``. A consumer killed after a commit
  resumes exactly there; one killed before it stored nothing of that batch and reads it again.
  The consumer group's committed offsets in Kafka are written too, but only as information for
  Kafka's tools: the database is the source of truth, so a record is never spooled twice even when
  the group offsets lag behind (a crash between the two commits).
* Records are spooled in offset order per partition; the pipeline needs order per sender, and
  Rasa's Kafka broker keys nothing, so use a topic with **one partition** (or one per deployment),
  as Rasa's documentation does.

Rasa's side (``endpoints.yml``; this project's default stays the SQL broker)::

    event_broker:
      type: kafka
      url: 127.0.0.1:9092          # = Settings.analytics_kafka_bootstrap (ANALYTICS_KAFKA_BOOTSTRAP)
      topic: rasa_core_events      # = Settings.analytics_kafka_topic (ANALYTICS_KAFKA_TOPIC)
      security_protocol: PLAINTEXT

Then ``python -m personalization analytics --from-kafka`` spools what is new and runs the
pipeline. Feed the pipeline from one source only (SQL table, RabbitMQ *or* Kafka).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics.models import AnalyticsCursor
from personalization.analytics.pipeline import EventSourceError
from personalization.analytics.rabbitmq import (
    DEFAULT_BATCH,
    _describe,
    _Message,
    _store_messages,
    check_consumer_limits,
    event_hash,
)

_POLL_MS = 250


@dataclass(frozen=True)
class KafkaRecord:
    """What the spool needs of a Kafka record."""

    partition: int
    offset: int
    value: bytes


def cursor_name(topic: str, partition: int) -> str:
    """The ``analytics_cursor.source`` that holds the next offset of ``topic``/``partition``."""
    return f"kafka:{topic}:{partition}"[:64]


def next_offsets(session: Session, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The next offset to read of each partition (0 for a partition never read)."""
    names = {cursor_name(topic, p): p for p in partitions}
    found = dict.fromkeys(names.values(), 0)
    for source, offset in session.execute(
        select(AnalyticsCursor.source, AnalyticsCursor.last_event_id).where(AnalyticsCursor.source.in_(names))
    ):
        found[names[source]] = int(offset)
    return found


def spool_records(session_factory: sessionmaker[Session], topic: str, records: list[KafkaRecord]) -> tuple[int, int]:
    """Store ``records`` in the spool and advance the partition cursors, in one transaction.

    Records below a partition's stored next offset were spooled before and are skipped.

    Returns:
        ``(stored, skipped)``.

    Raises:
        EventSourceError: the spool could not be written (nothing of this batch was kept).
    """
    if not records:
        return 0, 0
    try:
        with session_factory() as session:
            start = next_offsets(session, topic, {r.partition for r in records})
            after = dict(start)
            fresh: list[_Message] = []
            for record in sorted(records, key=lambda r: (r.partition, r.offset)):
                if record.offset < after[record.partition]:
                    continue
                digest, sender, text = event_hash(record.value)
                fresh.append(_Message(record.offset, False, sender, text, digest))
                after[record.partition] = record.offset + 1
            stored, _ = _store_messages(session, fresh)
            now = datetime.now().replace(microsecond=0)
            for partition, offset in after.items():
                if offset == start[partition]:
                    continue
                name = cursor_name(topic, partition)
                row = session.get(AnalyticsCursor, name)
                if row is None:
                    row = AnalyticsCursor(source=name, last_event_id=0, events_processed=0)
                    session.add(row)
                row.events_processed = (row.events_processed or 0) + (offset - start[partition])
                row.last_event_id, row.updated_at = offset, now
            session.commit()
    except IntegrityError:
        raise EventSourceError(f"spool: a second consumer wrote topic {topic!r} at the same time") from None
    except SQLAlchemyError as exc:
        raise EventSourceError(f"spool: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
    return stored, len(records) - stored


def spool_from_kafka(
    bootstrap: str,
    topic: str,
    session_factory: sessionmaker[Session],
    *,
    group_id: str = "member-assistant-analytics",
    max_messages: int | None = None,
    idle_timeout_s: float = 1.0,
    batch: int = DEFAULT_BATCH,
    progress: bool = False,
    on_commit: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Copy the new records of ``topic`` into the ``analytics_spool`` table.

    Args:
        bootstrap: Kafka bootstrap servers, ``host:port[,host:port]``.
        topic: the topic Rasa's Kafka broker publishes to.
        session_factory: sessions on the app database (the spool tables must exist).
        group_id: the consumer group whose offsets are committed to Kafka (informational).
        max_messages: stop after this many records (None: until the topic is idle).
        idle_timeout_s: stop when no record arrived for this long.
        batch: records per transaction.
        progress: a tqdm bar of spooled records.
        on_commit: called with the batch size after each database commit (crash tests, progress).

    Returns:
        ``{"topic", "received", "spooled", "skipped", "batches", "seconds"}``.

    Raises:
        EventSourceError: Kafka unreachable, the topic missing, or the spool unwritable.
        ValueError: bad ``batch``, ``max_messages`` or ``idle_timeout_s``.
    """
    check_consumer_limits(batch, max_messages, idle_timeout_s)
    try:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError
    except ImportError:  # pragma: no cover - kafka-python is in requirements/app.txt
        raise EventSourceError("kafka-python is not installed: pip install -r requirements/app.txt") from None

    started = time.perf_counter()
    stats = {"received": 0, "spooled": 0, "skipped": 0, "batches": 0}
    consumer = None
    bar = None
    try:
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=[part.strip() for part in bootstrap.split(",") if part.strip()],
                group_id=group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                consumer_timeout_ms=int(idle_timeout_s * 1000),
            )
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise EventSourceError(f"Kafka at {bootstrap}: no topic {topic!r}")
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            with session_factory() as session:
                offsets = next_offsets(session, topic, partitions)
            for tp in assigned:
                consumer.seek(tp, offsets[tp.partition])
        except KafkaError as exc:
            raise EventSourceError(f"Kafka at {bootstrap}, topic {topic!r}: {_describe(exc)}") from None
        if progress:
            from tqdm import tqdm

            bar = tqdm(unit="msg", desc="spool", leave=False)
        idle_since = time.monotonic()
        while max_messages is None or stats["received"] < max_messages:
            room = batch if max_messages is None else min(batch, max_messages - stats["received"])
            try:
                polled = consumer.poll(timeout_ms=_POLL_MS, max_records=room)
            except KafkaError as exc:
                raise EventSourceError(f"Kafka at {bootstrap}, topic {topic!r}: {_describe(exc)}") from None
            records = [KafkaRecord(r.partition, r.offset, r.value or b"") for rs in polled.values() for r in rs]
            if not records:
                if time.monotonic() - idle_since >= idle_timeout_s:
                    break
                continue
            idle_since = time.monotonic()
            stored, skipped = spool_records(session_factory, topic, records)
            if on_commit is not None:
                on_commit(len(records))
            try:
                consumer.commit()
            except KafkaError:
                pass  # informational only: the database holds the offsets that count
            stats["received"] += len(records)
            stats["spooled"] += stored
            stats["skipped"] += skipped
            stats["batches"] += 1
            if bar is not None:
                bar.update(len(records))
    finally:
        if bar is not None:
            bar.close()
        if consumer is not None:
            consumer.close(autocommit=False)
    return {"topic": topic, **stats, "seconds": round(time.perf_counter() - started, 3)}
