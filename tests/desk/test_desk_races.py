"""Races on SQLite and on a throwaway PostgreSQL cluster: numbering, claims, one active handoff.

Threads start together (a barrier), each in its own session, and commit; the stored rows must come
out the same as if the requests had arrived one by one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from personalization.db import create_schema, make_engine, session_factory
from personalization.desk import agents, conversations, handoff
from personalization.desk.errors import DeskError
from personalization.models import Base, HandoffRequest
from personalization.services import requests
from personalization.settings import Settings

from .conftest import NOW

T = TypeVar("T")
THREADS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """An empty desk schema on either database, with two agents."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'desk.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine: Engine = make_engine(Settings(database_url=url))
    Base.metadata.drop_all(engine)
    create_schema(engine)
    made = session_factory(engine)
    with made() as s:
        agents.create_agent(s, "agent1", "小王", "agent1-demo", "agent", now=NOW)
        agents.create_agent(s, "agent2", "小李", "agent2-demo", "agent", now=NOW)
        s.commit()
    yield made
    engine.dispose()


def _together(n: int, work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(min(n, THREADS))

    def run(i: int) -> T:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return work(i)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, range(n)))


def _visitor_conversation(factory: sessionmaker[Session], visitor: str) -> str:
    with factory() as s:
        cid = conversations.open_conversation(s, member_id=None, visitor_id=visitor, now=NOW)["conversation_id"]
        s.commit()
    return cid


def test_concurrent_appends_number_messages_without_gaps(factory: sessionmaker[Session]) -> None:
    cid = _visitor_conversation(factory, "v-race")

    def append(i: int) -> tuple[int, bool]:
        with factory() as s:
            # every 4th message is a resend of an earlier client id
            message, created = conversations.append_message(
                s, cid, sender="member", text=f"m{i}", client_id=f"c{i % 30}"
            )
            s.commit()
            return message["seq"], created

    results = _together(40, append)
    assert sum(created for _, created in results) == 30
    with factory() as s:
        stored = conversations.messages_after(s, cid)
    assert [m["seq"] for m in stored] == list(range(1, 31))
    assert sorted(m["client_id"] for m in stored) == sorted(f"c{i}" for i in range(30))


def test_two_agents_claiming_at_once_one_wins(factory: sessionmaker[Session]) -> None:
    cid = _visitor_conversation(factory, "v-claim")
    with factory() as s:
        hid = handoff.request_handoff(s, cid, reason="member_request", now=NOW)["handoff_id"]
        ids = [agents.get_agent_by_username(s, name).id for name in ("agent1", "agent2")]
        s.commit()

    def claim(i: int) -> Any:
        with factory() as s:
            try:
                result = handoff.claim(s, hid, ids[i % 2], now=NOW)
            except DeskError as exc:
                s.rollback()
                return exc.code
            s.commit()
            return result["agent_id"]

    outcomes = _together(6, claim)
    winners = [o for o in outcomes if o != "already_claimed"]
    assert len(winners) == 1
    with factory() as s:
        assert s.get(HandoffRequest, hid).agent_id == winners[0]


def test_concurrent_handoff_requests_queue_a_conversation_once(factory: sessionmaker[Session]) -> None:
    cid = _visitor_conversation(factory, "v-queue")

    def request(i: int) -> int:
        with factory() as s:
            result = requests.record_handoff(session=s, conversation_id=cid, member_id=None, reason="member_request")
            s.commit()
            return result["handoff_id"]

    ids = _together(8, request)
    assert len(set(ids)) == 1
    with factory() as s:
        count = s.scalar(select(func.count()).select_from(HandoffRequest).where(HandoffRequest.conversation_id == cid))
    assert count == 1


def test_concurrent_opens_of_one_visitor_share_one_conversation(factory: sessionmaker[Session]) -> None:
    def open_one(i: int) -> str:
        with factory() as s:
            cid = conversations.open_conversation(s, member_id=None, visitor_id="v-tabs", now=NOW)["conversation_id"]
            s.commit()
            return cid

    assert len(set(_together(6, open_one))) == 1
