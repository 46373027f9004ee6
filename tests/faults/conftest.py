"""Fault tests: the real Rasa + action server + web app on free ports, broken on purpose.

One stack for the session (a small seeded SQLite database in a temp dir); each test leaves it
healthy again (a killed process is started again before the test ends). The tests are marked
``faults`` and take a few minutes (Rasa starts twice): ``make test-faults`` runs them; a plain
``pytest`` skips them unless ``-m faults`` is given or ``FAULT_TESTS=1`` is set.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest

from launcher.stack import Stack, isolated_settings
from personalization.db import create_schema, make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.seed import seed_database
from personalization.settings import Settings
from tests.faults.helpers import FaultStack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run only when asked for: ``-m faults`` (``make test-faults``) or ``FAULT_TESTS=1``."""
    asked = "faults" in (config.getoption("markexpr") or "") or os.environ.get("FAULT_TESTS") == "1"
    if asked:
        return
    skip = pytest.mark.skip(reason="fault tests start and kill real servers (minutes): make test-faults")
    for item in items:
        if item.get_closest_marker("faults") is not None:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: kills and restarts real servers (make test-faults)")


@pytest.fixture(scope="session")
def fault_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("faults")
    settings = replace(isolated_settings(Settings.from_env(), tmp, "faults"),
                       database_url=f"sqlite:///{tmp / 'shop.db'}", var_dir=str(tmp), web_demo=True)
    engine = make_engine(settings)
    seed_database(engine, members=60, orders=400, seed=Settings().seed, as_of=date.today())
    create_schema(engine)
    with session_factory(engine)() as session:
        ensure_demo_agents(session)
        session.commit()
    engine.dispose()
    return settings


@pytest.fixture(scope="session")
def fault_stack(fault_settings: Settings) -> Iterator[FaultStack]:
    model = Path(fault_settings.rasa_model)
    assert model.exists(), f"no trained model at {model}: run `make setup` first"
    # No background analytics writes: the database-lock test holds the write lock on purpose.
    with Stack(fault_settings, Path(fault_settings.var_dir) / "logs", extra_env={"ANALYTICS_INTERVAL_S": "0"}) as stack:
        stack.wait_ready(timeout=300)
        yield FaultStack(stack)
