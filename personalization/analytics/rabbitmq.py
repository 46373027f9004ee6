"""Rasa's Pika (RabbitMQ) event broker as an analytics feed.

RabbitMQ cannot replay a queue, so the pipeline does not read it directly:

1. :func:`spool_from_rabbitmq` consumes the queue with manual acks and appends every message to
   the ``analytics_spool`` table (:class:`~personalization.analytics.models.AnalyticsSpool`), a
   batch per transaction, and acks the batch only **after** it is committed. A consumer killed
   before the ack loses nothing: RabbitMQ redelivers the unacked messages.
2. :class:`SpoolEventSource` reads that table like Rasa's SQL broker table (same columns), so the
   same :func:`~personalization.analytics.pipeline.run_pipeline` turns it into analytics rows,
   incrementally, with its own cursor (``rabbitmq-spool``).

Stored once
-----------
A message is keyed by the sha256 of its canonical JSON (sender id, event type, timestamp and all
the other fields; the raw body's hash when it is not JSON) plus an ``occurrence`` number, unique
together. RabbitMQ marks a message it delivered before as ``redelivered``; such a message whose
hash is already spooled is a duplicate (it was committed, the ack was lost): it is acked and not
stored again. A first delivery is always stored (occurrence 2, 3... if an identical event was
spooled before: distinct events, e.g. two identical slot events stamped in the same instant).
The one case this cannot tell apart: two byte-identical events, the first spooled, the second
delivered and lost before its commit, then redelivered; Rasa stamps events with ``time.time()``,
so its events are never byte-identical.

Order: one consumer per queue (RabbitMQ requeues an unacked message at its old place), so spool
ids follow the publishing order, which the pipeline needs per sender. Consume each queue with
one process at a time, and feed the pipeline from one source only (the SQL broker table *or*
RabbitMQ), or every conversation is counted twice.

Rasa's side (``endpoints.yml``; this project's default stays the SQL broker)::

    event_broker:
      type: pika
      url: 127.0.0.1          # the RabbitMQ host
      port: 5672
      username: guest
      password: guest
      queues:
        - rasa_events          # = Settings.analytics_broker_queue (ANALYTICS_BROKER_QUEUE)
      # exchange_name: rasa-exchange   (Rasa's default fanout exchange; the queue is bound to it)

Rasa publishes each event as JSON (``Event.as_dict()`` plus ``sender_id``), persistent, to a
fanout exchange bound to those queues. Then::

    ANALYTICS_BROKER_URL=amqp://guest:guest@127.0.0.1:5672/%2F \\
        python -m personalization analytics --from-rabbitmq

spools what is queued (until the queue has been idle ``idle_timeout_s``) and runs the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics.models import AnalyticsSpool
from personalization.analytics.pipeline import EventSourceError, SqlEventSource

SPOOL_SOURCE_NAME = "rabbitmq-spool"
DEFAULT_BATCH = 500
FLUSH_AFTER_S = 1.0  # a partly filled batch is committed (and acked) after this long
_TICK_S = 0.25
_RETRIES = 3  # a batch whose commit hit the unique constraint (a second consumer) is retried


class SpoolEventSource(SqlEventSource):
    """The ``analytics_spool`` table on the app database, as an :class:`EventSource`.

    Takes the app's engine or session factory; the engine stays the caller's (``close`` keeps it).
    Also a transcript reader (``read_sender``), like :class:`SqlEventSource`.
    """

    def __init__(self, bind: Engine | sessionmaker[Session], *, name: str = SPOOL_SOURCE_NAME) -> None:
        engine = bind.kw.get("bind") if isinstance(bind, sessionmaker) else bind
        if not isinstance(engine, Engine):
            raise TypeError("SpoolEventSource needs an Engine or a sessionmaker bound to one")
        super().__init__(engine.url.render_as_string(hide_password=False), table=AnalyticsSpool.__tablename__, name=name)
        self._engine = engine

    def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""


@dataclass
class _Message:
    tag: int
    redelivered: bool
    sender_id: str
    data: str
    event_hash: str


def event_hash(body: bytes) -> tuple[str, str, str]:
    """``(hash, sender_id, text)`` of a message body: the hash of its canonical JSON, else of the bytes."""
    text = body.decode("utf-8", errors="replace")
    try:
        event = json.loads(text)
    except ValueError:
        event = None
    if isinstance(event, dict):
        canonical = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        sender = event.get("sender_id")
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest(), sender if isinstance(sender, str) else "", text
    return hashlib.sha256(body).hexdigest(), "", text


def _store_messages(session: Session, messages: list[_Message]) -> tuple[int, int]:
    """Add ``messages`` to the spool (not committed); returns ``(stored, duplicates)``.

    A redelivered message whose hash was spooled before this batch is a duplicate; any other
    message gets the next occurrence number of its hash.
    """
    hashes = sorted({m.event_hash for m in messages})
    before: dict[str, int] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        rows = session.execute(
            select(AnalyticsSpool.event_hash, func.max(AnalyticsSpool.occurrence))
            .where(AnalyticsSpool.event_hash.in_(chunk))
            .group_by(AnalyticsSpool.event_hash)
        )
        before.update((h, int(top)) for h, top in rows)
    top = dict(before)
    stored = duplicates = 0
    now = datetime.now().replace(microsecond=0)
    for message in messages:
        if message.redelivered and before.get(message.event_hash, 0) > 0:
            duplicates += 1
            continue
        occurrence = top.get(message.event_hash, 0) + 1
        top[message.event_hash] = occurrence
        session.add(
            AnalyticsSpool(
                sender_id=message.sender_id[:255],
                data=message.data,
                event_hash=message.event_hash,
                occurrence=occurrence,
                received_at=now,
            )
        )
        stored += 1
    return stored, duplicates


def check_consumer_limits(batch: int, max_messages: int | None, idle_timeout_s: float) -> None:
    """Raise ValueError for a batch or message limit below 1 or a non-positive idle timeout."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1: {batch}")
    if max_messages is not None and max_messages < 1:
        raise ValueError(f"max_messages must be at least 1: {max_messages}")
    if idle_timeout_s <= 0:
        raise ValueError(f"idle_timeout_s must be positive: {idle_timeout_s}")


def redact(url: str) -> str:
    """``url`` without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def spool_from_rabbitmq(
    url: str,
    queue: str,
    session_factory: sessionmaker[Session],
    *,
    max_messages: int | None = None,
    idle_timeout_s: float = 1.0,
    batch: int = DEFAULT_BATCH,
    progress: bool = False,
    on_commit: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Move the messages of ``queue`` into the ``analytics_spool`` table; ack each after its commit.

    Args:
        url: AMQP URL, e.g. ``amqp://guest:guest@127.0.0.1:5672/%2F``.
        queue: the queue Rasa's Pika broker publishes to (declared durable, as Rasa does).
        session_factory: sessions on the app database (the spool table must exist:
            ``personalization.db.create_schema`` or ``analytics.ensure_tables``).
        max_messages: stop after this many messages (None: until the queue is idle).
        idle_timeout_s: stop when no message arrived for this long.
        batch: messages per transaction (and the consumer's prefetch).
        progress: show a tqdm progress bar (total: the queue's length at the start).
        on_commit: called with the batch size after each commit, before the ack (a hook for
            progress reporting and crash tests).

    Returns:
        ``{"queue", "received", "spooled", "duplicates", "batches", "seconds"}``.

    Raises:
        EventSourceError: RabbitMQ unreachable, the queue unusable, or the spool table unwritable
            (messages not yet committed stay in the queue).
        ValueError: bad ``batch``, ``max_messages`` or ``idle_timeout_s``.
    """
    check_consumer_limits(batch, max_messages, idle_timeout_s)
    try:
        import pika
        import pika.exceptions
    except ImportError:  # pragma: no cover - pika is in requirements/app.txt
        raise EventSourceError("pika is not installed: pip install -r requirements/app.txt") from None

    started = time.perf_counter()
    stats = {"received": 0, "spooled": 0, "duplicates": 0, "batches": 0}
    prefetch = min(batch, max_messages) if max_messages else batch
    bar = None
    connection = None
    try:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(url))
            channel = connection.channel()
            declared = channel.queue_declare(queue=queue, durable=True)
            channel.basic_qos(prefetch_count=prefetch)
        except (pika.exceptions.AMQPError, ValueError, OSError) as exc:
            raise EventSourceError(f"RabbitMQ at {redact(url)}, queue {queue!r}: {_describe(exc)}") from None
        if progress:
            from tqdm import tqdm

            total = declared.method.message_count
            bar = tqdm(total=min(total, max_messages) if max_messages else total, unit="msg", desc="spool", leave=False)

        pending: list[_Message] = []

        def flush() -> None:
            for attempt in range(_RETRIES):
                try:
                    with session_factory() as session:
                        stored, duplicates = _store_messages(session, pending)
                        session.commit()
                    break
                except IntegrityError:
                    if attempt == _RETRIES - 1:
                        raise EventSourceError("spool: the unique key kept colliding (two consumers on one queue?)") from None
                except SQLAlchemyError as exc:
                    raise EventSourceError(f"spool: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
            if on_commit is not None:
                on_commit(len(pending))
            channel.basic_ack(delivery_tag=pending[-1].tag, multiple=True)
            stats["spooled"] += stored
            stats["duplicates"] += duplicates
            stats["batches"] += 1
            if bar is not None:
                bar.update(len(pending))
            pending.clear()

        last_message = first_pending = time.monotonic()
        try:
            for method, _properties, body in channel.consume(queue, inactivity_timeout=min(_TICK_S, idle_timeout_s)):
                now = time.monotonic()
                if method is not None:
                    digest, sender, text = event_hash(body)
                    if not pending:
                        first_pending = now
                    pending.append(_Message(method.delivery_tag, bool(method.redelivered), sender, text, digest))
                    stats["received"] += 1
                    last_message = now
                if pending and (len(pending) >= batch or method is None or now - first_pending >= FLUSH_AFTER_S):
                    flush()
                if max_messages is not None and stats["received"] >= max_messages:
                    if pending:
                        flush()
                    break
                if method is None and now - last_message >= idle_timeout_s:
                    break
            channel.cancel()  # requeues what was delivered but not yet handed out (never acked)
        except pika.exceptions.AMQPError as exc:
            raise EventSourceError(f"RabbitMQ at {redact(url)}, queue {queue!r}: {_describe(exc)}") from None
    finally:
        if bar is not None:
            bar.close()
        if connection is not None and connection.is_open:
            try:
                connection.close()  # unacked messages (a failed commit) go back to the queue
            except pika.exceptions.AMQPError:
                pass
    return {"queue": queue, **stats, "seconds": round(time.perf_counter() - started, 3)}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text and text != "()" else type(exc).__name__
