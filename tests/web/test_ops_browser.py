"""Real-browser test of the ops analytics dashboard (issue 6) against the real stack.

Real traffic first: three conversations through the member WebSocket ``/ws/chat`` (a points
question from a gold member; two messages the bot cannot understand from an anonymous visitor,
which hand off; a member who gives her name and phone, then gets angry and is handed off, claimed,
answered and resolved by agent1 through the agent API, and rates it 2). Then ops1 opens ``/ops`` in
headless Chromium, refreshes the pipeline with the page's own button and checks what an ops user
would notice: tiles and charts drawn from the API's figures, filters that change them, a CSV with
a BOM, a masked transcript, the EN switch; agent1 gets 403. Screenshots: tests/artifacts/ops-dashboard*.png.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import websocket  # websocket-client (requirements/app.txt)
from sqlalchemy import select

try:
    from playwright.sync_api import expect
except ImportError as exc:  # pragma: no cover - the environment, not the app
    raise ImportError("Playwright is missing from .venv: `make setup` installs it") from exc

from personalization.desk.handoff import mask_name
from personalization.models import CsatRating, HandoffRequest, Member
from personalization.services.members import mask_phone
from tests.web.browser_support import (
    AGENT_PASSWORDS,
    ARTIFACTS,
    BOT_TIMEOUT_MS,
    UI_TIMEOUT_MS,
    BrowserStack,
    browser,
    browser_stack,
    login_agent,
    wait_js,
)

__all__ = ["browser", "browser_stack"]  # the module fixtures, imported so that pytest finds them

CHARTS = ("conversations_per_day", "intents", "handoffs", "emotions", "sentiment", "csat", "conversion", "breakdown")
ANGRY = "你们这什么破服务，气死我了！"


# -- real traffic through the member socket and the agent API ----------------------------------------

@dataclass
class MemberSocket:
    """A member (or visitor) chatting over ``/ws/chat`` like the widget does."""

    web_url: str
    member_id: str | None
    frames: list[dict[str, Any]] = field(default_factory=list)
    conversation_id: str = ""

    def __post_init__(self) -> None:
        token = httpx.post(self.web_url + "/demo/token", json={"member_id": self.member_id}, timeout=10).json()["token"]
        self.ws = websocket.create_connection(self.web_url.replace("http://", "ws://") + f"/ws/chat?token={token}",
                                              timeout=BOT_TIMEOUT_MS / 1000)
        self.conversation_id = self._until(lambda f: f.get("type") == "hello")["conversation_id"]

    def _until(self, predicate: Any) -> dict[str, Any]:
        deadline = time.monotonic() + BOT_TIMEOUT_MS / 1000
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"the member socket said nothing useful in time; last frames: {self.frames[-5:]}")
            frame = json.loads(self.ws.recv())
            self.frames.append(frame)
            if frame.get("type") == "error":
                raise AssertionError(f"the member socket answered an error: {frame}")
            if predicate(frame):
                return frame

    def say(self, text: str) -> None:
        """Send a message and wait for the bot's answer (its typing stops once the turn is stored)."""
        client_id = uuid.uuid4().hex
        self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        seq = self._until(lambda f: f.get("type") == "ack" and f.get("client_id") == client_id)["seq"]
        self._until(lambda f: f.get("type") == "typing" and f.get("who") == "bot" and f.get("on") is False)
        self._until(lambda f: f.get("type") == "message" and (f.get("message") or {}).get("sender") == "bot"
                    and (f.get("message") or {}).get("seq", 0) > seq)

    def rate(self, score: int, handoff_id: int) -> None:
        self.ws.send(json.dumps({"type": "csat", "score": score, "handoff_id": handoff_id}))
        self._until(lambda f: f.get("type") == "csat_ack")

    def close(self) -> None:
        self.ws.close()


def _agent_client(web_url: str, username: str) -> httpx.Client:
    """An httpx client logged in through the real login form (session + CSRF cookies)."""
    client = httpx.Client(base_url=web_url, timeout=30)
    client.get("/agent/login")
    response = client.post("/agent/login", data={"username": username, "password": AGENT_PASSWORDS[username],
                                                 "csrf_token": client.cookies["desk_csrf"]})
    assert response.status_code == 303, response.text
    return client


def _post(client: httpx.Client, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(path, json=payload or {}, headers={"X-CSRF-Token": client.cookies["desk_csrf"]})
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


def _handoff(stack: BrowserStack, conversation_id: str) -> HandoffRequest | None:
    with stack.factory() as session:
        return session.scalar(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)
                              .order_by(HandoffRequest.id.desc()).limit(1))


@dataclass
class Traffic:
    gold_member: str
    angry_member: str
    angry_tier: str
    angry_name: str
    angry_phone: str
    angry_cid: str


@pytest.fixture(scope="module")
def traffic(browser_stack: BrowserStack) -> Traffic:
    """Three real conversations (see the module docstring); returns who said what."""
    url = browser_stack.web_url
    with browser_stack.factory() as session:
        gold = session.scalar(select(Member).where(Member.tier_code == "gold").order_by(Member.member_id).limit(1))
        angry = session.scalar(select(Member).where(Member.tier_code == "normal", Member.member_id != "M100001")
                               .order_by(Member.member_id).limit(1))
        assert gold is not None and angry is not None
        gold_id, angry_id, name, phone = gold.member_id, angry.member_id, angry.name, angry.phone

    normal = MemberSocket(url, gold_id)
    normal.say("我的积分还有多少")
    normal.close()

    visitor = MemberSocket(url, None)
    visitor.say("🙂🙂")
    visitor.say("？？？")
    assert _handoff(browser_stack, visitor.conversation_id) is not None, "two fallbacks in a row must hand off"
    visitor.close()

    upset = MemberSocket(url, angry_id)
    upset.say(f"我是{name}，手机{phone}，我的积分还有多少")
    upset.say(ANGRY)
    handoff = _handoff(browser_stack, upset.conversation_id)
    assert handoff is not None and handoff.reason == "negative_emotion", "strong anger must hand off"
    agent = _agent_client(url, "agent1")
    try:
        _post(agent, f"/agent/api/handoffs/{handoff.id}/claim")
        _post(agent, f"/agent/api/conversations/{upset.conversation_id}/reply", {"text": "非常抱歉，我来帮您处理。"})
        _post(agent, f"/agent/api/handoffs/{handoff.id}/resolve")
    finally:
        agent.close()
    upset.rate(2, handoff.id)
    upset.close()
    with browser_stack.factory() as session:
        assert session.scalar(select(CsatRating.score).where(CsatRating.conversation_id == upset.conversation_id)) == 2
    return Traffic(gold_id, angry_id, "normal", name, phone, upset.conversation_id)


# -- page helpers ----------------------------------------------------------------------------------

def _loads(page: Any) -> int:
    return int(page.evaluate("window.OpsDashboard ? window.OpsDashboard.loads() : 0"))


def _wait_loaded_after(page: Any, before: int) -> None:
    wait_js(page, f"window.OpsDashboard && window.OpsDashboard.loads() > {before}"
                  " && document.querySelector('[data-testid=ops-dashboard]').dataset.state === 'ready'",
            timeout=UI_TIMEOUT_MS / 1000, message="the dashboard to load new figures")


def _kpi(page: Any, name: str) -> str:
    return page.get_by_test_id(f"kpi-{name}").locator(".kpi-value").inner_text().strip()


def _api(page: Any, path: str) -> Any:
    """GET an ops API path with the page's own session; returns {status, body}."""
    return page.evaluate(
        "async (p) => { const r = await fetch(p, {headers: {Accept: 'application/json'}});"
        " let body = null; try { body = await r.json(); } catch (e) {} return {status: r.status, body}; }", path)


def _total(page: Any, query: str = "") -> int:
    answer = _api(page, "/ops/api/metrics" + query)
    assert answer["status"] == 200, answer
    return int(answer["body"]["metrics"]["conversations_per_day"]["total"])


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# -- the test --------------------------------------------------------------------------------------

def test_ops_dashboard_shows_real_traffic(browser: Any, browser_stack: BrowserStack, traffic: Traffic) -> None:
    """Load → refresh → tiles and charts agree with the API → filters → CSV → drill-down → EN."""
    url = browser_stack.web_url
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN", accept_downloads=True)
    try:
        page, log = login_agent(context, url, "ops1")
        assert page.url.startswith(url + "/ops")
        expect(page.get_by_test_id("ops-dashboard")).to_be_visible()
        expect(page.get_by_test_id("ops-me")).to_contain_text("ops")
        _wait_loaded_after(page, 0)

        # Run the pipeline now (the page's button: POST /ops/api/refresh with the CSRF header).
        before = _loads(page)
        page.get_by_test_id("refresh").click()
        _wait_loaded_after(page, before)
        total = _total(page)
        assert total >= 3, f"the three conversations must be counted, got {total}"
        expect(page.get_by_test_id("kpi-conversations").locator(".kpi-value")).to_have_text(str(total))
        assert _kpi(page, "handoff_rate").endswith("%") and _kpi(page, "handoff_rate") != "0.0%"
        assert "—" not in _kpi(page, "csat").split("/")[1], "the human CSAT (2) must show"
        assert _kpi(page, "first_response_p50") != "—", "agent1 replied: a first-response time exists"

        # Every chart is a Chart.js instance on its canvas; the daily line sums to the total.
        drawn = wait_js(page, "(() => { const names = " + json.dumps(list(CHARTS)) + ";"
                        " return window.Chart && names.every(n => { const c = document.querySelector("
                        "'[data-testid=chart-' + n + ']'); return c && window.Chart.getChart(c) && c.width > 0; }); })()",
                        message="every chart to be drawn")
        assert drawn
        daily = page.evaluate("window.Chart.getChart(document.querySelector('[data-testid=chart-conversations_per_day]'))"
                              ".data.datasets[0].data.reduce((a, b) => a + b, 0)")
        assert daily == total
        reasons = page.evaluate("window.Chart.getChart(document.querySelector('[data-testid=chart-handoffs]')).data.labels")
        assert "情绪激动" in reasons and "连续未识别" in reasons, reasons
        expect(page.get_by_test_id("charts-unavailable")).to_be_hidden()
        expect(page.get_by_test_id("cluster-row").first).to_be_visible()
        assert page.get_by_test_id("segment-option").count() >= 5, "the segment filter offers the data's segments"
        _shot(page, "ops-dashboard")

        # A tier filter narrows the figures to that tier (the angry member's conversation only).
        before = _loads(page)
        page.get_by_test_id("filter-tier").select_option(traffic.angry_tier)
        _wait_loaded_after(page, before)
        tier_total = _total(page, f"?tier={traffic.angry_tier}")
        assert 1 <= tier_total < total
        expect(page.get_by_test_id("kpi-conversations").locator(".kpi-value")).to_have_text(str(tier_total))
        assert f"tier={traffic.angry_tier}" in (page.get_by_test_id("csv-intents").get_attribute("href") or "")

        # A date range that excludes today empties them.
        today = date.today()
        before = _loads(page)
        page.get_by_test_id("filter-tier").select_option("")
        _wait_loaded_after(page, before)
        before = _loads(page)
        page.get_by_test_id("filter-from").fill((today - timedelta(days=10)).isoformat())
        page.get_by_test_id("filter-to").fill((today - timedelta(days=3)).isoformat())
        page.get_by_test_id("filter-apply").click()
        _wait_loaded_after(page, before)
        expect(page.get_by_test_id("kpi-conversations").locator(".kpi-value")).to_have_text("0")
        expect(page.get_by_test_id("negative-row")).to_have_count(0)
        before = _loads(page)
        page.get_by_test_id("preset-7").click()
        _wait_loaded_after(page, before)
        expect(page.get_by_test_id("kpi-conversations").locator(".kpi-value")).to_have_text(str(total))

        # CSV: an attachment with a UTF-8 BOM (Excel reads the Chinese right) and a header row.
        with page.expect_download(timeout=UI_TIMEOUT_MS) as info:
            page.get_by_test_id("csv-conversations_per_day").click()
        download = info.value
        raw = open(download.path(), "rb").read()
        assert raw.startswith(b"\xef\xbb\xbf"), raw[:20]
        lines = raw[3:].decode("utf-8").splitlines()
        assert "day" in lines[0] and len(lines) == 1 + 7, lines[:3]
        assert download.suggested_filename.startswith("conversations_per_day") and download.suggested_filename.endswith(".csv")

        # Drill-down: the angry conversation's transcript, with the member's name and phone masked.
        row = page.get_by_test_id("negative-row").filter(has_text="气死我了")
        expect(row.first).to_be_visible(timeout=UI_TIMEOUT_MS)
        row.first.click()
        panel = page.get_by_test_id("transcript-panel")
        expect(panel).to_be_visible()
        wait_js(page, "document.querySelector('[data-testid=transcript-panel]').dataset.state === 'ready'",
                message="the transcript to load")
        text = panel.inner_text()
        assert ANGRY in text and "非常抱歉，我来帮您处理。" in text, text
        assert traffic.angry_phone not in text and traffic.angry_name not in text, text
        assert mask_phone(traffic.angry_phone) in text and (mask_name(traffic.angry_name) or "") in text, text
        assert traffic.angry_phone not in page.content() and traffic.angry_name not in page.content()
        speakers = page.evaluate("Array.from(document.querySelectorAll('[data-testid=transcript-message]'))"
                                 ".map(n => n.dataset.speaker)")
        assert {"member", "bot", "agent"} <= set(speakers), speakers
        row.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "ops-dashboard-transcript.png"))
        page.get_by_test_id("transcript-close").click()
        expect(panel).to_be_hidden()

        # The breakdown toggle and the EN switch.
        page.get_by_test_id("breakdown-tier").click()
        expect(page.get_by_test_id("breakdown-row").first).to_be_visible()
        page.get_by_test_id("page-lang-switch").click()
        expect(page.get_by_test_id("kpi-conversations")).to_contain_text("Conversations")
        reasons = page.evaluate("window.Chart.getChart(document.querySelector('[data-testid=chart-handoffs]')).data.labels")
        assert "Upset" in reasons, reasons
        _shot(page, "ops-dashboard-en")
        assert not log.errors and not log.dialogs, (log.errors, log.dialogs)
    finally:
        context.close()


def test_agent_gets_403_on_the_dashboard_and_its_api(browser: Any, browser_stack: BrowserStack) -> None:
    context = browser.new_context()
    try:
        page, _ = login_agent(context, browser_stack.web_url, "agent1")
        response = page.goto(browser_stack.web_url + "/ops")
        assert response is not None and response.status == 403
        expect(page.get_by_test_id("forbidden")).to_be_visible()
        expect(page.get_by_test_id("ops-dashboard")).to_have_count(0)
        for path in ("/ops/api/metrics", "/ops/api/unrecognized", "/ops/api/export.csv?metric=intents"):
            assert _api(page, path)["status"] == 403, path
    finally:
        context.close()


def test_without_chartjs_the_page_keeps_its_figures(browser: Any, browser_stack: BrowserStack, traffic: Traffic) -> None:
    """Chart.js missing (no `make setup` step): a notice, no chart, the tiles and tables still filled."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        context.route("**/static/vendor/chart.umd.min.js", lambda route: route.abort())
        page, log = login_agent(context, browser_stack.web_url, "ops1")
        _wait_loaded_after(page, 0)
        page.get_by_test_id("refresh").click()  # the figures are current, whatever ran before
        _wait_loaded_after(page, 1)
        expect(page.get_by_test_id("charts-unavailable")).to_be_visible()
        expect(page.get_by_test_id("chart-intents")).to_be_hidden()
        assert page.evaluate("Object.keys(window.OpsDashboard.state.charts).length") == 0
        expect(page.get_by_test_id("kpi-conversations").locator(".kpi-value")).to_have_text(str(_total(page)))
        expect(page.get_by_test_id("negative-row").first).to_be_visible()
        expect(page.get_by_test_id("agent-times-all")).to_be_visible()
        assert not log.errors, log.errors
    finally:
        context.close()
