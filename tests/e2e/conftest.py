"""End-to-end fixtures: a seeded database and the real Rasa + action server stack on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest

from launcher.rest_client import RestChannelClient
from launcher.stack import Stack, isolated_settings
from personalization.settings import PROJECT_ROOT, Settings


class Cli:
    """Runs ``python -m personalization`` against the test database."""

    def __init__(self, database_url: str, var_dir: str) -> None:
        # The var dir holds the data key that encrypts members' phones and birthdays: the stack's.
        self.env = dict(os.environ, DATABASE_URL=database_url, SHOP_VAR_DIR=var_dir, PYTHONPATH=str(PROJECT_ROOT))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "personalization", *args], cwd=PROJECT_ROOT,
                              env=self.env, capture_output=True, text=True, timeout=300)

    def json(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("e2e")
    return replace(
        isolated_settings(Settings.from_env(), tmp),
        database_url=f"sqlite:///{tmp / 'shop.db'}",
        var_dir=str(tmp),
    )


@pytest.fixture(scope="session")
def cli(e2e_settings: Settings) -> Cli:
    tool = Cli(e2e_settings.database_url, e2e_settings.var_dir)
    tool.json("seed", "--members", "200", "--orders", "2000", "--as-of", date.today().isoformat())
    return tool


@pytest.fixture(scope="session")
def stack(e2e_settings: Settings, cli: Cli) -> Iterator[Stack]:
    model = Path(e2e_settings.rasa_model)
    assert model.exists(), f"no trained model at {model}: run `make setup` first"
    with Stack(e2e_settings, Path(e2e_settings.var_dir) / "logs") as running:
        running.wait_ready(timeout=240)
        yield running


@pytest.fixture()
def chat(stack: Stack, request: pytest.FixtureRequest) -> Iterator["Chat"]:
    conversation = Chat(RestChannelClient(stack.rasa_url), sender=f"test-{request.node.name}-{os.getpid()}")
    yield conversation
    conversation.client.close()


class Chat:
    """One conversation (one sender id) with the bot."""

    def __init__(self, client: RestChannelClient, sender: str) -> None:
        self.client = client
        self.sender = sender

    def say(self, text: str, member_id: str | None = None) -> list[dict[str, Any]]:
        return self.client.send(self.sender, text, member_id=member_id)
