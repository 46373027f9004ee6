"""Member tokens: signed, expiring, bound to one member; the socket refuses anything else."""

from __future__ import annotations

import base64
import json
import time

import pytest
from fastapi.testclient import TestClient

from tests.web.helpers import SECRET, WebDb, member_token
from web.signing import sign
from web.tokens import InvalidToken, MemberIdentity, sign_member_token, verify_member_token


def test_a_token_names_its_member() -> None:
    token = sign_member_token(SECRET, member_id="M000001", visitor_id=None)
    assert verify_member_token(SECRET, token) == MemberIdentity(member_id="M000001", visitor_id=None)


def _forge(token: str, member_id: str) -> str:
    body, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["m"] = member_id
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


@pytest.mark.parametrize("make, code", [
    (lambda: _forge(sign_member_token(SECRET, member_id="M000001", visitor_id=None), "M000002"), "bad_signature"),
    (lambda: sign_member_token("another-secret", member_id="M000001", visitor_id=None), "bad_signature"),
    (lambda: sign_member_token(SECRET, member_id="M000001", visitor_id=None, ttl_s=10, now=time.time() - 60),
     "expired"),
    (lambda: sign(SECRET, "desk_session", {"m": "M000001", "v": None}, ttl_s=60), "bad_signature"),
    (lambda: "not-a-token", "malformed"),
    (lambda: "", "missing"),
])
def test_forged_expired_or_foreign_tokens_are_refused(make, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidToken) as caught:
        verify_member_token(SECRET, make())
    assert caught.value.code == code


def test_socket_with_a_forged_token_gets_an_error_and_is_closed(client: TestClient, web_db: WebDb) -> None:
    token = _forge(member_token(client, web_db.members[3])["token"], web_db.members[4])
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        frame = ws.receive_json()
        closed = ws.receive()
    assert frame["type"] == "error" and frame["code"] == "invalid_token" and frame["message_zh"]
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


def test_socket_with_an_expired_token_is_refused(client: TestClient, web_db: WebDb) -> None:
    token = sign_member_token(SECRET, member_id=web_db.members[3], visitor_id=None, ttl_s=1, now=time.time() - 10)
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        assert ws.receive_json()["code"] == "invalid_token"


def _conversation_of(client: TestClient, token: str) -> str:
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        return ws.receive_json()["conversation_id"]


def test_a_member_cannot_open_another_members_conversation(client: TestClient, web_db: WebDb) -> None:
    theirs = _conversation_of(client, member_token(client, web_db.members[5])["token"])
    mine = member_token(client, web_db.members[6])["token"]
    with client.websocket_connect(f"/ws/chat?token={mine}&conversation_id={theirs}") as ws:
        frame = ws.receive_json()
        closed = ws.receive()
    assert frame["code"] == "forbidden" and closed["code"] == 4403


def test_an_anonymous_visitor_cannot_read_a_members_conversation(client: TestClient, web_db: WebDb) -> None:
    member = member_token(client, web_db.members[7])["token"]
    with client.websocket_connect(f"/ws/chat?token={member}") as ws:
        theirs = ws.receive_json()["conversation_id"]
        ws.send_json({"type": "message", "client_id": "secret-1", "text": "我的地址是某某路1号"})
        ws.receive_json()
    visitor = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={visitor}&conversation_id={theirs}") as ws:
        frame = ws.receive_json()
    assert frame["type"] == "error" and frame["code"] == "forbidden"
    with client.websocket_connect(f"/ws/chat?token={visitor}") as ws:
        assert ws.receive_json()["conversation_id"] != theirs


def test_own_conversation_by_id_is_allowed(client: TestClient, web_db: WebDb) -> None:
    token = member_token(client, web_db.members[8])["token"]
    cid = _conversation_of(client, token)
    with client.websocket_connect(f"/ws/chat?token={token}&conversation_id={cid}") as ws:
        assert ws.receive_json()["conversation_id"] == cid


def test_demo_token_for_an_unknown_member_is_refused(client: TestClient) -> None:
    response = client.post("/demo/token", json={"member_id": "NOPE"})
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_anonymous_demo_tokens_get_fresh_visitor_ids(client: TestClient) -> None:
    first, second = member_token(client, None), member_token(client, None)
    assert first["visitor_id"] != second["visitor_id"] and first["member_id"] is None


def test_demo_members_are_listed_with_masked_names(client: TestClient) -> None:
    items = client.get("/demo/members").json()["items"]
    assert items and all("*" in item["name_masked"] for item in items)
    assert {item["tier"] for item in items} >= {"normal"}


def test_demo_endpoints_are_off_when_web_demo_is_off(settings, rasa) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.web.helpers import RASA_TOKEN
    from web.app import create_app

    app = create_app(replace(settings, web_demo=False), rasa_url=rasa.url, rasa_token=RASA_TOKEN)
    with TestClient(app) as off:
        assert off.post("/demo/token", json={"member_id": None}).status_code == 404
        assert off.get("/demo/members").status_code == 404
