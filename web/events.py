"""Who hears about what: the fan-out rules for members and agents on top of :class:`web.hub.Hub`.

An agent socket hears about a conversation's messages when the agent may view it: queued
conversations (every agent), the ones assigned to them, and all active ones for admins. Ops
accounts have no agent socket.
"""

from __future__ import annotations

from typing import Any, Callable

from web import flows
from web.hub import Connection, Hub
from web.store import Store


def state_frame(conversation: dict[str, Any] | None) -> dict[str, Any]:
    """``{"type":"state","state","agent_name","queue_position","handoff_id"}`` for the member."""
    conversation = conversation or {}
    return {"type": "state", "state": conversation.get("state", "bot"), "agent_name": conversation.get("agent_name"),
            "queue_position": conversation.get("queue_position"), "handoff_id": conversation.get("handoff_id")}


class Relay:
    """Pushes stored messages, state changes and the queue to the right sockets."""

    def __init__(self, hub: Hub, store: Store) -> None:
        self.hub = hub
        self.store = store

    @staticmethod
    def _viewer(handoff: dict[str, Any] | None,
                extra_agent_ids: tuple[int | None, ...] = ()) -> Callable[[Connection], bool]:
        status = (handoff or {}).get("status")
        owner = (handoff or {}).get("agent_id")
        involved = {i for i in (owner, *extra_agent_ids) if i is not None}

        def may_view(conn: Connection) -> bool:
            if conn.role == "admin":
                return handoff is not None or bool(involved)
            if conn.role != "agent":
                return False
            return status == "queued" or conn.agent_id in involved

        return may_view

    def message(self, conversation_id: str, message: dict[str, Any], handoff: dict[str, Any] | None,
                *, extra_agent_ids: tuple[int | None, ...] = ()) -> None:
        """A new stored message: to the member's sockets and to the agents who may view it."""
        self.hub.to_conversation(conversation_id, {"type": "message", "message": message})
        if handoff is not None or extra_agent_ids:
            self.hub.to_agents({"type": "message", "conversation_id": conversation_id, "message": message},
                               where=self._viewer(handoff, extra_agent_ids))

    def message_update(self, conversation_id: str, message: dict[str, Any], handoff: dict[str, Any] | None) -> None:
        """Intent/sentiment of a member message became known (agents only)."""
        if handoff is not None:
            self.hub.to_agents({"type": "message_update", "conversation_id": conversation_id, "message": message},
                               where=self._viewer(handoff))

    def state(self, conversation: dict[str, Any] | None) -> None:
        if conversation:
            self.hub.to_conversation(conversation["conversation_id"], state_frame(conversation))

    def handoff(self, handoff: dict[str, Any], *, extra_agent_ids: tuple[int | None, ...] = ()) -> None:
        """A claim / transfer / resolve / cancel: to the agents involved and the admins."""
        involved = {i for i in ((handoff or {}).get("agent_id"), *extra_agent_ids) if i is not None}
        self.hub.to_agents({"type": "handoff", "handoff": handoff},
                           where=lambda c: c.role == "admin" or (c.role == "agent" and c.agent_id in involved))

    async def queue(self) -> None:
        """The current queue to every agent socket (skipped when no agent is connected)."""
        if self.hub.agent_count() == 0:
            return
        items = await self.store.call(flows.queue)
        self.hub.to_agents({"type": "queue", "items": items}, where=lambda c: c.role in ("agent", "admin"))
