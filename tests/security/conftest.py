"""Fixtures of the hardening tests: the web app tests' seeded database, settings and stand-in Rasa
(tests/web/conftest.py), and an app factory for apps with their own limits (tight rate limits,
secure cookies, a trusted proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from personalization.settings import Settings
from tests.web.conftest import _rasa_server, client, rasa, settings, web_db  # noqa: F401 (fixtures)
from tests.web.helpers import RASA_TOKEN, FakeRasa
from web.app import create_app

AppFactory = Callable[..., TestClient]


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
