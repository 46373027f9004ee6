"""rasa_ext behaves exactly like Rasa's own tracker store, event broker and checks, only faster.

The checks run in ``.venv-rasa`` (see ``rasa_env_checks.py``); this file compares the results.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from personalization.settings import PROJECT_ROOT

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory: Path = tmp_path_factory.mktemp("rasa_ext")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("rasa_env_checks.py")), str(directory)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_tuned_store_stores_and_returns_what_rasa_does(results: dict[str, Any]) -> None:
    rasa, tuned = results["stores"]["rasa"], results["stores"]["tuned"]
    assert tuned["rows"] == rasa["rows"]
    assert tuned["retrieved"] == rasa["retrieved"]
    assert tuned["full"] == rasa["full"]
    assert tuned["missing"] is None and rasa["missing"] is None
    # The latest session only: the third save started a new one.
    assert [e["event"] for e in tuned["retrieved"][-1]] == ["session_started", "action"]


def test_broker_gets_every_new_event_exactly_once(results: dict[str, Any]) -> None:
    rasa, tuned = results["stores"]["rasa"], results["stores"]["tuned"]
    assert tuned["published"] == rasa["published"]
    assert len(tuned["published"]) == 12  # 7 + 2 + 3 events, none twice
    assert {event["sender_id"] for event in tuned["published"]} == {"member-1"}


def test_sqlite_runs_in_write_ahead_log_mode(results: dict[str, Any]) -> None:
    assert results["stores"]["journal_mode"] == "wal"


def test_speedups_change_nothing_but_speed(results: dict[str, Any]) -> None:
    before, after = results["speedups"]["before"], results["speedups"]["after"]
    assert after == before
    assert before["validation"][0] == "True"
    assert all("Failed to validate Action server response" in message for message in before["validation"][1:])
    assert results["speedups"]["unknown"] == "ValueError"


def test_button_payloads_keep_their_sentiment_tag(results: dict[str, Any]) -> None:
    before, after = results["payload_sentiment"]["before"], results["payload_sentiment"]["after"]
    # Rasa's handler drops the tag of a payload message; the wrapped one keeps it and changes nothing else.
    assert before[0]["sentiment"] is None and after[0]["sentiment"] == {"polarity": "neutral", "emotion": "neutral", "score": 1.0}
    assert [{k: v for k, v in m.items() if k != "sentiment"} for m in after] == [
        {k: v for k, v in m.items() if k != "sentiment"} for m in before
    ]
    assert after[0]["intent"] == "rate_service" and after[0]["entities"][0]["value"] == "5"
    assert before[1] == after[1]
