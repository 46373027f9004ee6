"""Fixtures of the hardening tests: the web app tests' seeded database and stand-in Rasa, and an
app factory for apps with their own limits (tight rate limits, secure cookies, a trusted proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from personalization.db import make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.models import Member
from personalization.seed import seed_database
from personalization.settings import Settings
from tests.web.conftest import _rasa_server, client, rasa  # noqa: F401 (fixtures)
from tests.web.helpers import RASA_TOKEN, SECRET, FakeRasa, WebDb
from web.app import create_app

AppFactory = Callable[..., TestClient]
# One data key for the seeded database and every app over it (members' fields are encrypted at rest).
DATA_KEY = "security-tests-data-key-0123456789"


@pytest.fixture(scope="session")
def web_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDb]:
    """A small seeded shop (60 members) with the demo desk accounts."""
    path = tmp_path_factory.mktemp("security") / "shop.db"
    url = f"sqlite:///{path}"
    engine = make_engine(Settings(database_url=url, data_key=DATA_KEY, var_dir=str(path.parent)))
    seed_database(engine, members=60, orders=400, seed=Settings().seed, as_of=date(2026, 10, 15))
    factory = session_factory(engine)
    with factory() as session:
        ensure_demo_agents(session)
        session.commit()
        members = list(session.scalars(select(Member.member_id).order_by(Member.member_id)))
    yield WebDb(url=url, factory=factory, members=members)
    engine.dispose()


@pytest.fixture()
def settings(web_db: WebDb, tmp_path: Path) -> Settings:
    return replace(Settings(), database_url=web_db.url, var_dir=str(tmp_path), web_secret=SECRET, web_demo=True,
                   analytics_interval_s=0, rasa_events_db=str(tmp_path / "events.db"), data_key=DATA_KEY)


@pytest.fixture()
def make_client(settings: Settings, rasa: FakeRasa) -> Iterator[AppFactory]:  # noqa: F811
    """``make_client(**settings_overrides)``: a started app with those settings (closed after the test)."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        app = create_app(replace(settings, **overrides), rasa_url=rasa.url, rasa_token=RASA_TOKEN)
        test_client = TestClient(app)
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)
