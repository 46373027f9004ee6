"""A small seeded shop plus everything a member leaves behind elsewhere, for the rights tests.

Per test: a copy of a seeded database (orders, coupons, points, browsing) to which the fixtures add,
for two members A and B, a stored profile, a return, a complaint, a web chat with a hand-off and a
CSAT rating, the desk's audit rows, a privacy request, and Rasa's two stores as real SQLite files:
the tracker store (``events`` as Rasa's SQLTrackerStore creates it, JSON with ASCII escapes as Rasa
writes it) and the broker copy (``tests.analytics.builders.write_events``). A's conversations:

* ``C-a-web``: the web chat (``Conversation.public_id``); member id in the message metadata;
* ``rest-a``: a REST conversation tied to A only by the ``member_id`` slot (no metadata);
* B has ``C-b-web``; ``C-anon`` is an anonymous visitor who happens to say B's... nothing personal.

A's messages say A's name and phone. The analytics pipeline has run once on the broker copy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from personalization.db import create_schema, make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.models import (
    Agent,
    AgentAction,
    BrowseEvent,
    Complaint,
    Member,
    MemberProfileRow,
    Order,
    PointsEntry,
    PrivacyRequest,
    ReturnRequest,
)
from personalization.rights import RasaStores
from personalization.seed import seed_database
from personalization.settings import Settings
from tests.analytics.builders import EventLog, add_chat, add_csat, add_handoff, product_cards, write_events

AS_OF = date(2026, 10, 15)
T0 = datetime(2026, 10, 14, 10, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded shop; its folder is also every test's ``var_dir`` (the data key of encrypted columns)."""
    folder = tmp_path_factory.mktemp("rights-shop")
    path = folder / "shop.db"
    engine = make_engine(replace(Settings(), database_url=f"sqlite:///{path}", var_dir=str(folder)))
    seed_database(engine, members=40, orders=300, seed=Settings().seed, as_of=AS_OF)
    engine.dispose()
    return path


@dataclass
class Person:
    member_id: str
    name: str
    phone: str


@dataclass
class World:
    settings: Settings
    factory: sessionmaker[Session]
    rasa: RasaStores
    a: Person
    b: Person
    tracker_path: Path
    events_path: Path
    log: EventLog

    def session(self) -> Session:
        return self.factory()

    def pipeline(self) -> dict:
        source = SqlEventSource.for_sqlite_file(self.events_path)
        try:
            return run_pipeline(self.factory, source)
        finally:
            source.close()


def _pick_members(session: Session) -> tuple[Person, Person]:
    """Two members with orders, browsing and points whose names no other member shares."""
    chosen = []
    for member in session.scalars(select(Member).order_by(Member.member_id)):
        mid = member.member_id
        has = all(
            session.scalar(select(model.member_id).where(model.member_id == mid).limit(1))
            for model in (Order, BrowseEvent, PointsEntry)
        )
        homonyms = session.scalar(select(Member.member_id).where(Member.name == member.name, Member.member_id != mid).limit(1))
        if has and homonyms is None:
            chosen.append(Person(mid, member.name, member.phone))
        if len(chosen) == 2:
            return chosen[0], chosen[1]
    raise AssertionError("the seeded shop lacks two members with full histories")


def conversation_events(a: Person, b: Person, handoff_a: int) -> EventLog:
    log = EventLog()
    log.session_start("C-a-web", at(0), member=a.member_id, name=a.name, tier="gold")
    log.user("C-a-web", at(1), "有什么推荐", "ask_recommendation", member=a.member_id)
    log.bot("C-a-web", at(1.1), "为您精选了这些好物", product_cards("SKU10001", "SKU10002"))
    log.user("C-a-web", at(2), f"我叫{a.name}，电话{a.phone}，转人工", "request_human",
             polarity="negative", emotion="anger", member=a.member_id)
    log.action("C-a-web", at(2.1), "action_handoff_to_human")
    log.bot("C-a-web", at(2.1), "正在为您转接人工客服", {"type": "handoff", "handoff_id": handoff_a, "reason": "member_request"})
    log.session_start("C-b-web", at(3), member=b.member_id, name=b.name, tier="normal")
    log.user("C-b-web", at(4), f"我是{b.name}，我的积分呢", "ask_points", member=b.member_id)
    log.bot("C-b-web", at(4.1), "您有 100 积分")
    log.session_start("C-anon", at(5))
    log.user("C-anon", at(6), "你好", "greet")
    log.bot("C-anon", at(6.1), "您好！")
    # A REST conversation tied to A only by the member_id slot (messages carry no metadata).
    log.session_start("rest-a", at(7), member=a.member_id, name=a.name, tier="gold")
    log.user("rest-a", at(8), "我的订单到哪了", "check_order_status")
    log.bot("rest-a", at(8.1), "运输中")
    return log


def write_tracker(path: Path, log: EventLog) -> None:
    """Rasa 3.6's SQLTrackerStore table, rows as it writes them (``json.dumps`` with ASCII escapes)."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE events (id INTEGER NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
            "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))"
        ))
        for sender, event in log.rows:
            body = {k: v for k, v in event.items() if k != "sender_id"}
            connection.execute(
                text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                     "VALUES (:s, :t, :ts, :i, :a, :d)"),
                {"s": sender, "t": event["event"], "ts": event["timestamp"],
                 "i": (event.get("parse_data") or {}).get("intent", {}).get("name"),
                 "a": event.get("name") if event["event"] == "action" else None, "d": json.dumps(body)},
            )
    engine.dispose()


def _add_app_rows(session: Session, a: Person, b: Person) -> int:
    agent = session.scalar(select(Agent).where(Agent.username == "agent1"))
    handoff_ids = {}
    for person, sender in ((a, "C-a-web"), (b, "C-b-web")):
        mid = person.member_id
        session.add(MemberProfileRow(member_id=mid, computed_at=at(0), segment="loyal", lifecycle="active",
                                     profiled=True, churn_risk=0.2, data={"name": person.name, "segment_label": {"code": "loyal"}}))
        order_id = session.scalar(select(Order.order_id).where(Order.member_id == mid).limit(1))
        session.add(ReturnRequest(member_id=mid, order_id=order_id, reason=f"尺码不合适，联系{person.phone}", created_at=at(1)))
        session.add(Complaint(conversation_id=sender, member_id=mid, text=f"{person.name}投诉：太慢了", created_at=at(2)))
        session.add(PrivacyRequest(member_id=mid, kind="export", created_at=at(0), status="received"))
        handoff = add_handoff(session, sender, mid, at(2.1), reason="member_request", claimed=at(3), resolved=at(9))
        handoff.note = f"{person.name} 要求加急"
        handoff_ids[mid] = handoff.id
        add_chat(session, sender, mid, [
            ("member", at(2), f"我叫{person.name}，电话{person.phone}，转人工"),
            ("agent", at(3), f"{person.name}您好，我是小王"),
            ("agent", at(4), "已为您处理"),
        ])
        add_csat(session, sender, 5, at(10), handoff_id=handoff.id, member_id=mid)
        for kind in ("claim", "reply", "resolve"):
            session.add(AgentAction(agent_id=agent.id, conversation_id=sender, handoff_id=handoff.id, kind=kind,
                                    detail={"text": f"{person.name}您好"} if kind == "reply" else None, created_at=at(5)))
    session.add(PrivacyRequest(member_id=a.member_id, kind="delete", created_at=at(11), status="received"))
    return handoff_ids[a.member_id]


@pytest.fixture()
def world(seeded_file: Path, tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "shop.db"
    shutil.copyfile(seeded_file, path)
    settings = replace(Settings(), database_url=f"sqlite:///{path}", var_dir=str(seeded_file.parent),
                       rasa_tracker_db=str(tmp_path / "tracker.db"), rasa_events_db=str(tmp_path / "events.db"))
    engine = make_engine(settings)
    create_schema(engine)
    factory = session_factory(engine)
    with factory() as session:
        ensure_demo_agents(session)
        session.flush()
        a, b = _pick_members(session)
        handoff_a = _add_app_rows(session, a, b)
        session.commit()
    log = conversation_events(a, b, handoff_a)
    write_tracker(tmp_path / "tracker.db", log)
    write_events(tmp_path / "events.db", log)
    rasa = RasaStores.from_settings(settings)
    built = World(settings=settings, factory=factory, rasa=rasa, a=a, b=b, tracker_path=tmp_path / "tracker.db",
                  events_path=tmp_path / "events.db", log=log)
    built.pipeline()
    yield built
    rasa.close()
    engine.dispose()
