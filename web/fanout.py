"""Socket events across web replicas: several ``python -m web`` behind nginx work as one.

:class:`web.hub.Hub` only reaches the sockets of its own process. With ``Settings.web_fanout``
``"postgres"`` (``WEB_FANOUT=postgres``, needs a PostgreSQL ``DATABASE_URL``) the app's relay is a
:class:`FanoutRelay`: every push to local sockets is also announced on PostgreSQL's
``LISTEN/NOTIFY`` channel :data:`CHANNEL` as a small reference, e.g. ``{"k":"msg","c":
"<conversation>","s":12,"h":7}`` ("conversation X has a new message with seq 12, handoff 7").
The other replicas read that message, handoff or conversation from the database (messages are
stored with their seq before they are pushed) and push it to *their* sockets with the same rules
(:class:`web.events.Relay`). So a member on replica A and an agent on replica B see each other,
and no sticky sessions are needed. The default ``"local"`` is the plain in-process :class:`Relay`,
unchanged.

Delivery is at most once per replica, in publishing order per replica; a notification lost while a
replica reconnects to PostgreSQL is recovered by the clients themselves, which reconnect with
``after_seq`` (the widget) or reload the queue (the console). Typing indicators
(``Hub.to_conversation`` straight from the gateway) stay local: they only matter on the socket
that sent the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any, Awaitable, Callable

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from personalization.desk import conversations as desk_conv
from personalization.desk import handoff as desk_handoff
from personalization.desk.errors import DeskError
from personalization.settings import Settings
from web.events import Relay
from web.hub import Hub
from web.store import Store

logger = logging.getLogger(__name__)

FANOUT_MODES = ("local", "postgres")
CHANNEL = "web_fanout"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours are references, well under 200.
MAX_PAYLOAD_BYTES = 7900
RECONNECT_S = (0.2, 0.5, 1.0, 2.0, 5.0)
LISTEN_READY_S = 10.0
# Encodings of the ``handoff`` argument: None and {} mean different things to Relay.message.
_NO_HANDOFF, _EMPTY_HANDOFF = -1, 0


class FanoutConfigError(ValueError):
    """``WEB_FANOUT`` names an unknown mode, or "postgres" without a PostgreSQL database."""


def relay_for(settings: Settings, hub: Hub, store: Store) -> Relay:
    """The app's relay: in-process (``web_fanout="local"``) or across replicas (``"postgres"``).

    Raises:
        FanoutConfigError: unknown mode, or "postgres" with a non-PostgreSQL ``DATABASE_URL``.
    """
    mode = settings.web_fanout
    if mode == "local":
        return Relay(hub, store)
    if mode != "postgres":
        raise FanoutConfigError(f"WEB_FANOUT must be one of {', '.join(FANOUT_MODES)}, not {mode!r}")
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise FanoutConfigError("WEB_FANOUT=postgres needs a PostgreSQL DATABASE_URL (postgresql+psycopg://…)")
    return FanoutRelay(hub, store, PgNotifyChannel(libpq_conninfo(settings.database_url)))


def libpq_conninfo(database_url: str) -> str:
    """``postgresql+psycopg://u:p@h:5432/db`` → ``postgresql://u:p@h:5432/db`` (what psycopg connects to)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def start_relay(relay: Relay) -> None:
    """Start listening to the other replicas (no-op for the in-process relay)."""
    if isinstance(relay, FanoutRelay):
        await relay.start()


async def stop_relay(relay: Relay) -> None:
    if isinstance(relay, FanoutRelay):
        await relay.stop()


class PgNotifyChannel:
    """Publishes strings with ``pg_notify`` and hands the ones other connections publish to a callback.

    Two connections in autocommit mode: one sends (from a queue, so :meth:`publish` never blocks the
    event loop and keeps the order), one ``LISTEN``\\s. Both reconnect after a database restart.
    """

    def __init__(self, conninfo: str, channel: str = CHANNEL) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self._outbox: asyncio.Queue[str] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listening: asyncio.Event | None = None
        self.sent = 0
        self.dropped = 0

    async def start(self, on_payload: Callable[[str], Awaitable[None]]) -> None:
        """Connect and LISTEN (waits up to :data:`LISTEN_READY_S` for it; keeps retrying after)."""
        self._outbox = asyncio.Queue()
        self._listening = asyncio.Event()
        self._tasks = [asyncio.create_task(self._send_loop(), name="fanout-send"),
                       asyncio.create_task(self._listen_loop(on_payload), name="fanout-listen")]
        try:
            await asyncio.wait_for(self._listening.wait(), LISTEN_READY_S)
        except asyncio.TimeoutError:
            logger.error("web fan-out: not listening on PostgreSQL after %.0f s; retrying in the background",
                         LISTEN_READY_S)

    def publish(self, payload: str) -> None:
        if self._outbox is None:  # not started (e.g. during shutdown)
            return
        if len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            logger.error("web fan-out: payload of %d bytes dropped", len(payload))
            self.dropped += 1
            return
        self._outbox.put_nowait(payload)

    async def stop(self) -> None:
        # Let queued notifications go out first (briefly), then stop both loops.
        if self._outbox is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drained(), 2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._outbox = None

    async def _drained(self) -> None:
        while self._outbox is not None and not self._outbox.empty():
            await asyncio.sleep(0.02)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True, connect_timeout=5)

    async def _send_loop(self) -> None:
        assert self._outbox is not None
        conn: psycopg.AsyncConnection[Any] | None = None
        attempt = 0
        payload: str | None = None
        while True:
            if payload is None:
                payload = await self._outbox.get()
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                await conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                self.sent += 1
                payload, attempt = None, 0
            except (psycopg.Error, OSError) as exc:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                attempt += 1
                if attempt > len(RECONNECT_S):  # the database is gone for a while: drop, go on
                    logger.warning("web fan-out: notification dropped (%s)", type(exc).__name__)
                    self.dropped += 1
                    payload, attempt = None, 0
                    continue
                await asyncio.sleep(RECONNECT_S[attempt - 1])
            except asyncio.CancelledError:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise

    async def _listen_loop(self, on_payload: Callable[[str], Awaitable[None]]) -> None:
        assert self._listening is not None
        attempt = 0
        while True:
            try:
                async with await self._connect() as conn:
                    await conn.execute(f'LISTEN "{self.channel}"')
                    self._listening.set()
                    attempt = 0
                    async for notification in conn.notifies():
                        try:
                            await on_payload(notification.payload)
                        except Exception:  # one bad event never stops the listener
                            logger.exception("web fan-out: event failed")
            except (psycopg.Error, OSError) as exc:
                delay = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
                attempt += 1
                logger.warning("web fan-out: listener lost PostgreSQL (%s); reconnecting in %.1f s",
                               type(exc).__name__, delay)
                await asyncio.sleep(delay)


def _handoff_ref(handoff: dict[str, Any] | None) -> int:
    if handoff is None:
        return _NO_HANDOFF
    return int(handoff.get("handoff_id") or _EMPTY_HANDOFF)


def _snapshot(session: Session, event: dict[str, Any]) -> dict[str, Any]:
    """What the event refers to, read from the database: message (by seq), handoff, conversation."""
    out: dict[str, Any] = {}
    cid = event.get("c")
    if "s" in event and cid:
        found = desk_conv.messages_after(session, cid, int(event["s"]) - 1, limit=1)
        out["message"] = found[0] if found and found[0]["seq"] == int(event["s"]) else None
    if "h" in event:
        ref = int(event["h"])
        out["handoff"] = None if ref == _NO_HANDOFF else (
            {} if ref == _EMPTY_HANDOFF else desk_handoff.get_handoff(session, ref) or {})
    if event.get("k") == "state" and cid:
        out["conversation"] = desk_conv.get_conversation(session, cid)
    return out


class FanoutRelay(Relay):
    """:class:`Relay` that also tells the other replicas, and replays what they tell it."""

    def __init__(self, hub: Hub, store: Store, channel: PgNotifyChannel) -> None:
        super().__init__(hub, store)
        self.channel = channel
        self.origin = uuid.uuid4().hex[:12]
        self.received = 0

    async def start(self) -> None:
        await self.channel.start(self._on_payload)

    async def stop(self) -> None:
        await self.channel.stop()

    def _publish(self, event: dict[str, Any]) -> None:
        event["o"] = self.origin
        self.channel.publish(json.dumps(event, separators=(",", ":"), ensure_ascii=False))

    # -- local push + announcement -----------------------------------------------------------------
    def message(self, conversation_id: str, message: dict[str, Any], handoff: dict[str, Any] | None,
                *, extra_agent_ids: tuple[int | None, ...] = ()) -> None:
        super().message(conversation_id, message, handoff, extra_agent_ids=extra_agent_ids)
        self._publish({"k": "msg", "c": conversation_id, "s": int(message["seq"]), "h": _handoff_ref(handoff),
                       "x": [i for i in extra_agent_ids if i is not None]})

    def message_update(self, conversation_id: str, message: dict[str, Any], handoff: dict[str, Any] | None) -> None:
        super().message_update(conversation_id, message, handoff)
        if handoff is not None:
            self._publish({"k": "upd", "c": conversation_id, "s": int(message["seq"]), "h": _handoff_ref(handoff)})

    def state(self, conversation: dict[str, Any] | None) -> None:
        super().state(conversation)
        if conversation:
            self._publish({"k": "state", "c": conversation["conversation_id"]})

    def handoff(self, handoff: dict[str, Any], *, extra_agent_ids: tuple[int | None, ...] = ()) -> None:
        super().handoff(handoff, extra_agent_ids=extra_agent_ids)
        self._publish({"k": "ho", "h": _handoff_ref(handoff), "x": [i for i in extra_agent_ids if i is not None]})

    async def queue(self) -> None:
        await super().queue()
        self._publish({"k": "queue"})

    # -- what the other replicas announced ---------------------------------------------------------
    def _has_audience(self, event: dict[str, Any]) -> bool:
        kind, cid = event.get("k"), event.get("c") or ""
        if kind in ("msg", "state") and self.hub.member_count(cid):
            return True
        return kind != "state" and self.hub.agent_count() > 0

    async def _on_payload(self, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            logger.warning("web fan-out: malformed notification ignored")
            return
        if not isinstance(event, dict) or event.get("o") == self.origin:
            return
        self.received += 1
        if not self._has_audience(event):
            return  # nobody here to tell: no database read
        kind = event.get("k")
        if kind == "queue":
            await Relay.queue(self)
            return
        try:
            snap = await self.store.call(_snapshot, event)
        except DeskError:  # the conversation is gone (e.g. deleted on a member's request)
            return
        extra = tuple(int(i) for i in event.get("x") or ())
        if kind == "msg" and snap.get("message"):
            Relay.message(self, event["c"], snap["message"], snap["handoff"], extra_agent_ids=extra)
        elif kind == "upd" and snap.get("message"):
            Relay.message_update(self, event["c"], snap["message"], snap["handoff"])
        elif kind == "state" and snap.get("conversation"):
            Relay.state(self, snap["conversation"])
        elif kind == "ho":
            Relay.handoff(self, snap["handoff"] or {}, extra_agent_ids=extra)
