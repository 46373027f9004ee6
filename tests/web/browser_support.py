"""Fixtures and helpers of the real-browser tests (tests/web/test_browser.py).

One stack (Rasa + action server + ``python -m web``) on free ports, with its own seeded SQLite
database and tracker stores, and one headless Debian chromium driven by Playwright; both are
module-scoped (the browser tests live in one module), so they stop as soon as that module is done.
The app's CSP (``default-src 'self'``, no eval) blocks ``page.wait_for_function``, so waiting on
page state polls ``page.evaluate`` instead (:func:`wait_js`); DOM waits use ``expect`` locators.

The test module imports the fixtures from here (they are not in tests/web/conftest.py, which
belongs to the API tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from launcher.stack import Stack, isolated_settings
from personalization.db import make_engine, session_factory
from personalization.models import ChatMessage, Conversation
from personalization.settings import PROJECT_ROOT, Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
# A bot turn (Rasa + action server + sentiment) takes a few seconds on a busy 2-core machine.
BOT_TIMEOUT_MS = 45_000
UI_TIMEOUT_MS = 15_000

AGENT_PASSWORDS = {"agent1": "agent1-demo", "agent2": "agent2-demo", "ops1": "ops1-demo", "admin": "admin-demo"}


@dataclass
class BrowserStack:
    """The running stack as the browser tests see it: its web URL and its database."""

    web_url: str
    settings: Settings
    factory: sessionmaker[Session]
    stack: Stack

    def messages(self, conversation_id: str) -> list[ChatMessage]:
        """The stored messages of a conversation, by seq (read fresh from the database)."""
        with self.factory() as session:
            conversation = session.scalar(select(Conversation).where(Conversation.public_id == conversation_id))
            if conversation is None:
                return []
            return list(session.scalars(
                select(ChatMessage).where(ChatMessage.conversation_id == conversation.id).order_by(ChatMessage.seq)))


@dataclass
class PageLog:
    """What went wrong in a page: uncaught errors and dialogs (alert() must never fire)."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def _fail_setup(message: str) -> None:
    pytest.fail(message, pytrace=False)


def seed_database(settings: Settings) -> None:
    """``python -m personalization seed`` (200 members, demo agents) into the stack's database."""
    # The stack's var dir: the data key that encrypts members' phones and birthdays is kept there.
    env = dict(os.environ, DATABASE_URL=settings.database_url, SHOP_VAR_DIR=settings.var_dir, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "personalization", "seed", "--members", "200", "--orders", "2000",
         "--as-of", date.today().isoformat()],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        _fail_setup(f"seeding the browser-test database failed:\n{result.stderr[-2000:]}")


@pytest.fixture(scope="module")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    """Seeded database + Rasa + action server + web app, started once for all browser tests."""
    tmp = tmp_path_factory.mktemp("browser")
    settings = replace(
        isolated_settings(Settings.from_env(), tmp),
        database_url=f"sqlite:///{tmp / 'shop.db'}",
        var_dir=str(tmp),
        web_host="127.0.0.1",
        web_demo=True,
        web_secret="",  # generated into the temporary var dir by the web app
    )
    model = Path(settings.rasa_model)
    if not model.is_absolute():
        model = PROJECT_ROOT / model
    if not model.exists():
        _fail_setup(f"no trained Rasa model at {model}: run `make setup` (it trains the model) first")
    seed_database(settings)
    engine = make_engine(settings)
    stack = Stack(settings, tmp / "logs")
    try:
        stack.start()
        stack.wait_ready(timeout=240)
    except (RuntimeError, TimeoutError) as exc:
        stack.stop()
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in (tmp / "logs").glob("*.log"))
        _fail_setup(f"the stack did not start: {exc}\n{logs}")
    try:
        yield BrowserStack(web_url=stack.web_url, settings=settings, factory=session_factory(engine), stack=stack)
    finally:
        stack.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for all browser tests (each test opens its own contexts)."""
    if not CHROMIUM.exists():
        _fail_setup(f"{CHROMIUM} is missing: the browser tests need Debian's chromium; `make setup` installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _fail_setup("Playwright is not installed in .venv: `make setup` installs it")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def watch(page: Any) -> PageLog:
    """Record page errors and dismiss (but record) every dialog."""
    log = PageLog()
    page.on("pageerror", lambda error: log.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return log


def wait_js(page: Any, expression: str, timeout: float = 15.0, message: str = "") -> Any:
    """Poll ``page.evaluate(expression)`` until it is truthy (CSP blocks wait_for_function)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message or expression}")
        page.wait_for_timeout(100)


def wait_until(page: Any, check: Callable[[], Any], timeout: float = 15.0, message: str = "condition") -> Any:
    """Poll a Python callable (e.g. a database query) until it returns something truthy.

    Sleeps through ``page.wait_for_timeout``: Playwright's sync API runs event handlers (routed
    sockets, dialogs) only while one of its calls is in progress, never during ``time.sleep``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        page.wait_for_timeout(200)


def rendered_seqs(page: Any) -> list[int]:
    """The seqs of the messages the widget shows, in page order."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('[data-testid=chat-messages] [data-seq]'))"
        ".map(n => Number(n.getAttribute('data-seq')))")


def member_texts(page: Any) -> list[str]:
    """The texts of the member's bubbles (sent and pending) in the widget."""
    return page.locator("[data-testid=msg-member] [data-testid=msg-text]").all_inner_texts()


def open_member_chat(page: Any, web_url: str, member_id: str) -> str:
    """Open the shop, pick ``member_id`` in the demo picker, open the widget; returns the conversation id."""
    page.goto(web_url + "/")
    wait_js(page, f"!!document.querySelector('[data-testid=member-picker] option[value=\"{member_id}\"]')",
            message=f"demo member {member_id} in the picker")
    page.select_option("[data-testid=member-picker]", member_id)
    page.click("[data-testid=start-chat]")
    return wait_js(page, "window.MemberChat.info().connected && window.MemberChat.info().conversation_id",
                   message="the widget's socket to say hello")


def open_chat_with_token(page: Any, web_url: str, member_id: str | None) -> str:
    """Open the shop and the widget with a demo token for any member (not only the picker's four)."""
    page.goto(web_url + "/")
    wait_js(page, "!!(window.MemberChat && window.MemberChat.open)")
    page.evaluate(
        "async (memberId) => { const r = await fetch('/demo/token', {method: 'POST',"
        " headers: {'Content-Type': 'application/json'}, body: JSON.stringify({member_id: memberId})});"
        " const d = await r.json(); window.MemberChat.open({token: d.token, lang: 'zh'}); }", member_id)
    return wait_js(page, "window.MemberChat.info().connected && window.MemberChat.info().conversation_id",
                   message="the widget's socket to say hello")


def say(page: Any, text: str) -> None:
    """Type a message into the widget and press Enter."""
    page.fill("[data-testid=chat-input]", text)
    page.keyboard.press("Enter")


def login_agent(context: Any, web_url: str, username: str) -> tuple[Any, PageLog]:
    """A page of ``context`` logged in as ``username`` through the real login form, and its log."""
    page = context.new_page()
    log = watch(page)
    page.goto(web_url + "/agent/login")
    page.fill("[data-testid=login-username]", username)
    page.fill("[data-testid=login-password]", AGENT_PASSWORDS[username])
    page.click("[data-testid=login-submit]")
    page.wait_for_url(lambda url: "/agent/login" not in url, timeout=UI_TIMEOUT_MS)
    return page, log


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot under tests/artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
