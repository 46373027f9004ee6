"""The web app's store is locked (another connection holds SQLite's write lock) or full.

Locked: the running web app (a real process) waits its busy timeout (15 s), then the member gets a
polite ``storage_busy`` error frame (no ack: the message was not stored, the widget resends it with
the same ``client_id``) and an agent's write gets a JSON 503 ``storage_busy``; no traceback, no
half-written rows; once the lock is released the resend is stored exactly once and the agent's
action goes through.

Full: SQLite's ``PRAGMA max_page_count`` caps the database at its current size, which SQLite then
reports exactly as a full disk ("database or disk is full"). The page cap is a per-connection
setting, so this part runs the web app in this process (uvicorn on a free port, real sockets, a real
SQLite file; the cap is set on each of the app's connections) against the stack's real Rasa.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest
import uvicorn
from sqlalchemy import event

from launcher.stack import free_port
from personalization.db import session_factory
from personalization.desk import conversations as desk_conv
from personalization.desk.handoff import request_handoff
from personalization.settings import Settings
from tests.faults.helpers import Agent, FaultStack, member_socket, say
from web.app import create_app

pytestmark = pytest.mark.faults

LONG_TEXT = "请帮我看看这个订单的情况，" * 150  # ~1,950 characters: needs new (overflow) pages


def _integrity(path: str) -> str:
    with sqlite3.connect(path, timeout=30) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def _rows(path: str, conversation_id: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path, timeout=30) as db:
        return db.execute(
            "SELECT m.seq, m.sender, m.text, m.client_id FROM chat_messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.public_id = ? ORDER BY m.seq", (conversation_id,)).fetchall()


def _stored(path: str, client_id: str) -> int:
    with sqlite3.connect(path, timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM chat_messages WHERE client_id = ?", (client_id,)).fetchone()[0])


def _assert_polite(body: dict[str, Any], code: str) -> None:
    assert body.get("error", body.get("code")) == code, body
    assert body["message_zh"] and body["message_en"]
    assert "Traceback" not in str(body) and "sqlite" not in str(body).lower()


# -- locked -------------------------------------------------------------------------------------------

def test_database_locked(fault_stack: FaultStack) -> None:
    asyncio.run(_locked(fault_stack))


async def _locked(fault: FaultStack) -> None:
    path = fault.database_path
    member = await member_socket(fault.web_url, "M100007")
    agent = Agent(fault.web_url)
    try:
        asked = await say(member, "转人工客服")
        assert asked.answer is not None, asked
        await member.wait_for(lambda: any(state == "queued" for _, state in member.states), 30)
        queue = agent.get("/agent/api/queue").json()["items"]
        handoff_id = next(i["handoff_id"] for i in queue if i["conversation_id"] == member.conversation_id)
        before = _rows(path, member.conversation_id)

        locker = sqlite3.connect(path, timeout=30, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # SQLite's write lock, held past the app's 15 s busy timeout
        try:
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(1) as pool:
                claim = loop.run_in_executor(pool, agent.post, f"/agent/api/handoffs/{handoff_id}/claim")
                started = time.monotonic()
                blocked = await say(member, "我的订单有问题", timeout=45)
                response = await claim
            assert blocked.seq is None, "not stored, so not acked"
            assert blocked.error is not None
            _assert_polite(blocked.error, "storage_busy")
            assert time.monotonic() - started < 45
            assert response.status_code == 503, response.text
            _assert_polite(response.json(), "storage_busy")
        finally:
            locker.execute("ROLLBACK")
            locker.close()

        assert _integrity(path) == "ok"
        assert _rows(path, member.conversation_id) == before, "what was written before is intact"
        resent = await say(member, "我的订单有问题", client_id=blocked.client_id)  # the widget's resend
        assert resent.seq is not None and resent.error is None
        assert _stored(path, blocked.client_id) == 1
        claimed = agent.post(f"/agent/api/handoffs/{handoff_id}/claim")
        assert claimed.status_code == 200, claimed.text
        assert "Traceback" not in fault.log("web")
    finally:
        agent.close()
        await member.close()


# -- full ---------------------------------------------------------------------------------------------

class PageCap:
    """``PRAGMA max_page_count`` on every connection of an engine (None: no cap)."""

    def __init__(self) -> None:
        self.pages: int | None = None

    def __call__(self, dbapi_connection: Any, _record: Any) -> None:
        if self.pages is not None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {int(self.pages)}")
            cursor.close()


@pytest.fixture()
def capped_app(fault_stack: FaultStack, tmp_path: Path) -> Iterator[tuple[str, str, PageCap, Any]]:
    """The web app in this process on its own copy of the database, with a page cap it can switch on."""
    path = tmp_path / "full.db"
    with sqlite3.connect(fault_stack.database_path, timeout=30) as source, sqlite3.connect(path) as target:
        source.backup(target)
    # The stack's var_dir: the same keys (member fields are encrypted at rest) and web secret.
    settings: Settings = replace(fault_stack.stack.settings, database_url=f"sqlite:///{path}",
                                 web_port=free_port(), analytics_interval_s=0)
    app = create_app(settings, rasa_url=fault_stack.stack.rasa_url, rasa_token=fault_stack.token)
    engine = app.state.ctx.store.factory.kw["bind"]
    cap = PageCap()
    event.listen(engine, "connect", cap)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.web_port, log_level="warning",
                                           ws="wsproto"))  # as web.__main__
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the in-process web app did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{settings.web_port}", str(path), cap, engine
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_database_full(capped_app: tuple[str, str, PageCap, Any]) -> None:
    asyncio.run(_full(*capped_app))


async def _full(web_url: str, path: str, cap: PageCap, engine: Any) -> None:
    member = await member_socket(web_url, "M100009")
    agent = Agent(web_url)
    try:
        first = await say(member, "我还有多少积分")
        assert first.seq is not None and first.answer is not None, first
        # Another member's conversation with the agent, who will answer at length while the store is full.
        with session_factory(engine)() as session:  # the app's engine (its data key), before the cap
            other = desk_conv.open_conversation(session, member_id="M100011", visitor_id=None)["conversation_id"]
            handoff_id = request_handoff(session, other, reason="member_request")["handoff_id"]
            session.commit()
        claimed = await asyncio.to_thread(agent.post, f"/agent/api/handoffs/{handoff_id}/claim")
        assert claimed.status_code == 200, claimed.text
        reply_path = f"/agent/api/conversations/{other}/reply"
        before = _rows(path, member.conversation_id)

        with sqlite3.connect(path) as db:
            cap.pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        engine.dispose()  # new connections get the cap
        refused = None
        for _ in range(5):  # the last pages' free space may take a message or two
            said = await say(member, LONG_TEXT, timeout=30)
            if said.seq is None:
                refused = said
                break
        assert refused is not None and refused.error is not None, "the full store must refuse the message"
        _assert_polite(refused.error, "storage_full")
        response = await asyncio.to_thread(agent.post, reply_path, json={"text": LONG_TEXT})
        assert response.status_code == 503, response.text
        _assert_polite(response.json(), "storage_full")

        assert _integrity(path) == "ok"
        assert _rows(path, member.conversation_id)[:len(before)] == before, "what was written before is intact"
        assert _stored(path, refused.client_id) == 0

        cap.pages = None
        engine.dispose()  # room again (the disk was cleaned up)
        resent = await say(member, LONG_TEXT, client_id=refused.client_id)
        assert resent.seq is not None and resent.error is None
        assert _stored(path, refused.client_id) == 1
        replied = await asyncio.to_thread(agent.post, reply_path, json={"text": LONG_TEXT})
        assert replied.status_code == 200, replied.text
        assert _integrity(path) == "ok"
    finally:
        agent.close()
        await member.close()
