"""Action tests: a small seeded database per session, a fresh copy per test, trackers built by hand.

The actions run exactly as the action server runs them (``Action.run`` with a
``CollectingDispatcher``); :func:`actions.runtime.configure` points them at the test database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from personalization.db import make_engine, session_factory
from personalization.models import Coupon, Member, Order, ShipmentEvent
from personalization.seed import seed_database
from personalization.settings import PROJECT_ROOT, Settings

# The services answer "as of now", so the demo data end today, like a freshly seeded shop.
AS_OF = date.today()
N_MEMBERS = 120
N_ORDERS = 1200
SENDER_ID = "conversation-under-test"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """domain.yml as the Rasa server sends it to the action server."""
    with open(PROJECT_ROOT / "domain.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("actions-shop") / "shop.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    seed_database(engine, members=N_MEMBERS, orders=N_ORDERS, seed=Settings().seed, as_of=AS_OF)
    engine.dispose()  # closes the last connection: SQLite folds the WAL into the file
    return path


@dataclass
class Shop:
    """The test database: its settings (as the actions see them) and sessions for checking."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]

    def session(self) -> Session:
        return self.factory()


@pytest.fixture()
def shop(seeded_file: Path, tmp_path: Path) -> Iterator[Shop]:
    """A private copy of the seeded database (actions write rows), wired into actions.runtime."""
    path = tmp_path / "shop.db"
    shutil.copyfile(seeded_file, path)
    settings = replace(Settings(), database_url=f"sqlite:///{path}")
    runtime.configure(settings)
    engine = make_engine(settings)
    yield Shop(settings=settings, engine=engine, factory=session_factory(engine))
    runtime.configure(None)
    engine.dispose()


@dataclass(frozen=True)
class Members:
    """Member ids with the histories the tests need, found in the seeded data."""

    with_orders: str  # consenting, has orders and usable coupons
    other_with_orders: str  # a second member with orders (whose order ids must stay hidden)
    opted_out: str | None
    returnable: tuple[str, str] | None  # (member id, order delivered within the last 7 days)
    english: str | None


@pytest.fixture(scope="session")
def members(seeded_file: Path) -> Members:
    engine = make_engine(Settings(database_url=f"sqlite:///{seeded_file}"))
    now = datetime.now()
    try:
        with session_factory(engine)() as s:
            with_orders = [
                m
                for m in s.scalars(
                    select(Member).where(Member.consent_personalization.is_(True)).order_by(Member.member_id)
                )
                if s.scalar(select(Order.order_id).where(Order.member_id == m.member_id).limit(1))
                and s.scalar(
                    select(Coupon.code)
                    .where(
                        Coupon.member_id == m.member_id,
                        Coupon.status == "available",
                        Coupon.valid_from <= now,
                        Coupon.valid_until >= now,
                    )
                    .limit(1)
                )
            ]
            opted_out = s.scalar(
                select(Member.member_id)
                .where(Member.consent_personalization.is_(False))
                .order_by(Member.member_id)
                .limit(1)
            )
            returnable = s.execute(
                select(Order.member_id, Order.order_id)
                .join(ShipmentEvent, ShipmentEvent.order_id == Order.order_id)
                .where(
                    Order.status.in_(("delivered", "completed")),
                    ShipmentEvent.status == "delivered",
                    ShipmentEvent.at >= now - timedelta(days=6),
                )
                .order_by(Order.order_id)
                .limit(1)
            ).first()
            english = s.scalar(
                select(Member.member_id).where(Member.preferred_language == "en").order_by(Member.member_id).limit(1)
            )
    finally:
        engine.dispose()
    assert len(with_orders) >= 2, "the demo data should have members with orders and coupons"
    return Members(
        with_orders=with_orders[0].member_id,
        other_with_orders=with_orders[1].member_id,
        opted_out=opted_out,
        returnable=tuple(returnable) if returnable else None,
        english=english,
    )


def build_tracker(
    text: str,
    *,
    member_id: str | None = None,
    intent: str = "",
    entities: Sequence[dict[str, Any]] = (),
    language: str | None = None,
    slots: dict[str, Any] | None = None,
    sentiment: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker as the Rasa server sends it, right after the member said ``text``.

    ``member_id`` goes into the message metadata, as the web gateway sends it.
    """
    latest_message: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": list(entities),
        "metadata": metadata if metadata is not None else ({"member_id": member_id} if member_id else {}),
    }
    if sentiment is not None:
        latest_message["sentiment"] = sentiment
    all_slots: dict[str, Any] = {
        "member_id": None,
        "member_name": None,
        "member_tier": None,
        "language": language,
        "session_started_metadata": None,
    }
    all_slots.update(slots or {})
    return Tracker(
        sender_id=SENDER_ID,
        slots=all_slots,
        latest_message=latest_message,
        events=list(events or []),
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@dataclass
class Result:
    """What one action run produced: the messages a member sees and the events."""

    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.messages)

    @property
    def responses(self) -> list[str]:
        return [m.get("utter_action") for m in self.messages]

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        return [m["custom"] for m in self.messages if (m.get("custom") or {}).get("type") == kind]

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.messages for b in m.get("buttons") or []]

    def slot_sets(self) -> dict[str, Any]:
        return {e["name"]: e["value"] for e in self.events if e.get("event") == "slot"}


def run_action(action: Action, tracker: Tracker, domain: dict[str, Any]) -> Result:
    """Run ``action`` like the action server does and collect what it said and returned."""
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, domain)
    return Result(messages=dispatcher.messages, events=list(events))


@pytest.fixture()
def tracker() -> Any:
    """``tracker(text, member_id=..., entities=..., ...)`` builds a Tracker (see build_tracker)."""
    return build_tracker


@pytest.fixture()
def run(domain: dict[str, Any]) -> Any:
    """``run(action, tracker)`` runs an action with the real domain and returns a Result."""
    return lambda action, tracker: run_action(action, tracker, domain)
