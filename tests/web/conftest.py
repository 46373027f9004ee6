"""Fixtures of the web app tests: a small seeded database, a stand-in Rasa server, the app.

The stand-in Rasa is a real HTTP server on a free port (``/webhooks/rest_nlu/webhook``, see
``rasa_ext.channels``, and ``/model/parse``) with fixed answers by message text; for "转人工" it queues a
handoff in the database the way the action server's handoff action does. The lead's e2e and
browser tests run the real Rasa.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from personalization.db import make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.models import Member
from personalization.seed import seed_database
from personalization.settings import Settings
from tests.web.helpers import RASA_TOKEN, SECRET, FakeRasa, WebDb, rasa_handler
from web.app import create_app

# One data key for the seeded database and every app over it (members' phones and birthdays are encrypted).
DATA_KEY = "web-tests-data-key-0123456789"


@pytest.fixture(scope="session")
def web_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDb]:
    path = tmp_path_factory.mktemp("web") / "shop.db"
    url = f"sqlite:///{path}"
    engine = make_engine(Settings(database_url=url, data_key=DATA_KEY))
    seed_database(engine, members=60, orders=400, seed=Settings().seed, as_of=date(2026, 10, 15))
    factory = session_factory(engine)
    with factory() as session:
        ensure_demo_agents(session)
        session.commit()
        members = list(session.scalars(select(Member.member_id).order_by(Member.member_id)))
    yield WebDb(url=url, factory=factory, members=members)
    engine.dispose()


@pytest.fixture(scope="session")
def _rasa_server(web_db: WebDb) -> Iterator[FakeRasa]:
    fake = FakeRasa(factory=web_db.factory)
    server = ThreadingHTTPServer(("127.0.0.1", 0), rasa_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture()
def rasa(_rasa_server: FakeRasa) -> FakeRasa:
    _rasa_server.reset()
    return _rasa_server


@pytest.fixture()
def settings(web_db: WebDb, tmp_path: Path) -> Settings:
    # No background analytics runs in these short-lived apps (tests/web/test_ops_api.py tests the runner).
    return replace(Settings(), database_url=web_db.url, var_dir=str(tmp_path), web_secret=SECRET, web_demo=True,
                   analytics_interval_s=0, rasa_events_db=str(tmp_path / "events.db"), data_key=DATA_KEY)


@pytest.fixture()
def client(settings: Settings, rasa: FakeRasa) -> Iterator[TestClient]:
    app = create_app(settings, rasa_url=rasa.url, rasa_token=RASA_TOKEN)
    with TestClient(app) as test_client:
        yield test_client
