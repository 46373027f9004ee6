"""Cross-member access attempts, all refused: guessed conversation ids, replayed and re-signed
tokens, visitors reaching for member data, agents reaching past their assignments, wrong roles."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi.testclient import TestClient

from tests.web.helpers import SECRET, FakeRasa, WebDb, csrf_headers, login, member_token, receive_until
from web.tokens import sign_member_token


def _open(client: TestClient, token: str, query: str = "") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(first frame, close event or None if the socket opened normally)."""
    with client.websocket_connect(f"/ws/chat?token={token}{query}") as ws:
        first = ws.receive_json()
        if first["type"] == "error":
            return first, ws.receive()
        return first, None


def _conversation_with_message(client: TestClient, token: str, text: str) -> str:
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        cid = ws.receive_json()["conversation_id"]
        ws.send_json({"type": "message", "client_id": f"x-{text}", "text": text})
        receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
    return str(cid)


def test_a_member_cannot_resume_another_members_conversation(client: TestClient, web_db: WebDb) -> None:
    m1, m2 = (member_token(client, web_db.members[i])["token"] for i in (10, 11))
    cid = _conversation_with_message(client, m1, "我的地址是北京市朝阳区")
    frame, closed = _open(client, m2, f"&conversation_id={cid}&after_seq=0")
    assert frame["type"] == "error" and frame["code"] == "forbidden"
    assert closed is not None and closed["code"] == 4403


def test_after_seq_replay_of_another_conversation_returns_nothing(client: TestClient, web_db: WebDb) -> None:
    m1 = member_token(client, web_db.members[12])["token"]
    visitor = member_token(client, None)["token"]
    cid = _conversation_with_message(client, m1, "查订单")
    for after in ("0", "1", "999999"):
        frame, closed = _open(client, visitor, f"&conversation_id={cid}&after_seq={after}")
        assert frame["code"] == "forbidden" and closed is not None  # no backlog frame came first


def test_guessed_conversation_ids_are_refused_like_foreign_ones(client: TestClient, web_db: WebDb) -> None:
    token = member_token(client, web_db.members[13])["token"]
    for guess in ("C" + "0" * 20, "C" + "f" * 20, "C1", "1", "C%", "C_"):
        frame, closed = _open(client, token, f"&conversation_id={guess}")
        assert frame["code"] == "forbidden" and closed is not None and closed["code"] == 4403


def test_a_token_for_m1_edited_to_say_m2_is_refused(client: TestClient, web_db: WebDb) -> None:
    token = member_token(client, web_db.members[14])["token"]
    body, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["m"] = web_db.members[15]
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    frame, closed = _open(client, f"{forged}.{mac}")
    assert frame["code"] == "invalid_token" and closed is not None and closed["code"] == 4401


def test_a_visitor_token_cannot_be_turned_into_a_member_one(client: TestClient, web_db: WebDb,
                                                            rasa: FakeRasa) -> None:
    visitor = member_token(client, None)
    with client.websocket_connect(f"/ws/chat?token={visitor['token']}&member_id={web_db.members[16]}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "v-1", "text": "我的积分", "member_id": web_db.members[16],
                      "metadata": {"member_id": web_db.members[16]}})
        receive_until(ws, lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
    assert "member_id" not in rasa.webhook_calls[-1]["metadata"]  # the bot never hears a member id


def test_a_member_socket_only_hears_its_own_conversation(client: TestClient, web_db: WebDb) -> None:
    m1, m2 = (member_token(client, web_db.members[i])["token"] for i in (17, 18))
    with client.websocket_connect(f"/ws/chat?token={m2}") as other:
        other.receive_json()
        _conversation_with_message(client, m1, "秘密消息")
        other.send_json({"type": "ping"})
        frames = receive_until(other, lambda f: f["type"] == "pong")
    assert all("秘密消息" not in json.dumps(f, ensure_ascii=False) for f in frames)


def test_a_member_cannot_rate_another_conversations_handoff(client: TestClient, web_db: WebDb) -> None:
    m1, m2 = (member_token(client, web_db.members[i])["token"] for i in (19, 20))
    with client.websocket_connect(f"/ws/chat?token={m1}") as ws:
        ws.receive_json()
        ws.send_json({"type": "message", "client_id": "h-1", "text": "转人工"})
        frames = receive_until(ws, lambda f: f["type"] == "state" or (
            f["type"] == "message" and f["message"].get("payload") and "handoff" in json.dumps(f["message"]["payload"])))
    handoff_id = next((f.get("handoff_id") or (f.get("conversation") or {}).get("handoff_id") for f in frames
                       if f["type"] == "state"), None) or 1
    with client.websocket_connect(f"/ws/chat?token={m2}") as ws:
        ws.receive_json()
        ws.send_json({"type": "csat", "score": 1, "handoff_id": handoff_id})
        frame = receive_until(ws, lambda f: f["type"] in ("error", "csat_ack"))[-1]
    assert frame["type"] == "error", frame


def _queued_conversation(client: TestClient, web_db: WebDb, index: int) -> str:
    token = member_token(client, web_db.members[index])["token"]
    return _conversation_with_message(client, token, "转人工")


def test_an_agent_cannot_read_or_answer_a_conversation_assigned_to_another(client: TestClient, web_db: WebDb,
                                                                         rasa: FakeRasa) -> None:
    cid = _queued_conversation(client, web_db, 21)
    assert login(client, "agent2", "agent2-demo").status_code == 303
    queue = client.get("/agent/api/queue").json()["items"]
    handoff_id = next(item["handoff_id"] for item in queue if item["conversation_id"] == cid)
    assert client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client)).status_code == 200
    client.cookies.clear()
    assert login(client, "agent1", "agent1-demo").status_code == 303
    headers = csrf_headers(client)
    assert client.get(f"/agent/api/conversations/{cid}").status_code in (403, 404)
    reply = client.post(f"/agent/api/conversations/{cid}/reply", json={"text": "我来接管"}, headers=headers)
    assert reply.status_code in (403, 409) and reply.json()["error"] in ("not_assigned", "not_yours", "forbidden")
    for action in ("resolve", "transfer"):
        response = client.post(f"/agent/api/handoffs/{handoff_id}/{action}", json={"to_agent": "agent1"},
                               headers=headers)
        assert response.status_code in (403, 409), response.text
    goodwill = client.post(f"/agent/api/conversations/{cid}/goodwill", json={"amount": 5}, headers=headers)
    assert goodwill.status_code in (403, 409)


def test_other_roles_and_anonymous_callers_reach_no_agent_data(client: TestClient, web_db: WebDb) -> None:
    cid = _queued_conversation(client, web_db, 22)
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 401  # nobody logged in
    member = member_token(client, web_db.members[22])["token"]
    client.cookies.set("desk_session", member)  # a member token is no session
    assert client.get("/agent/api/queue").status_code == 401
    client.cookies.clear()
    assert login(client, "ops1", "ops1-demo").status_code == 303
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 403
    assert client.get("/agent/api/queue").json()["error"] == "wrong_role"
    with client.websocket_connect("/ws/agent") as ws:
        assert ws.receive_json()["code"] == "wrong_role"


def test_tokens_signed_with_another_secret_or_purpose_are_refused(client: TestClient, web_db: WebDb) -> None:
    other = sign_member_token("some-other-shop-secret-01234", member_id=web_db.members[23], visitor_id=None)
    frame, closed = _open(client, other)
    assert frame["code"] == "invalid_token" and closed is not None
    login(client, "agent1", "agent1-demo")
    session_cookie = client.cookies.get("desk_session")
    frame, closed = _open(client, session_cookie or "x")  # an agent's session is not a member token
    assert frame["code"] == "invalid_token" and closed is not None
    assert SECRET not in json.dumps(frame)
