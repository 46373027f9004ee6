"""``python -m personalization.sentiment``: stdin lines in, JSON lines out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from personalization.settings import PROJECT_ROOT


def _run(stdin: bytes, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "personalization.sentiment", *args], input=stdin,
                          capture_output=True, cwd=PROJECT_ROOT, env=environment, timeout=60, check=False)


def test_each_line_gets_one_json_object() -> None:
    lines = ["太好了，谢谢你们！", "", "什么破服务，气死我了", "   ", "😡😡", "x" * 10_000, "请问怎么修改收货地址"]
    result = _run(("\n".join(lines) + "\n").encode("utf-8"))
    assert result.returncode == 0, result.stderr.decode()
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert [row["text"] for row in rows] == lines
    assert all(set(row) == {"text", "polarity", "emotion", "score"} for row in rows)
    assert (rows[0]["polarity"], rows[0]["emotion"]) == ("positive", "joy")
    assert (rows[1]["polarity"], rows[1]["emotion"]) == ("neutral", "neutral")
    assert rows[2]["polarity"] == "negative"
    assert (rows[3]["polarity"], rows[3]["emotion"]) == ("neutral", "neutral")


def test_invalid_utf8_and_crlf_are_tolerated() -> None:
    result = _run(b"\xff\xfe bad bytes\r\n\xe5\xa5\xbd\r\n")
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.decode("utf-8").splitlines()) == 2


def test_sentiment_model_variable_points_at_another_model(tiny_model) -> None:
    folder: Path = tiny_model(["negative", "positive"], favour=1)
    result = _run("随便说点什么\n".encode("utf-8"), env={"SENTIMENT_MODEL": str(folder)})
    row = json.loads(result.stdout)
    assert (row["polarity"], row["emotion"]) == ("positive", "joy")


def test_missing_model_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = _run(b"hello\n", "--model", str(tmp_path / "none"))
    assert result.returncode == 2
    assert result.stderr.decode().startswith("error: no sentiment model at")
    assert b"Traceback" not in result.stderr
