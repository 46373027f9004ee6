"""Limits on every endpoint: body size, headers, rate limits (HTTP and socket), cookies, token lifetimes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import AppFactory
from tests.web.helpers import SECRET, FakeRasa, WebDb, login, member_token, receive_until
from web.signing import sign
from web.tokens import MAX_TTL_S, InvalidToken, sign_member_token, verify_member_token


def _polite(body: dict[str, Any], code: str) -> None:
    assert body["error"] == code
    assert body["message_zh"] and body["message_en"]
    assert "Traceback" not in str(body)


def test_a_body_over_the_limit_gets_413_in_the_json_error_format(make_client: AppFactory) -> None:
    client = make_client(web_max_body_kb=4)
    response = client.post("/demo/token", content=b'{"member_id": "' + b"x" * 5000 + b'"}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    _polite(response.json(), "payload_too_large")
    assert client.post("/demo/token", json={"member_id": None}).status_code == 200  # small ones still pass


def test_a_chunked_body_over_the_limit_is_refused_too(make_client: AppFactory) -> None:
    client = make_client(web_max_body_kb=1)

    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 512

    response = client.post("/demo/token", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    _polite(response.json(), "payload_too_large")


def test_oversized_headers_and_urls_are_refused(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Junk": "a" * 20_000})
    assert response.status_code == 431
    _polite(response.json(), "headers_too_large")
    response = client.get("/ops/api/metrics?segment=" + "a" * 5000)
    assert response.status_code == 414
    _polite(response.json(), "uri_too_long")


def test_demo_tokens_are_rate_limited_per_ip_with_retry_after(make_client: AppFactory) -> None:
    client = make_client(web_rate_tokens_per_min=3)
    for _ in range(3):
        assert client.post("/demo/token", json={"member_id": None}).status_code == 200
    refused = client.post("/demo/token", json={"member_id": None})
    assert refused.status_code == 429
    _polite(refused.json(), "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["Retry-After"] in refused.json()["message_zh"]
    assert "秒后再试" in refused.json()["message_zh"] and "try again in" in refused.json()["message_en"]


def test_the_api_is_rate_limited_per_ip_but_health_checks_are_not(make_client: AppFactory) -> None:
    client = make_client(web_rate_api_per_min=5)
    statuses = [client.get("/demo/members").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))


def test_a_trusted_proxy_limits_by_forwarded_address_an_untrusted_one_does_not(make_client: AppFactory) -> None:
    trusted = make_client(web_rate_api_per_min=2, web_trusted_proxy=True)
    for ip in ("198.51.100.1", "198.51.100.2"):
        assert [trusted.get("/demo/members", headers={"X-Forwarded-For": ip}).status_code for _ in range(3)] \
            == [200, 200, 429]
    direct = make_client(web_rate_api_per_min=2)
    assert [direct.get("/demo/members", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
            for i in range(3)] == [200, 200, 429]  # spoofed addresses change nothing


def test_logins_are_rate_limited_per_ip_across_usernames(make_client: AppFactory) -> None:
    client = make_client(web_rate_logins_per_min=3)
    statuses = [login(client, f"nobody{i}", "wrong").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    page = login(client, "agent1", "agent1-demo")
    assert page.status_code == 429 and "登录尝试太频繁" in page.text and "Retry-After" in page.headers


def test_member_messages_are_rate_limited_politely_and_the_socket_stays_usable(
        make_client: AppFactory, rasa: FakeRasa, web_db: WebDb) -> None:
    client = make_client(web_rate_messages_per_min=2)
    token = member_token(client, web_db.members[0])["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        assert ws.receive_json()["type"] == "hello"
        for i in range(2):
            ws.send_json({"type": "message", "client_id": f"r-{i}", "text": f"你好{i}"})
            receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
        ws.send_json({"type": "message", "client_id": "r-2", "text": "再来一条"})
        error = receive_until(ws, lambda f: f["type"] == "error")[-1]
        assert error["code"] == "rate_limited" and error["client_id"] == "r-2" and error["retry_after_s"] >= 1
        assert "秒后再试" in error["message_zh"]
        ws.send_json({"type": "ping"})
        assert receive_until(ws, lambda f: f["type"] in ("pong", "error"))[-1]["type"] == "pong"
    assert [c["message"] for c in rasa.webhook_calls] == ["你好0", "你好1"]


def test_the_message_limit_counts_per_member_across_sockets(make_client: AppFactory, web_db: WebDb) -> None:
    client = make_client(web_rate_messages_per_min=1)
    token = member_token(client, web_db.members[1])["token"]
    other = member_token(client, web_db.members[2])["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "a", "text": "你好"})
        receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:  # a second tab: same budget
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "b", "text": "你好"})
        assert receive_until(ws, lambda f: f["type"] in ("error", "ack"))[-1]["code"] == "rate_limited"
    with client.websocket_connect(f"/ws/chat?token={other}") as ws:  # another member: own budget
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "c", "text": "你好"})
        assert receive_until(ws, lambda f: f["type"] in ("error", "ack"))[-1]["type"] == "ack"


def test_socket_connections_count_against_the_ip_budget(make_client: AppFactory) -> None:
    client = make_client(web_rate_api_per_min=2)
    token = sign_member_token(SECRET, member_id=None, visitor_id="Vabc")
    for _ in range(2):
        with client.websocket_connect(f"/ws/chat?token={token}") as ws:
            assert ws.receive_json()["type"] == "hello"
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["code"] == "rate_limited"


def _cookie_headers(response: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h.lower() for h in response.headers.get_list("set-cookie")}


def test_session_cookies_are_httponly_strict_and_not_secure_over_plain_http(client: TestClient) -> None:
    cookies = _cookie_headers(login(client, "agent1", "agent1-demo"))
    assert "httponly" in cookies["desk_session"] and "samesite=strict" in cookies["desk_session"]
    assert "samesite=strict" in cookies["desk_csrf"] and "httponly" not in cookies["desk_csrf"]
    assert "secure" not in cookies["desk_session"]


def test_secure_cookies_when_configured(make_client: AppFactory) -> None:
    client = make_client(web_secure_cookies=True)
    page = client.get("/agent/login")
    assert "; secure" in _cookie_headers(page)["desk_csrf"]
    csrf = page.headers["set-cookie"].split("desk_csrf=", 1)[1].split(";", 1)[0]
    # The test client speaks plain http, so it keeps Secure cookies to itself: send it by hand.
    response = client.post("/agent/login", data={"username": "agent1", "password": "agent1-demo", "csrf_token": csrf},
                           headers={"Cookie": f"desk_csrf={csrf}"}, follow_redirects=False)
    assert response.status_code == 303
    assert "; secure" in _cookie_headers(response)["desk_session"]


def test_x_forwarded_proto_makes_cookies_secure_only_behind_a_trusted_proxy(make_client: AppFactory) -> None:
    https = {"X-Forwarded-Proto": "https"}
    untrusted = make_client()
    assert "; secure" not in _cookie_headers(untrusted.get("/agent/login", headers=https))["desk_csrf"]
    trusted = make_client(web_trusted_proxy=True)
    assert "; secure" in _cookie_headers(trusted.get("/agent/login", headers=https))["desk_csrf"]


def test_member_tokens_have_a_bounded_lifetime(make_client: AppFactory) -> None:
    with pytest.raises(ValueError):
        sign_member_token(SECRET, member_id="M1", visitor_id=None, ttl_s=MAX_TTL_S + 1)
    with pytest.raises(ValueError):
        sign_member_token(SECRET, member_id="M1", visitor_id=None, ttl_s=0)
    # Correctly signed, but meant to live a year: refused all the same.
    forever = sign(SECRET, "member", {"m": "M1", "v": None}, ttl_s=365 * 86400)
    with pytest.raises(InvalidToken):
        verify_member_token(SECRET, forever)
    client = make_client(web_member_token_ttl_s=120)
    token = client.post("/demo/token", json={"member_id": None}).json()["token"]
    assert verify_member_token(SECRET, token, now=time.time() + 100).visitor_id
    with pytest.raises(InvalidToken):
        verify_member_token(SECRET, token, now=time.time() + 200)
