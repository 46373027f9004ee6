"""Web settings from the environment, the generated signing secret, token-free logs, page escaping."""

from __future__ import annotations

import logging
import stat
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from personalization.settings import Settings
from web.logs import RedactTokens
from web.signing import ensure_web_secret


def test_web_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({"WEB_HOST": "0.0.0.0", "WEB_PORT": "9001", "WEB_SECRET": "s3", "WEB_DEMO": "0"})
    assert (settings.web_host, settings.web_port, settings.web_secret, settings.web_demo) == ("0.0.0.0", 9001, "s3",
                                                                                              False)
    defaults = Settings.from_env({})
    assert (defaults.web_host, defaults.web_port, defaults.web_demo) == ("127.0.0.1", 8000, True)


def test_the_secret_is_generated_once_with_owner_only_access(tmp_path: Path) -> None:
    settings = replace(Settings(), var_dir=str(tmp_path), web_secret="")
    first = ensure_web_secret(settings)
    assert len(first) >= 32 and ensure_web_secret(settings) == first
    assert stat.S_IMODE((tmp_path / "web_secret").stat().st_mode) == 0o600
    assert ensure_web_secret(replace(settings, web_secret="given")) == "given"


def test_member_tokens_are_redacted_from_log_lines() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:1", "/ws/chat?token=eyJtIjoiTTAwMSJ9.abc&after_seq=3"), None)
    RedactTokens().filter(record)
    assert record.getMessage() == '127.0.0.1:1 - "WebSocket /ws/chat?token=***&after_seq=3" [accepted]'


def test_the_shop_page_and_static_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "x-frame-options" not in page.headers  # the shop and its widget may be embedded
    assert client.get("/static/widget.js").status_code == 200


def test_templates_autoescape(client: TestClient) -> None:
    templates = client.app.state.ctx.templates  # type: ignore[attr-defined]
    assert templates.env.autoescape is True
    html = templates.env.from_string("<p>{{ text }}</p>").render(text="<script>alert(1)</script>")
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
