"""Bad input to the web app, kind by kind: a polite error (or a clean, harmless answer), never a
500, a traceback, a dead socket or a row that should not be there.

Three tables: frames on an open member socket, member socket connections, and HTTP requests
(demo tokens, static files, the agent API, the ops API). Each case's id names the kind.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from personalization.models import ChatMessage, Conversation
from tests.web.helpers import SECRET, WebDb, csrf_headers, login, member_token, receive_until
from web.signing import sign
from web.tokens import sign_member_token

# -- frames on an open member socket ----------------------------------------------------------------
# id: (raw frame: str for a text frame, bytes for a binary one, expected error code or "ack")
Frame = str | bytes


def _msg(text: Any, client_id: Any = "bad-1", **extra: Any) -> str:
    return json.dumps({"type": "message", "client_id": client_id, "text": text, **extra}, ensure_ascii=False)


FRAME_CASES: dict[str, tuple[Frame, str]] = {
    "empty_text": (_msg(""), "empty"),
    "whitespace_only": (_msg(" \t\n　"), "empty"),
    "zero_width_only": (_msg("\u200b\u200c\u200d\ufeff"), "empty"),
    "combining_marks_only": (_msg("\u0301\u0302\u0303"), "empty"),
    "control_chars_only": (_msg("\x00\x07\x1b\x7f"), "empty"),
    "text_over_2000_chars": (_msg("积" * 2001), "too_long"),
    "frame_over_16kb": (json.dumps({"type": "message", "client_id": "x", "text": "a", "pad": "b" * 17000}), "too_long"),
    "binary_frame": (b"\x00\x01\x02", "bad_frame"),
    "invalid_utf8_bytes": (b"\xff\xfe\xfd", "bad_frame"),
    "not_json": ("hello", "bad_frame"),
    "json_array": ("[1, 2, 3]", "bad_frame"),
    "json_string": ('"message"', "bad_frame"),
    "json_bomb_deep_arrays": ("[" * 5000 + "]" * 5000, "bad_frame"),
    "json_bomb_deep_objects": ('{"a":' * 2500 + "1" + "}" * 2500, "bad_frame"),
    "type_missing": (json.dumps({"text": "hi", "client_id": "x"}), "bad_frame"),
    "type_not_a_string": (json.dumps({"type": 1}), "bad_frame"),
    "unknown_type": (json.dumps({"type": "admin_takeover"}), "unknown_type"),
    "text_is_a_number": (_msg(12345), "bad_frame"),
    "text_is_a_list": (_msg(["a", "b"]), "bad_frame"),
    "payload_is_an_object": (_msg("hi", payload={"intent": "x"}), "bad_frame"),
    "client_id_missing": (json.dumps({"type": "message", "text": "hi"}), "bad_client_id"),
    "client_id_too_long": (_msg("hi", client_id="c" * 65), "bad_client_id"),
    "client_id_a_number": (_msg("hi", client_id=7), "bad_client_id"),
    "client_id_with_nul": (_msg("hi", client_id="a\x00b"), "bad_client_id"),
    "csat_nan": ('{"type": "csat", "score": NaN}', "bad_score"),
    "csat_infinity": ('{"type": "csat", "score": Infinity}', "bad_score"),
    "csat_huge_number": ('{"type": "csat", "score": ' + "9" * 40 + "}", "bad_score"),
    "csat_negative": (json.dumps({"type": "csat", "score": -3}), "bad_score"),
    "csat_bool": (json.dumps({"type": "csat", "score": True}), "bad_score"),
    "csat_float": (json.dumps({"type": "csat", "score": 4.5}), "bad_score"),
    "language_unknown": (json.dumps({"type": "language", "language": "../../etc"}), "bad_language"),
    "cancel_without_handoff": (json.dumps({"type": "cancel_handoff"}), "not_handed_off"),
    # Accepted, cleaned, stored and answered like any message:
    "nul_bytes_in_text": (_msg("\x00我的积分\x00"), "ack"),
    "rtl_override": (_msg("\u202e积分查询\u202c"), "ack"),
    "lone_surrogate": ('{"type": "message", "client_id": "s-1", "text": "\\ud800你好"}', "ack"),
    "emoji_only": (_msg("😀😡👍🏽‍"), "ack"),
    "script_tag": (_msg("<script>alert(1)</script><img src=x onerror=alert(2)>"), "ack"),
    "sql_ish": (_msg("'; DROP TABLE members; --"), "ack"),
    "duplicate_keys": ('{"type": "message", "client_id": "d-1", "text": "first", "text": "second"}', "ack"),
    "unknown_fields": (_msg("你好", member_id="M100002", is_admin=True), "ack"),
}
CLEANED = {"nul_bytes_in_text": "我的积分", "rtl_override": "积分查询", "lone_surrogate": "?你好",
           "duplicate_keys": "second", "script_tag": "<script>alert(1)</script><img src=x onerror=alert(2)>"}


@pytest.mark.parametrize(("raw", "expected"), list(FRAME_CASES.values()), ids=list(FRAME_CASES))
def test_bad_frames_get_a_polite_error_and_the_socket_stays_usable(
        client: TestClient, web_db: WebDb, raw: Frame, expected: str, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.id
    token = member_token(client, web_db.members[4])["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        cid = ws.receive_json()["conversation_id"]
        if isinstance(raw, bytes):
            ws.send_bytes(raw)
        else:  # a fresh client id per case (a repeated one is an idempotent resend)
            ws.send_text(raw.replace('"bad-1"', json.dumps(f"{kind}-{time.monotonic_ns()}")))
        frame = receive_until(ws, lambda f: f["type"] in ("error", "ack"))[-1]
        if expected == "ack":
            assert frame["type"] == "ack", frame
            receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
        else:
            assert frame["type"] == "error" and frame["code"] == expected, frame
            assert frame["message_zh"] and frame["message_en"]
        ws.send_json({"type": "ping"})  # still open and answering
        assert receive_until(ws, lambda f: f["type"] in ("pong", "error"))[-1]["type"] == "pong"
    with web_db.factory() as session:
        texts = list(session.scalars(select(ChatMessage.text).join(Conversation).where(
            Conversation.public_id == cid, ChatMessage.sender == "member")))
    if expected != "ack":
        assert texts == []  # nothing stored for a refused frame
    elif kind in CLEANED:
        assert texts[-1] == CLEANED[kind]
    assert not any(ch in "".join(texts) for ch in "\x00\u202e\u202c")


# -- member socket connections ------------------------------------------------------------------------

def _tampered(token: str) -> str:
    body, mac = token.split(".")
    return body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]


CONNECT_CASES: dict[str, tuple[Any, int]] = {
    "no_token": (lambda t: "", 4401),
    "garbage_token": (lambda t: "token=not-a-token", 4401),
    "empty_token": (lambda t: "token=", 4401),
    "non_ascii_token": (lambda t: "token=" + t.replace(t[3], "é", 1), 4401),
    "tampered_signature": (lambda t: "token=" + _tampered(t), 4401),
    "token_of_another_secret": (lambda t: "token=" + sign_member_token("other-secret-0123456789", member_id="M100001",
                                                                       visitor_id=None), 4401),
    "expired_token": (lambda t: "token=" + sign_member_token(SECRET, member_id="M100001", visitor_id=None, ttl_s=5,
                                                              now=time.time() - 60), 4401),
    "csrf_token_as_member_token": (lambda t: "token=" + sign(SECRET, "csrf", {"n": "x"}, ttl_s=60), 4401),
    "session_cookie_as_member_token": (lambda t: "token=" + sign(SECRET, "desk_session", {"a": 1, "r": "admin"},
                                                                  ttl_s=60), 4401),
    "token_with_newline": (lambda t: "token=" + t + "%0A", 4401),
    "huge_token": (lambda t: "token=" + "A" * 3900, 4401),
    "after_seq_negative": (lambda t: f"token={t}&after_seq=-1", 4400),
    "after_seq_huge": (lambda t: f"token={t}&after_seq=" + "9" * 13, 4400),
    "after_seq_unicode_digits": (lambda t: f"token={t}&after_seq=%D9%A1%D9%A2", 4400),
    "after_seq_float": (lambda t: f"token={t}&after_seq=1.5", 4400),
    "conversation_id_path_traversal": (lambda t: f"token={t}&conversation_id=../../C1", 4403),
    "conversation_id_sql_ish": (lambda t: f"token={t}&conversation_id=C1'%20OR%20'1'='1", 4403),
    "conversation_id_unknown": (lambda t: f"token={t}&conversation_id=C00000000000000000000", 4403),
}


@pytest.mark.parametrize(("query", "close_code"), list(CONNECT_CASES.values()), ids=list(CONNECT_CASES))
def test_bad_socket_connections_are_refused_politely(client: TestClient, web_db: WebDb, query: Any,
                                                     close_code: int) -> None:
    token = member_token(client, web_db.members[5])["token"]
    with client.websocket_connect(f"/ws/chat?{query(token)}") as ws:
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["message_zh"] and frame["message_en"], frame
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == close_code


# -- HTTP requests --------------------------------------------------------------------------------------
# id: (who is logged in, method, path, request kwargs, expected status, expected error code or None)
JSON = {"Content-Type": "application/json"}
HTTP_CASES: dict[str, tuple[str | None, str, str, dict[str, Any], int, str | None]] = {
    "token_member_id_wrong_type": (None, "POST", "/demo/token", {"json": {"member_id": 123}}, 400, "bad_request"),
    "token_member_id_too_long": (None, "POST", "/demo/token", {"json": {"member_id": "M" * 17}}, 400, "bad_request"),
    "token_member_id_unknown": (None, "POST", "/demo/token", {"json": {"member_id": "M999999"}}, 404, "not_found"),
    "token_member_id_traversal": (None, "POST", "/demo/token", {"json": {"member_id": "../../etc/pass"}}, 404,
                                  "not_found"),
    "token_member_id_sql_ish": (None, "POST", "/demo/token", {"json": {"member_id": "' OR 1=1--"}}, 404, "not_found"),
    "token_body_not_json": (None, "POST", "/demo/token", {"content": b"member_id=1", "headers": JSON}, 400,
                            "bad_request"),
    "token_body_invalid_utf8": (None, "POST", "/demo/token", {"content": b'{"member_id": "\xff\xfe"}',
                                                               "headers": JSON}, 400, "bad_request"),
    "token_body_json_bomb": (None, "POST", "/demo/token", {"content": b"[" * 30000 + b"]" * 30000,
                                                            "headers": JSON}, 400, "bad_request"),
    "token_body_array": (None, "POST", "/demo/token", {"json": [1, 2]}, 400, "bad_request"),
    "token_body_nan": (None, "POST", "/demo/token", {"content": b'{"member_id": NaN}', "headers": JSON}, 400,
                       "bad_request"),
    "token_body_duplicate_keys": (None, "POST", "/demo/token", {"content": b'{"member_id": 1, "member_id": null}',
                                                                 "headers": JSON}, 200, None),
    "token_body_unknown_fields": (None, "POST", "/demo/token", {"json": {"member_id": None, "role": "admin"}}, 200,
                                  None),
    "static_dotdot": (None, "GET", "/static/../app.py", {}, 404, "not_found"),
    "static_encoded_dotdot": (None, "GET", "/static/%2e%2e/%2e%2e/var/web_secret", {}, 404, "not_found"),
    "static_encoded_slash": (None, "GET", "/static/..%2f..%2fpersonalization%2fsettings.py", {}, 404, "not_found"),
    "static_nul_byte": (None, "GET", "/static/widget.js%00.png", {}, 404, "not_found"),
    "oversized_header": (None, "GET", "/healthz", {"headers": {"X-Big": "x" * 17000}}, 431, "headers_too_large"),
    "bad_session_cookie": (None, "GET", "/agent/api/queue", {"cookies": {"desk_session": "forged.cookie"}}, 401,
                           "not_logged_in"),
    "member_token_as_session_cookie": (None, "GET", "/agent/api/queue", {"cookies": {
        "desk_session": sign_member_token(SECRET, member_id="M100001", visitor_id=None)}}, 401, "not_logged_in"),
    "agent_handoff_id_huge": ("agent1", "POST", "/agent/api/handoffs/" + "9" * 30 + "/claim", {}, 400, "bad_request"),
    "agent_handoff_id_negative": ("agent1", "POST", "/agent/api/handoffs/-5/claim", {}, 400, "bad_request"),
    "agent_handoff_id_not_a_number": ("agent1", "POST", "/agent/api/handoffs/1%20OR%201/claim", {}, 400,
                                      "bad_request"),
    "agent_reply_not_a_string": ("agent1", "POST", "/agent/api/conversations/C1/reply", {"json": {"text": 5}}, 400,
                                 "bad_request"),
    "agent_reply_too_long": ("agent1", "POST", "/agent/api/conversations/C1/reply", {"json": {"text": "字" * 2001}},
                             400, "too_long"),
    "agent_reply_control_chars_only": ("agent1", "POST", "/agent/api/conversations/C1/reply",
                                       {"json": {"text": "\x00\u200b\x1b"}}, 400, "empty"),
    "agent_reply_missing_field": ("agent1", "POST", "/agent/api/conversations/C1/reply", {"json": {}}, 400,
                                  "bad_request"),
    "agent_goodwill_nan": ("agent1", "POST", "/agent/api/conversations/C1/goodwill", {"json": {"amount": "NaN"}}, 400,
                           "bad_amount"),
    "agent_goodwill_infinite": ("agent1", "POST", "/agent/api/conversations/C1/goodwill",
                                {"content": b'{"amount": 1e999}', "headers": JSON}, 400, "bad_amount"),
    "agent_goodwill_negative": ("agent1", "POST", "/agent/api/conversations/C1/goodwill", {"json": {"amount": -5}},
                                400, "bad_amount"),
    "agent_goodwill_fraction_of_a_cent": ("agent1", "POST", "/agent/api/conversations/C1/goodwill",
                                          {"json": {"amount": "0.001"}}, 400, "bad_amount"),
    "agent_goodwill_beyond_precision": ("agent1", "POST", "/agent/api/conversations/C1/goodwill",
                                        {"content": b'{"amount": 1e30}', "headers": JSON}, 400, "bad_amount"),
    "agent_goodwill_text": ("agent1", "POST", "/agent/api/conversations/C1/goodwill", {"json": {"amount": "ten"}},
                            400, "bad_amount"),
    "agent_transfer_empty_target": ("agent1", "POST", "/agent/api/handoffs/1/transfer", {"json": {"to_agent": ""}},
                                    400, "bad_request"),
    "agent_post_without_csrf": ("agent1", "POST", "/agent/api/handoffs/1/claim", {"headers": {"X-CSRF-Token": ""}},
                                403, "csrf"),
    "agent_post_cross_origin": ("agent1", "POST", "/agent/api/handoffs/1/claim",
                                {"headers": {"Origin": "https://evil.example"}}, 403, "bad_origin"),
    "ops_date_impossible": ("ops1", "GET", "/ops/api/metrics?from=2026-13-45", {}, 400, "bad_filter"),
    "ops_date_sql_ish": ("ops1", "GET", "/ops/api/metrics?from=2026-01-01'%20OR%201=1", {}, 400, "bad_filter"),
    "ops_date_reversed": ("ops1", "GET", "/ops/api/metrics?from=2026-05-01&to=2026-04-01", {}, 400, "bad_filter"),
    "ops_date_range_huge": ("ops1", "GET", "/ops/api/metrics?from=1900-01-01&to=2026-01-01", {}, 400, "bad_filter"),
    "ops_tier_unknown": ("ops1", "GET", "/ops/api/metrics?tier=platinum", {}, 400, "bad_filter"),
    "ops_segment_script": ("ops1", "GET", "/ops/api/metrics?segment=%3Cscript%3E", {}, 400, "bad_filter"),
    "ops_limit_negative": ("ops1", "GET", "/ops/api/unrecognized?limit=-1", {}, 400, "bad_request"),
    "ops_limit_huge": ("ops1", "GET", "/ops/api/unrecognized?limit=" + "9" * 25, {}, 400, "bad_request"),
    "ops_limit_nan": ("ops1", "GET", "/ops/api/unrecognized?limit=NaN", {}, 400, "bad_request"),
    "ops_breakdown_by_unknown": ("ops1", "GET", "/ops/api/breakdown/containment?by=member_id", {}, 400, "bad_filter"),
    "ops_metric_unknown": ("ops1", "GET", "/ops/api/metrics/..%2F..%2Fsecret", {}, 404, "not_found"),
    "ops_calls_agent_api": ("ops1", "GET", "/agent/api/queue", {}, 403, "wrong_role"),
    "agent_calls_ops_api": ("agent1", "GET", "/ops/api/metrics", {}, 403, "wrong_role"),
}
PASSWORDS = {"agent1": "agent1-demo", "ops1": "ops1-demo"}


@pytest.mark.parametrize(("who", "method", "path", "kwargs", "status", "code"), list(HTTP_CASES.values()),
                         ids=list(HTTP_CASES))
def test_bad_http_requests_get_a_polite_json_error(client: TestClient, who: str | None, method: str, path: str,
                                                   kwargs: dict[str, Any], status: int, code: str | None) -> None:
    kwargs = dict(kwargs)
    if who is not None:
        assert login(client, who, PASSWORDS[who]).status_code == 303
        kwargs["headers"] = {**csrf_headers(client), **kwargs.get("headers", {})}
    cookies = kwargs.pop("cookies", None)
    if cookies:
        client.cookies.update(cookies)
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    if code is not None:
        body = response.json()
        assert body["error"] == code and body["message_zh"] and body["message_en"], body
