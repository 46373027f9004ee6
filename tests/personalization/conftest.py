"""Shared fixtures: one small demo database per test session, built by the real seed code.

Tests that write get a session whose work is rolled back, so every test sees the seeded data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from personalization.db import make_engine, session_factory
from personalization.models import Member, Order
from personalization.seed import seed_database
from personalization.services.members import lifecycle_stage
from personalization.settings import Settings
from tests.pg import PostgresUnavailable, running_postgres

AS_OF = date(2026, 10, 15)
# Seeded data end just before midnight at the start of AS_OF; queries are asked as of then.
NOW = datetime(2026, 10, 15, 0, 0, 0)
SEED = Settings().seed
N_MEMBERS = 150
N_ORDERS = 1500


@dataclass(frozen=True)
class SeededDb:
    url: str
    path: Path
    engine: Engine
    factory: sessionmaker[Session]
    counts: dict[str, int]


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDb]:
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    url = f"sqlite:///{path}"
    engine = make_engine(Settings(database_url=url))
    result = seed_database(engine, members=N_MEMBERS, orders=N_ORDERS, seed=SEED, as_of=AS_OF)
    yield SeededDb(url=url, path=path, engine=engine, factory=session_factory(engine), counts=result["counts"])
    engine.dispose()


@pytest.fixture()
def session(seeded_db: SeededDb) -> Iterator[Session]:
    """A session on the seeded database; everything it writes is rolled back afterwards."""
    with seeded_db.factory() as s:
        yield s
        s.rollback()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (tests/pg.py) for this test session; skipped only where none can run."""
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(scope="session")
def segments(seeded_db: SeededDb) -> dict[tuple[str, str], list[str]]:
    """Member ids by (tier code, lifecycle stage) as of NOW."""
    with seeded_db.factory() as s:
        last_orders = dict(
            s.execute(select(Order.member_id, func.max(Order.created_at)).group_by(Order.member_id)).all()
        )
        result: dict[tuple[str, str], list[str]] = {}
        for member in s.scalars(select(Member).order_by(Member.member_id)):
            stage = lifecycle_stage(
                registered_at=member.registered_at, last_order_at=last_orders.get(member.member_id), now=NOW
            )
            result.setdefault((member.tier_code, stage), []).append(member.member_id)
    return result


@pytest.fixture(scope="session")
def active_member_id(segments: dict[tuple[str, str], list[str]], seeded_db: SeededDb) -> str:
    """An active, consenting gold member with a few orders (a typical personalised case)."""
    with seeded_db.factory() as s:
        for member_id in segments[("gold", "active")]:
            if s.get(Member, member_id).consent_personalization:
                return member_id
    raise AssertionError("no consenting active gold member in the demo data")
