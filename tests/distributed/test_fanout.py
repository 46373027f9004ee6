"""web/fanout.py on a real PostgreSQL: two relays (two "replicas") sharing one database.

Fast (a throwaway cluster from tests/pg.py), so it runs in plain ``pytest``, unlike the
deployment tests beside it. The sockets are recording stand-ins for Starlette's WebSocket; the
hubs, relays, store and LISTEN/NOTIFY are the real ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Iterator

import pytest
from starlette.websockets import WebSocketState

from personalization.db import create_schema, make_engine, session_factory
from personalization.desk import conversations as desk_conv
from personalization.settings import Settings
from tests.pg import PostgresUnavailable, running_postgres
from web.events import Relay
from web.fanout import FanoutConfigError, FanoutRelay, relay_for, start_relay, stop_relay
from web.hub import Connection, Hub
from web.store import Store


class RecordingSocket:
    """What the hub's writer needs of a WebSocket: a state and ``send_json``."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)


@pytest.fixture(scope="module")
def pg_settings() -> Iterator[Settings]:
    try:
        with running_postgres() as url:
            settings = replace(Settings(), database_url=url, web_fanout="postgres")
            engine = make_engine(settings)
            create_schema(engine)
            engine.dispose()
            yield settings
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


def _conversation(store: Store) -> tuple[str, dict[str, Any]]:
    with store.factory() as session:
        conversation = desk_conv.open_conversation(session, member_id=None, visitor_id="v-fanout-test")
        cid = conversation["conversation_id"]
        message, _ = desk_conv.append_message(session, cid, sender="member", text="你好，跨副本",
                                              client_id="c-fanout-1")
        session.commit()
    return cid, message


async def _until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _replica(settings: Settings) -> tuple[Hub, Relay, Store, Any]:
    engine = make_engine(settings)
    store = Store(session_factory(engine))
    hub = Hub()
    return hub, relay_for(settings, hub, store), store, engine


def test_a_message_on_replica_a_reaches_the_member_socket_on_replica_b(pg_settings: Settings) -> None:
    async def scenario() -> None:
        hub_a, relay_a, store_a, engine_a = _replica(pg_settings)
        hub_b, relay_b, _store_b, engine_b = _replica(pg_settings)
        assert isinstance(relay_a, FanoutRelay) and isinstance(relay_b, FanoutRelay)
        await start_relay(relay_a)
        await start_relay(relay_b)
        try:
            cid, message = _conversation(store_a)
            socket_a, socket_b = RecordingSocket(), RecordingSocket()
            for hub, socket in ((hub_a, socket_a), (hub_b, socket_b)):
                conn = Connection(socket)  # type: ignore[arg-type]
                conn.start()
                hub.add_member(cid, conn)
            relay_a.message(cid, message, None)
            relay_a.state({"conversation_id": cid, "state": "bot"})
            assert await _until(lambda: len(socket_b.frames) >= 2), f"replica B got {socket_b.frames}"
            await asyncio.sleep(0.3)  # a duplicate (or an echo back to A) would arrive now
            got = [f for f in socket_b.frames if f["type"] == "message"]
            assert [(f["message"]["seq"], f["message"]["text"]) for f in got] == [(message["seq"], "你好，跨副本")]
            assert [f["type"] for f in socket_b.frames] == ["message", "state"]
            assert [f["type"] for f in socket_a.frames] == ["message", "state"]  # local, once, no echo
            assert relay_a.received == 0 and relay_b.received == 2
        finally:
            await stop_relay(relay_a)
            await stop_relay(relay_b)
            engine_a.dispose()
            engine_b.dispose()

    asyncio.run(scenario())


def test_the_local_default_stays_in_process(pg_settings: Settings) -> None:
    """The control: with ``web_fanout="local"`` replica B hears nothing (what the fan-out fixes)."""
    local = replace(pg_settings, web_fanout="local")

    async def scenario() -> None:
        _hub_a, relay_a, store_a, engine_a = _replica(local)
        hub_b, relay_b, _store_b, engine_b = _replica(local)
        assert type(relay_a) is Relay and type(relay_b) is Relay
        try:
            cid, message = _conversation(store_a)
            socket_b = RecordingSocket()
            conn = Connection(socket_b)  # type: ignore[arg-type]
            conn.start()
            hub_b.add_member(cid, conn)
            relay_a.message(cid, message, None)
            await asyncio.sleep(0.5)
            assert socket_b.frames == []
        finally:
            engine_a.dispose()
            engine_b.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize(("mode", "url", "needle"), [
    ("postgres", "sqlite:///var/x.db", "PostgreSQL DATABASE_URL"),
    ("redis", "sqlite:///var/x.db", "WEB_FANOUT must be one of"),
])
def test_bad_fanout_settings_are_refused_clearly(mode: str, url: str, needle: str) -> None:
    settings = replace(Settings(), database_url=url, web_fanout=mode)
    with pytest.raises(FanoutConfigError, match=needle):
        relay_for(settings, Hub(), Store(None))  # type: ignore[arg-type]


def test_web_fanout_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).web_fanout == "local"
    assert Settings.from_env({"WEB_FANOUT": " Postgres "}).web_fanout == "postgres"
