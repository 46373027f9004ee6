"""The app's shared parts (settings, store, hub, Rasa client, ...), kept on ``app.state.ctx``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from personalization.settings import Settings
from web.auth import LoginThrottle
from web.events import Relay
from web.hub import Hub
from web.rasa_bridge import RasaBridge
from web.store import Store


@dataclass
class AppContext:
    settings: Settings
    secret: str
    store: Store
    hub: Hub
    relay: Relay
    rasa: RasaBridge
    templates: Jinja2Templates
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def conversation_lock(self, conversation_id: str) -> asyncio.Lock:
        """One lock per conversation: a member's turns (from several tabs) run one at a time."""
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    def release_lock(self, conversation_id: str) -> None:
        """Forget an idle conversation's lock once its last socket closed."""
        lock = self._locks.get(conversation_id)
        if lock is not None and not lock.locked() and self.hub.member_count(conversation_id) == 0:
            del self._locks[conversation_id]


def get_ctx(conn: HTTPConnection) -> AppContext:
    """The :class:`AppContext` of the app serving this request or socket."""
    return conn.app.state.ctx  # type: ignore[no-any-return]

