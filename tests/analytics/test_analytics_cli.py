"""``python -m personalization analytics``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personalization.cli import main
from personalization.settings import Settings
from tests.analytics.builders import EventLog, write_events
from tests.analytics.conftest import D1, at


def _settings(tmp_path: Path, events_db: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}", rasa_events_db=str(events_db))


def test_analytics_command_creates_its_tables_and_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = EventLog()
    log.session_start("C-x", at(D1, 9))
    log.user("C-x", at(D1, 9, 0, 1), "你好", "greet")
    write_events(tmp_path / "events.db", log)
    settings = _settings(tmp_path, tmp_path / "events.db")
    assert main(["analytics", "--batch", "3"], settings_factory=lambda: settings) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["events_read"], summary["conversations_created"], summary["turns_written"]) == (len(log.rows), 1, 1)
    assert main(["analytics"], settings_factory=lambda: settings) == 0
    assert json.loads(capsys.readouterr().out)["events_read"] == 0


def test_analytics_command_without_an_events_database_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _settings(tmp_path, tmp_path / "missing.db")
    assert main(["analytics"], settings_factory=lambda: settings) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["error"].startswith("events database not found")
