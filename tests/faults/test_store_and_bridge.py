"""Fast checks of the pieces the fault tests rely on (no servers; run by a plain ``pytest``).

A real SQLite file held locked by another connection, or capped with ``PRAGMA max_page_count``, must
turn into a polite 503 ``storage_busy`` / ``storage_full`` from ``web.flows`` with nothing half
written; a turn whose custom action failed (``failed_actions`` from ``rasa_ext.channels``) or that
came back empty is answered with the polite "please retry" system message in the conversation's
language.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from personalization.db import create_schema, session_factory
from personalization.desk import conversations as desk_conv
from web import flows
from web.errors import ApiError
from web.rasa_bridge import BOT_RETRY_MARKER, RasaBridge
from web.store import Store


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[tuple[Path, Engine, str]]:
    """A real SQLite file with the schema and one visitor conversation; a 0.3 s busy timeout."""
    path = tmp_path / "store.db"
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.3})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    create_schema(engine)
    with session_factory(engine)() as session:
        conversation = desk_conv.open_conversation(session, member_id=None, visitor_id="v-faults")
        session.commit()
    yield path, engine, conversation["conversation_id"]
    engine.dispose()


def _count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM chat_messages").fetchone()[0])


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def _say(store: Store, cid: str, text: str, client_id: str) -> Any:
    return asyncio.run(store.call(flows.member_message, cid, text=text, payload=None, client_id=client_id))


def test_locked_store_is_a_polite_503_and_recovers(db: tuple[Path, Engine, str]) -> None:
    path, engine, cid = db
    store = Store(session_factory(engine))
    _say(store, cid, "第一条", "c1")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ApiError) as refused:
            _say(store, cid, "第二条", "c2")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert refused.value.code == "storage_busy" and refused.value.status == 503
    assert "稍后" in refused.value.message_zh and "try again" in refused.value.message_en
    assert _integrity(path) == "ok" and _count(path) == 1
    message, created, _, _ = _say(store, cid, "第二条", "c2")
    assert created and message["seq"] == 2 and _count(path) == 2


def test_full_store_is_a_polite_503_and_recovers(db: tuple[Path, Engine, str]) -> None:
    path, engine, cid = db
    cap: dict[str, int | None] = {"pages": None}

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        if cap["pages"] is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {cap['pages']}")

    store = Store(session_factory(engine))
    _say(store, cid, "第一条", "c1")
    with sqlite3.connect(path) as connection:
        cap["pages"] = int(connection.execute("PRAGMA page_count").fetchone()[0])
    engine.dispose()
    with pytest.raises(ApiError) as refused:
        for index in range(5):
            _say(store, cid, "很长的一条消息" * 280, f"long-{index}")
    assert refused.value.code == "storage_full" and refused.value.status == 503
    assert _integrity(path) == "ok"
    stored_before = _count(path)
    cap["pages"] = None
    engine.dispose()
    _, created, _, _ = _say(store, cid, "很长的一条消息" * 280, "after")
    assert created and _count(path) == stored_before + 1 and _integrity(path) == "ok"


@pytest.mark.parametrize(("language", "text"), [
    ("zh", "系统繁忙，请稍后再试。"), ("en", "The system is busy right now; please try again in a moment.")])
@pytest.mark.parametrize("items", [[{"custom": {"type": BOT_RETRY_MARKER}}], []], ids=["failed_action", "empty"])
def test_unanswered_turn_gets_the_retry_message(db: tuple[Path, Engine, str], language: str, text: str,
                                                items: list[dict[str, Any]]) -> None:
    _, engine, cid = db
    store = Store(session_factory(engine))
    asyncio.run(store.call(flows.set_language, cid, language))
    outcome = asyncio.run(store.call(flows.store_bot_items, cid, items))
    assert [m["sender"] for m in outcome.messages] == ["system"]
    assert outcome.messages[0]["text"] == text
    assert outcome.messages[0]["payload"]["event"] == "bot_retry"
    assert outcome.extra["bot_silent"] is True


class _Rasa(BaseHTTPRequestHandler):
    """Answers the rest_nlu webhook the way rasa_ext.channels does after a failed custom action."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"messages": [{"recipient_id": "x", "text": "还有什么可以帮您？"}],
                           "nlu": {"intent": "ask_tier", "confidence": 0.9, "sentiment": None},
                           "failed_actions": ["action_tier_benefits"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_bridge_turns_a_failed_action_into_the_retry_marker() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        async def send() -> Any:
            bridge = RasaBridge(f"http://127.0.0.1:{server.server_address[1]}", "token")
            try:
                return await bridge.send("c1", "我是什么会员等级", {"language": "zh"})
            finally:
                await bridge.aclose()
        turn = asyncio.run(send())
    finally:
        server.shutdown()
        server.server_close()
    assert turn.items == [{"custom": {"type": BOT_RETRY_MARKER}}]
    assert turn.parse.intent == "ask_tier"
