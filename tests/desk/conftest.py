"""Desk tests: one small seeded SQLite database (real seed code) plus the demo agents.

``session`` rolls back what a test writes. Concurrency tests need commits from many threads, so
``fresh_db`` gives each of them a private copy of the seeded file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from personalization.db import make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.models import Agent, Member, Order
from personalization.seed import seed_database
from personalization.settings import Settings
from tests.pg import PostgresUnavailable, running_postgres

AS_OF = date(2026, 10, 15)
NOW = datetime(2026, 10, 15, 10, 0, 0)
N_MEMBERS = 80
N_ORDERS = 800


@dataclass(frozen=True)
class Db:
    url: str
    path: Path
    engine: Engine
    factory: sessionmaker[Session]
    settings: Settings


def _open(path: Path, var_dir: Path) -> Db:
    url = f"sqlite:///{path}"
    settings = Settings(database_url=url, var_dir=str(var_dir))
    engine = make_engine(settings)
    return Db(url=url, path=path, engine=engine, factory=session_factory(engine), settings=settings)


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("desk-shop")
    path = folder / "shop.db"
    db = _open(path, folder)
    seed_database(db.engine, members=N_MEMBERS, orders=N_ORDERS, seed=Settings().seed, as_of=AS_OF)
    with db.factory() as s:
        ensure_demo_agents(s, now=NOW)
        s.commit()
    db.engine.dispose()  # folds the WAL into the file, so copies are complete
    return path


@pytest.fixture(scope="session")
def shared_db(seeded_file: Path) -> Iterator[Db]:
    db = _open(seeded_file, seeded_file.parent)
    yield db
    db.engine.dispose()


@pytest.fixture()
def session(shared_db: Db) -> Iterator[Session]:
    """A session on the shared database; everything it writes is rolled back afterwards."""
    with shared_db.factory() as s:
        yield s
        s.rollback()


@pytest.fixture()
def fresh_db(seeded_file: Path, tmp_path: Path) -> Iterator[Db]:
    """A private copy of the seeded database that tests may commit to."""
    path = tmp_path / "shop.db"
    shutil.copyfile(seeded_file, path)
    shutil.copyfile(seeded_file.parent / "data_key", tmp_path / "data_key")  # the copy's encrypted fields need it
    db = _open(path, tmp_path)
    yield db
    db.engine.dispose()


@pytest.fixture(scope="session")
def agent_ids(shared_db: Db) -> dict[str, int]:
    """Demo account ids by username (agent1, agent2, ops1, admin)."""
    with shared_db.factory() as s:
        return {a.username: a.id for a in s.scalars(select(Agent))}


@dataclass(frozen=True)
class Members:
    with_orders: str  # consenting, has orders
    opted_out: str  # consent_personalization False, has orders
    other: str  # another consenting member
    by_tier: dict[str, str]


@pytest.fixture(scope="session")
def members(shared_db: Db) -> Members:
    with shared_db.factory() as s:
        buyers = set(s.scalars(select(Order.member_id).distinct()))
        everyone = s.scalars(select(Member).order_by(Member.member_id)).all()
        consenting = [m.member_id for m in everyone if m.consent_personalization and m.member_id in buyers]
        opted = [m.member_id for m in everyone if not m.consent_personalization and m.member_id in buyers]
        by_tier: dict[str, str] = {}
        for m in everyone:
            by_tier.setdefault(m.tier_code, m.member_id)
    assert len(consenting) >= 2 and opted, "the demo data need consenting and opted-out buyers"
    return Members(with_orders=consenting[0], opted_out=opted[0], other=consenting[1], by_tier=by_tier)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (tests/pg.py); skipped only where none can run."""
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
