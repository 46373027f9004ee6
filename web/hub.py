"""In-process fan-out of frames to WebSockets: member sockets by conversation, agent sockets by agent.

Every socket gets an :class:`asyncio.Queue` and a writer task, so a slow or dead socket never
blocks the sender. The hub reaches this process's sockets only; with several web replicas,
web/fanout.py carries the events to the others (PostgreSQL LISTEN/NOTIFY) and they push them to
their own hubs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from starlette.websockets import WebSocket, WebSocketState

logger = logging.getLogger(__name__)

Frame = dict[str, Any]
# A socket whose queue holds this many unsent frames is considered dead and dropped.
MAX_BACKLOG = 1000


@dataclass(eq=False)
class Connection:
    """One open WebSocket and its outbound queue."""

    websocket: WebSocket
    queue: "asyncio.Queue[Frame | None]" = field(default_factory=asyncio.Queue)
    agent_id: int | None = None
    role: str | None = None
    conversation_id: str | None = None
    dead: bool = False
    _writer: "asyncio.Task[None] | None" = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())

    def send(self, frame: Frame) -> None:
        """Queue ``frame``; never blocks."""
        if self.dead:
            return
        if self.queue.qsize() >= MAX_BACKLOG:
            # The peer stopped reading; it gets the missed messages on reconnect (after_seq).
            logger.warning("giving up on a socket with %d unsent frames", self.queue.qsize())
            self.dead = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(frame)

    async def _write_loop(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                break
            if self.websocket.application_state != WebSocketState.CONNECTED:
                break
            try:
                await self.websocket.send_json(frame)
            except Exception:  # the peer went away; the reader side cleans up
                break

    async def close(self) -> None:
        """Stop the writer after the frames already queued were sent."""
        self.queue.put_nowait(None)
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer, timeout=5)


class Hub:
    """Registry of the open sockets and the fan-out to them."""

    def __init__(self) -> None:
        self._members: dict[str, set[Connection]] = {}
        self._agents: set[Connection] = set()

    def add_member(self, conversation_id: str, conn: Connection) -> None:
        conn.conversation_id = conversation_id
        self._members.setdefault(conversation_id, set()).add(conn)

    def remove_member(self, conn: Connection) -> None:
        room = self._members.get(conn.conversation_id or "")
        if room is not None:
            room.discard(conn)
            if not room:
                self._members.pop(conn.conversation_id or "", None)

    def add_agent(self, conn: Connection) -> None:
        self._agents.add(conn)

    def remove_agent(self, conn: Connection) -> None:
        self._agents.discard(conn)

    def to_conversation(self, conversation_id: str, frame: Frame) -> None:
        """Send ``frame`` to every member socket of the conversation."""
        for conn in list(self._members.get(conversation_id, ())):
            conn.send(frame)

    def to_agents(self, frame: Frame, *, where: Callable[[Connection], bool] | None = None) -> None:
        """Send ``frame`` to the agent sockets for which ``where`` holds (all when None)."""
        for conn in list(self._agents):
            if where is None or where(conn):
                conn.send(frame)

    def agent_count(self) -> int:
        return len(self._agents)

    def member_count(self, conversation_id: str) -> int:
        return len(self._members.get(conversation_id, ()))
