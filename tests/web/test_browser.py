"""Real-browser tests of issue 5: the member widget, the human handoff and the agent console.

Headless Debian chromium (Playwright) against the real stack: Rasa with the trained model, the
action server and the web app, on their own seeded SQLite database (see browser_support.py).
Every test uses its own demo member, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from sqlalchemy import select

try:
    from playwright.sync_api import expect
except ImportError as exc:  # pragma: no cover - the environment, not the app
    raise ImportError("Playwright is missing from .venv: `make setup` installs it") from exc

from personalization.models import CsatRating, HandoffRequest
from personalization.services.points import points_summary
from tests.web.browser_support import (
    BOT_TIMEOUT_MS,
    UI_TIMEOUT_MS,
    BrowserStack,
    browser,
    browser_stack,
    login_agent,
    member_texts,
    open_chat_with_token,
    open_member_chat,
    rendered_seqs,
    say,
    screenshot,
    wait_js,
    wait_until,
    watch,
)

__all__ = ["browser", "browser_stack"]  # the module fixtures, imported so that pytest finds them

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def bot_rows(page: Any) -> Any:
    return page.locator("[data-testid=msg-bot]")


def _handoffs(stack: BrowserStack, conversation_id: str) -> list[HandoffRequest]:
    with stack.factory() as session:
        return list(session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)
                                    .order_by(HandoffRequest.id)))


# -- 1. the whole journey -------------------------------------------------------------------------

def test_member_agent_journey(browser: Any, browser_stack: BrowserStack) -> None:
    """Bot answer → handoff → live queue → claim → both ways → resolve → CSAT stored → bot again."""
    url = browser_stack.web_url
    member_ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    agent_ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    try:
        page = member_ctx.new_page()
        member_log = watch(page)
        cid = open_member_chat(page, url, "M100001")

        say(page, "我的积分还有多少")
        answer = bot_rows(page).filter(has_text="积分").first
        expect(answer).to_be_visible(timeout=BOT_TIMEOUT_MS)
        balance = re.search(r"积分余额是\s*(\d+)", answer.inner_text())
        assert balance, answer.inner_text()
        with browser_stack.factory() as session:
            summary = points_summary(session=session, member_id="M100001")
        assert summary is not None and int(balance.group(1)) == summary["balance"]

        # The agent is online before the member asks: the queue item must arrive live.
        console, agent_log = login_agent(agent_ctx, url, "agent1")
        assert console.url.endswith("/agent")
        expect(console.get_by_test_id("ws-status")).to_have_attribute("data-state", "online", timeout=UI_TIMEOUT_MS)
        item = console.locator(f"[data-testid=queue-item][data-conversation-id='{cid}']")
        expect(item).to_have_count(0)

        say(page, "转人工客服")
        banner = page.get_by_test_id("state-banner")
        expect(banner).to_be_visible(timeout=BOT_TIMEOUT_MS)
        expect(banner).to_contain_text("排队")
        screenshot(page, "journey-widget-queued")

        expect(item).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(item.get_by_test_id("queue-reason")).to_be_visible()
        item.click()
        transcript = console.get_by_test_id("transcript")
        first = transcript.locator("[data-testid=transcript-member]", has_text="我的积分还有多少")
        expect(first.get_by_test_id("sentiment-chip")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(first.get_by_test_id("sentiment-chip")).to_have_attribute("data-emotion", re.compile(r"\w+"))
        item.get_by_test_id("claim").click()

        expect(banner).to_contain_text("人工客服 小王 已接入", timeout=UI_TIMEOUT_MS)
        expect(page.get_by_test_id("msg-system").filter(has_text="人工客服 小王 已接入")).to_have_count(1)
        expect(console.get_by_test_id("mine-item")).to_have_count(1, timeout=UI_TIMEOUT_MS)
        expect(console.get_by_test_id("agent-input")).to_be_enabled()
        handoff = _handoffs(browser_stack, cid)[-1]
        assert handoff.status == "assigned" and handoff.agent_id is not None

        bots_before = bot_rows(page).count()
        say(page, "我买的东西怎么还没到，有点着急")
        to_agent = transcript.locator("[data-testid=transcript-member]").last
        expect(to_agent).to_contain_text("有点着急", timeout=UI_TIMEOUT_MS)
        expect(to_agent.get_by_test_id("sentiment-chip")).to_be_visible(timeout=UI_TIMEOUT_MS)

        console.fill("[data-testid=agent-input]", "您好，我是小王，马上为您查询物流。")
        console.click("[data-testid=agent-send]")
        agent_msg = page.get_by_test_id("msg-agent").filter(has_text="马上为您查询物流")
        expect(agent_msg).to_have_count(1, timeout=UI_TIMEOUT_MS)
        expect(agent_msg).to_contain_text("小王")
        screenshot(console, "journey-console-assigned")
        screenshot(page, "journey-widget-agent")
        # While handed off the bot stays silent: nothing from it after the handoff, in the page or stored.
        assert bot_rows(page).count() == bots_before
        joined = next(m.seq for m in browser_stack.messages(cid) if m.sender == "system")
        assert [m.sender for m in browser_stack.messages(cid) if m.seq > joined] == ["member", "agent"]

        console.click("[data-testid=resolve]")
        star = page.get_by_test_id("csat-star-5").last
        expect(star).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(banner).to_be_hidden()
        star.click()
        expect(page.get_by_test_id("csat-thanks").last).to_have_text("感谢您的评价！", timeout=UI_TIMEOUT_MS)
        screenshot(page, "journey-widget-csat")

        def stored_ratings() -> list[tuple[int, str, int | None, str | None]]:
            with browser_stack.factory() as session:
                return [(r.score, r.source, r.handoff_id, r.member_id) for r in session.scalars(
                    select(CsatRating).where(CsatRating.conversation_id == cid))]

        assert wait_until(page, stored_ratings, message="the CSAT rating in csat_ratings") == \
            [(5, "widget", handoff.id, "M100001")]
        assert _handoffs(browser_stack, cid)[-1].status == "resolved"

        # The bot is back, the agent is not.
        agents_before = page.get_by_test_id("msg-agent").count()
        say(page, "我的积分还有多少")
        expect(bot_rows(page).filter(has_text="积分余额")).to_have_count(2, timeout=BOT_TIMEOUT_MS)
        assert page.get_by_test_id("msg-agent").count() == agents_before
        resolved_at = max(m.seq for m in browser_stack.messages(cid) if m.sender == "system")
        assert {m.sender for m in browser_stack.messages(cid) if m.seq > resolved_at} == {"member", "bot"}
        assert member_log.errors == [] and agent_log.errors == []
        assert member_log.dialogs == [] and agent_log.dialogs == []
    finally:
        member_ctx.close()
        agent_ctx.close()


def test_member_message_during_handoff_gets_sentiment(browser: Any, browser_stack: BrowserStack) -> None:
    """The console shows the sentiment of every member message, also of those sent to the agent."""
    url = browser_stack.web_url
    member_ctx, agent_ctx = browser.new_context(), browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = member_ctx.new_page()
        cid = open_chat_with_token(page, url, "M100007")
        say(page, "转人工客服")
        expect(page.get_by_test_id("state-banner")).to_be_visible(timeout=BOT_TIMEOUT_MS)
        console, agent_log = login_agent(agent_ctx, url, "agent2")
        item = console.locator(f"[data-testid=queue-item][data-conversation-id='{cid}']")
        expect(item).to_be_visible(timeout=UI_TIMEOUT_MS)
        item.get_by_test_id("claim").click()
        expect(page.get_by_test_id("state-banner")).to_contain_text("小李", timeout=UI_TIMEOUT_MS)
        # The console has opened the claimed conversation (see the report: frames that arrive while
        # it is still loading are not shown).
        expect(console.get_by_test_id("transcript")).to_contain_text("小李 已接入", timeout=UI_TIMEOUT_MS)
        say(page, "你们太慢了，气死我了！")
        row = console.locator("[data-testid=transcript-member]", has_text="气死我了")
        expect(row).to_have_count(1, timeout=UI_TIMEOUT_MS)
        # Rasa's parse takes well under a second; the chip follows the message or never comes.
        expect(row.get_by_test_id("sentiment-chip")).to_have_attribute("data-emotion", "anger", timeout=8_000)
        assert agent_log.errors == []
    finally:
        member_ctx.close()
        agent_ctx.close()


# -- 2. reload ------------------------------------------------------------------------------------

def _widget_snapshot(page: Any) -> list[tuple[int, str, str]]:
    """(seq, kind, text) of every stored message the widget shows."""
    return [tuple(row) for row in page.evaluate(
        "Array.from(document.querySelectorAll('[data-testid=chat-messages] [data-seq]')).map(n => ["
        "Number(n.getAttribute('data-seq')), n.getAttribute('data-testid'),"
        "Array.from(n.querySelectorAll('[data-testid=msg-text]')).map(t => t.textContent).join('|')])")]


def test_reload_keeps_history(browser: Any, browser_stack: BrowserStack) -> None:
    """After a reload (and in a fresh browser) the same messages show, each once, in seq order."""
    url = browser_stack.web_url
    context = browser.new_context(locale="zh-CN")
    fresh = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        log = watch(page)
        cid = open_member_chat(page, url, "M100002")
        say(page, "我的积分还有多少")
        expect(bot_rows(page).filter(has_text="积分余额")).to_have_count(1, timeout=BOT_TIMEOUT_MS)

        def shown_equals_stored() -> list[int] | None:
            stored = [m.seq for m in browser_stack.messages(cid)]
            return stored if stored and stored == rendered_seqs(page) else None

        stored = wait_until(page, shown_equals_stored, message="the page to show every stored message")
        before = _widget_snapshot(page)
        assert [row[0] for row in before] == stored and len(stored) >= 3

        page.reload()
        wait_js(page, "window.MemberChat.info().connected", message="the socket after the reload")
        expect(page.get_by_test_id("chat-panel")).to_be_visible()
        page.wait_for_timeout(500)  # a duplicate from the socket's backlog would arrive by now
        after = _widget_snapshot(page)
        assert after == before
        assert page.evaluate("window.MemberChat.info().conversation_id") == cid
        screenshot(page, "reload-widget")

        # No local storage at all: the history comes from the server.
        other = fresh.new_page()
        assert open_member_chat(other, url, "M100002") == cid
        wait_js(other, f"document.querySelectorAll('[data-testid=chat-messages] [data-seq]').length >= {len(stored)}",
                message="the server's history in a fresh browser")
        other.wait_for_timeout(300)
        assert _widget_snapshot(other) == before
        assert log.errors == []
    finally:
        context.close()
        fresh.close()


# -- 3. dropped socket ----------------------------------------------------------------------------

class SocketSwitch:
    """Routes the widget's socket through Playwright: pass, drop what the server sends, or hold."""

    def __init__(self) -> None:
        self.mode = "pass"
        self.routes: list[Any] = []

    def __call__(self, ws: Any) -> None:
        self.routes.append(ws)
        if self.mode == "hold":
            return  # the page's socket opens but the server never says hello
        server = ws.connect_to_server()
        mode_at_start = self.mode

        def from_server(message: Any) -> None:
            if self.mode == "blackhole" or mode_at_start == "blackhole":
                return  # the connection died on the way to the member
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))

    def drop_current(self) -> None:
        self.routes[-1].close(code=4000, reason="network drop")


def test_dropped_socket_loses_and_duplicates_nothing(browser: Any, browser_stack: BrowserStack) -> None:
    """A socket that dies after sending, and a message typed while offline: each stored and shown once."""
    url = browser_stack.web_url
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        log = watch(page)
        switch = SocketSwitch()
        page.route_web_socket(re.compile(r".*/ws/chat.*"), switch)
        cid = open_member_chat(page, url, "M100004")

        def shown_equals_stored() -> list[int] | None:
            stored = [m.seq for m in browser_stack.messages(cid)]
            return stored if stored == rendered_seqs(page) and not page.evaluate(
                "window.MemberChat.info().pending") else None

        # (a) The member's message reaches the server, but its ack and the bot's answer are lost.
        switch.mode = "blackhole"
        lost = "我的积分还有多少？（回执丢失）"
        say(page, lost)
        wait_until(page, lambda: any(m.sender == "bot" for m in browser_stack.messages(cid)),
                   timeout=BOT_TIMEOUT_MS / 1000, message="the bot's stored answer")
        assert page.evaluate("window.MemberChat.info().pending") == 1
        assert bot_rows(page).count() == 0
        switch.mode = "pass"
        switch.drop_current()
        wait_js(page, "window.MemberChat.info().connected && window.MemberChat.info().pending === 0",
                timeout=20, message="the reconnect")
        stored = wait_until(page, shown_equals_stored, message="the page to catch up with the server")
        expect(bot_rows(page).filter(has_text="积分余额")).to_have_count(1)
        assert member_texts(page).count(lost) == 1
        assert len(stored) == len(set(stored))

        # (b) Typed while no socket answers: kept as pending, sent once the connection is back.
        switch.mode = "hold"
        switch.drop_current()
        wait_js(page, "!window.MemberChat.info().connected", message="the widget to notice the drop")
        wait_until(page, lambda: len(switch.routes) >= 3 or None, message="the widget's reconnect attempt")
        offline = "断线时发的消息：我的积分还有多少"
        say(page, offline)
        expect(page.get_by_test_id("msg-pending")).to_be_visible()
        page.wait_for_timeout(500)
        assert [m.text for m in browser_stack.messages(cid)].count(offline) == 0
        screenshot(page, "reconnect-widget-pending")
        switch.mode = "pass"
        switch.drop_current()
        wait_js(page, "window.MemberChat.info().connected && window.MemberChat.info().pending === 0",
                timeout=20, message="the reconnect and resend")
        expect(bot_rows(page).filter(has_text="积分余额")).to_have_count(2, timeout=BOT_TIMEOUT_MS)
        stored = wait_until(page, shown_equals_stored, message="the page to show every stored message once")
        assert len(stored) == len(set(stored))
        messages = browser_stack.messages(cid)
        for text in (lost, offline):
            assert member_texts(page).count(text) == 1
            assert [m.text for m in messages].count(text) == 1
        assert len({m.client_id for m in messages if m.sender == "member"}) == 2
        assert log.errors == []
    finally:
        context.close()


# -- 4. privacy -----------------------------------------------------------------------------------

SOCKET_PROBE = """async (url) => new Promise((resolve) => {
  const frames = [];
  const ws = new WebSocket(url);
  ws.onmessage = (e) => frames.push(e.data);
  ws.onclose = (e) => resolve({code: e.code, frames});
  setTimeout(() => { ws.close(); resolve({code: -1, frames}); }, 5000);
})"""


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def _forge(token: str, member_id: str) -> str:
    """``token`` with its body rewritten to name ``member_id`` (the signature is left as it was)."""
    mac = token.split(".")[1]
    data = _claims(token)
    data.update({"m": member_id, "v": None})
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


def test_visitor_cannot_read_a_members_conversation(browser: Any, browser_stack: BrowserStack) -> None:
    """An anonymous visitor's token opens only the visitor's own conversation; forging it fails."""
    url = browser_stack.web_url
    ws_base = url.replace("http://", "ws://") + "/ws/chat"
    member_ctx, visitor_ctx = browser.new_context(), browser.new_context()
    try:
        member = member_ctx.new_page()
        member_cid = open_chat_with_token(member, url, "M100005")
        say(member, "我的积分还有多少")
        answer = bot_rows(member).filter(has_text="积分余额").first
        expect(answer).to_be_visible(timeout=BOT_TIMEOUT_MS)
        secret = re.search(r"积分余额是\s*\d+\s*分", answer.inner_text()).group(0)

        visitor = visitor_ctx.new_page()
        watch(visitor)
        visitor.goto(url + "/")
        visitor.click("[data-testid=chat-launcher]")  # anonymous: the launcher without a picked member
        visitor_cid = wait_js(visitor, "window.MemberChat.info().connected && window.MemberChat.info().conversation_id")
        assert visitor_cid != member_cid
        token = visitor.evaluate("localStorage.getItem('shopdemo:token:anon')")
        assert token and _claims(token)["m"] is None

        # The visitor's token naming the member's conversation: refused, nothing of it sent.
        probe = visitor.evaluate(SOCKET_PROBE, f"{ws_base}?token={token}&after_seq=0&conversation_id={member_cid}")
        assert probe["code"] == 4403, probe
        assert all(json.loads(f)["type"] == "error" for f in probe["frames"]), probe
        assert not any(member_cid in f or secret in f for f in probe["frames"])
        # Its own socket: its own conversation only.
        own = visitor.evaluate(SOCKET_PROBE, f"{ws_base}?token={token}&after_seq=0")
        hello = json.loads(own["frames"][0])
        assert hello["type"] == "hello" and hello["conversation_id"] == visitor_cid
        assert not any(member_cid in f or "积分余额" in f for f in own["frames"])
        # A token rewritten to name the member: the signature no longer matches.
        forged = visitor.evaluate(SOCKET_PROBE, f"{ws_base}?token={_forge(token, 'M100005')}&after_seq=0")
        assert forged["code"] == 4401, forged
        assert not any(member_cid in f or "积分余额" in f for f in forged["frames"])
        # The agent API does not take member tokens.
        api = visitor.evaluate(
            "async ([cid, token]) => { const r = await fetch('/agent/api/conversations/' + cid,"
            " {headers: {Authorization: 'Bearer ' + token}}); return [r.status, await r.text()]; }",
            [member_cid, token])
        assert api[0] in (401, 403) and secret not in api[1] and "积分" not in api[1], api
        assert visitor.get_by_test_id("msg-bot").count() == 0
        assert secret not in visitor.get_by_test_id("chat-messages").inner_text()
    finally:
        member_ctx.close()
        visitor_ctx.close()


# -- 5. roles -------------------------------------------------------------------------------------

def _status(page: Any, path: str) -> int:
    return page.evaluate("async (p) => (await fetch(p, {redirect: 'manual'})).status", path)


def test_roles_guard_console_and_dashboard(browser: Any, browser_stack: BrowserStack) -> None:
    """agent → /ops 403; ops → /agent 403 (and its API); not logged in → the login page."""
    url = browser_stack.web_url
    contexts = [browser.new_context() for _ in range(4)]
    try:
        anonymous = contexts[0].new_page()
        for path in ("/agent", "/ops"):
            anonymous.goto(url + path)
            assert anonymous.url == url + "/agent/login"
            expect(anonymous.get_by_test_id("login-form")).to_be_visible()
        assert _status(anonymous, "/agent/api/queue") == 401

        agent, _ = login_agent(contexts[1], url, "agent1")
        assert agent.url == url + "/agent"
        response = agent.goto(url + "/ops")
        assert response is not None and response.status == 403
        expect(agent.get_by_test_id("forbidden")).to_be_visible()
        expect(agent.get_by_test_id("ops-dashboard")).to_have_count(0)
        screenshot(agent, "roles-403")
        assert _status(agent, "/agent/api/queue") == 200

        ops, _ = login_agent(contexts[2], url, "ops1")
        assert ops.url == url + "/ops"
        expect(ops.get_by_test_id("ops-dashboard")).to_be_visible()
        response = ops.goto(url + "/agent")
        assert response is not None and response.status == 403
        expect(ops.get_by_test_id("forbidden")).to_be_visible()
        expect(ops.get_by_test_id("queue-list")).to_have_count(0)
        for path in ("/agent/api/queue", "/agent/api/me", "/agent/api/mine"):
            assert _status(ops, path) == 403, path

        admin, _ = login_agent(contexts[3], url, "admin")
        for path in ("/agent", "/ops"):
            response = admin.goto(url + path)
            assert response is not None and response.status == 200, path
    finally:
        for context in contexts:
            context.close()


# -- 6. escaping ----------------------------------------------------------------------------------

def test_markup_from_a_member_is_shown_as_text(browser: Any, browser_stack: BrowserStack) -> None:
    """``<script>``/``<img onerror>`` typed by a member is text in the widget and in the console.

    The CSP alone would stop inline handlers, so the test checks the DOM too: no element is made
    from the member's text, the literal characters are shown.
    """
    url = browser_stack.web_url
    member_ctx = browser.new_context(locale="zh-CN")
    agent_ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    try:
        page = member_ctx.new_page()
        member_log = watch(page)
        cid = open_chat_with_token(page, url, "M100006")
        say(page, "转人工客服")
        expect(page.get_by_test_id("state-banner")).to_be_visible(timeout=BOT_TIMEOUT_MS)
        say(page, XSS)  # while queued: stored and sent to the agents only
        bubble = page.locator("[data-testid=msg-member]:not([data-pending-id]) [data-testid=msg-text]").last
        expect(bubble).to_have_text(XSS, timeout=UI_TIMEOUT_MS)
        assert page.evaluate("document.querySelectorAll('[data-testid=chat-messages] script,"
                             " [data-testid=chat-messages] img').length") == 0
        screenshot(page, "xss-widget")

        console, agent_log = login_agent(agent_ctx, url, "agent1")
        item = console.locator(f"[data-testid=queue-item][data-conversation-id='{cid}']")
        expect(item).to_contain_text(XSS, timeout=UI_TIMEOUT_MS)  # the queue's last message
        item.click()
        row = console.get_by_test_id("transcript").locator("[data-testid=transcript-member]").last
        expect(row.locator(".msg-bubble")).to_have_text(XSS, timeout=UI_TIMEOUT_MS)
        assert console.evaluate("document.querySelectorAll('[data-testid=transcript] script,"
                                " [data-testid=transcript] img, [data-testid=queue-list] img').length") == 0
        screenshot(console, "xss-console")
        console.wait_for_timeout(300)
        assert member_log.dialogs == [] and agent_log.dialogs == []
        assert member_log.errors == [] and agent_log.errors == []
        # Leave the queue clean for the other tests.
        page.get_by_test_id("cancel-handoff").click()
        expect(page.get_by_test_id("state-banner")).to_be_hidden(timeout=UI_TIMEOUT_MS)
    finally:
        member_ctx.close()
        agent_ctx.close()
