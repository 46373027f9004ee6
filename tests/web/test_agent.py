"""Agent login, roles, CSRF, the queue, claim / reply / transfer / resolve / goodwill, CSAT."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from personalization.models import CsatRating
from tests.web.helpers import FakeRasa, WebDb, csrf_headers, login, member_token, receive_until


def _queued_conversation(client: TestClient, member_id: str | None) -> tuple[str, str, int]:
    """A member conversation that asked for a human: (token, conversation id, handoff id)."""
    token = member_token(client, member_id)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        cid = ws.receive_json()["conversation_id"]
        ws.send_json({"type": "message", "client_id": "h-1", "text": "转人工"})
        state = receive_until(ws, lambda f: f["type"] == "state")[-1]
    assert state["state"] == "queued"
    return token, cid, state["handoff_id"]


# -- login ----------------------------------------------------------------------------------------

def test_login_sets_a_session_and_redirects_agents_to_the_console(client: TestClient) -> None:
    response = login(client, "agent1", "agent1-demo")
    assert response.status_code == 303 and response.headers["location"] == "/agent"
    cookie = response.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith("desk_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
    assert client.get("/agent/api/me").json()["display_name"] == "小王"


def test_ops_login_goes_to_the_ops_page(client: TestClient) -> None:
    assert login(client, "ops1", "ops1-demo").headers["location"] == "/ops"


def test_wrong_password_and_unknown_user_get_the_same_polite_answer(client: TestClient) -> None:
    wrong = login(client, "agent2", "nope-nope")
    unknown = login(client, "nobody-here", "nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "用户名或密码不正确" in response.text and "desk_session" not in response.headers.get("set-cookie", "")
    assert client.get("/agent/api/me").status_code == 401


def test_five_failures_lock_the_username_even_for_the_right_password(client: TestClient) -> None:
    for _ in range(5):
        assert login(client, "admin", "wrong-password").status_code == 401
    locked = login(client, "admin", "admin-demo")
    assert locked.status_code == 429 and "10分钟" in locked.text
    assert login(client, "agent1", "agent1-demo").status_code == 303  # other usernames unaffected


def test_login_without_the_csrf_field_is_refused(client: TestClient) -> None:
    client.get("/agent/login")
    response = client.post("/agent/login", data={"username": "agent1", "password": "agent1-demo"},
                           follow_redirects=False)
    assert response.status_code == 403 and "desk_session" not in response.headers.get("set-cookie", "")


def test_login_page_escapes_what_the_user_typed(client: TestClient) -> None:
    response = login(client, "<script>alert(1)</script>", "x")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_logout_ends_the_session(client: TestClient) -> None:
    login(client, "agent1", "agent1-demo")
    response = client.post("/agent/logout", headers=csrf_headers(client), follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/agent/api/me").status_code == 401


# -- roles ----------------------------------------------------------------------------------------

def test_no_cookie_redirects_pages_and_refuses_the_api(client: TestClient) -> None:
    assert client.get("/agent", follow_redirects=False).headers["location"] == "/agent/login"
    assert client.get("/ops", follow_redirects=False).headers["location"] == "/agent/login"
    response = client.get("/agent/api/queue")
    assert response.status_code == 401 and response.json()["error"] == "not_logged_in"


def test_agent_gets_403_on_ops_and_ops_gets_403_on_the_console(client: TestClient) -> None:
    login(client, "agent1", "agent1-demo")
    assert client.get("/agent").status_code == 200
    assert client.get("/ops").status_code == 403
    login(client, "ops1", "ops1-demo")
    assert client.get("/ops").status_code == 200
    assert client.get("/agent").status_code == 403
    assert client.get("/agent/api/queue").status_code == 403


def test_admin_sees_both_pages(client: TestClient) -> None:
    login(client, "admin", "admin-demo")
    assert client.get("/agent").status_code == 200 and client.get("/ops").status_code == 200


def test_forged_session_cookie_is_refused(client: TestClient) -> None:
    from web.signing import sign

    client.cookies.set("desk_session", sign("someone-elses-secret", "desk_session", {"a": 1, "r": "admin"}, ttl_s=60))
    assert client.get("/agent/api/me").status_code == 401


def test_console_pages_are_not_frameable_and_have_a_csp(client: TestClient) -> None:
    response = client.get("/agent/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# -- the desk -------------------------------------------------------------------------------------

def test_post_without_the_csrf_header_is_refused(client: TestClient, web_db: WebDb) -> None:
    _, _, handoff_id = _queued_conversation(client, None)
    login(client, "agent1", "agent1-demo")
    response = client.post(f"/agent/api/handoffs/{handoff_id}/claim")
    assert response.status_code == 403 and response.json()["error"] == "csrf"
    wrong = client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    assert any(i["handoff_id"] == handoff_id for i in client.get("/agent/api/queue").json()["items"])


def test_claim_tells_the_member_which_agent_joined(client: TestClient, web_db: WebDb) -> None:
    token, cid, handoff_id = _queued_conversation(client, web_db.members[10])
    login(client, "agent1", "agent1-demo")
    with client.websocket_connect(f"/ws/chat?token={token}&after_seq=99999") as member:
        assert member.receive_json()["state"] == "queued"
        response = client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
        assert response.status_code == 200, response.text
        frames = receive_until(member, lambda f: f["type"] == "state")
    system = next(f["message"] for f in frames if f["type"] == "message")
    assert system["sender"] == "system" and system["text"] == "人工客服 小王 已接入"
    assert system["payload"]["text_en"] == "Agent 小王 has joined"
    assert frames[-1]["state"] == "assigned" and frames[-1]["agent_name"] == "小王"
    again = client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
    assert again.status_code == 409 and again.json()["error"] == "already_claimed"
    detail = client.get(f"/agent/api/conversations/{cid}").json()
    assert detail["panel"].get("anonymous") is not True and detail["suggestions"]
    assert [m["text"] for m in detail["messages"]][-1] == "人工客服 小王 已接入"


def test_agent_cannot_view_a_conversation_assigned_to_another_agent(client: TestClient, web_db: WebDb) -> None:
    _, cid, handoff_id = _queued_conversation(client, web_db.members[11])
    login(client, "agent2", "agent2-demo")
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 200  # queued: everyone may look
    assert client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client)).status_code == 200
    login(client, "agent1", "agent1-demo")
    refused = client.get(f"/agent/api/conversations/{cid}")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    reply = client.post(f"/agent/api/conversations/{cid}/reply", json={"text": "hi"}, headers=csrf_headers(client))
    assert reply.status_code == 403
    resolve = client.post(f"/agent/api/handoffs/{handoff_id}/resolve", headers=csrf_headers(client))
    assert resolve.status_code == 403
    assert client.get("/agent/api/conversations/Cnope").status_code == 404


def test_ops_cannot_use_the_agent_api(client: TestClient, web_db: WebDb) -> None:
    _, cid, _ = _queued_conversation(client, None)
    login(client, "ops1", "ops1-demo")
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 403


def test_while_assigned_member_messages_go_to_the_agent_not_the_bot(client: TestClient, rasa: FakeRasa,
                                                                     web_db: WebDb) -> None:
    token, cid, handoff_id = _queued_conversation(client, web_db.members[12])
    login(client, "agent1", "agent1-demo")
    client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
    calls = len(rasa.webhook_calls)
    with client.websocket_connect("/ws/agent") as agent_ws, \
            client.websocket_connect(f"/ws/chat?token={token}&after_seq=99999") as member:
        assert agent_ws.receive_json()["type"] == "hello"
        assert agent_ws.receive_json()["type"] == "queue"
        member.receive_json()  # hello
        member.send_json({"type": "message", "client_id": "to-agent-1", "text": "我的快递丢了 <b>急</b>"})
        seen = receive_until(agent_ws, lambda f: f["type"] == "message")[-1]
        assert seen["conversation_id"] == cid and seen["message"]["text"] == "我的快递丢了 <b>急</b>"
        member.send_json({"type": "message", "client_id": "to-agent-2", "text": "气死我了"})
        tagged = receive_until(agent_ws, lambda f: f["type"] == "message_update"
                               and f["message"]["text"] == "气死我了")[-1]
        assert tagged["message"]["text"] == "气死我了" and tagged["message"]["sentiment"]["emotion"] == "anger"
        reply = client.post(f"/agent/api/conversations/{cid}/reply", json={"text": "马上为您查询"},
                            headers=csrf_headers(client))
        assert reply.status_code == 200, reply.text
        got = receive_until(member, lambda f: f["type"] == "message" and f["message"]["sender"] == "agent")[-1]
    assert got["message"]["text"] == "马上为您查询" and got["message"]["agent_name"] == "小王"
    assert len(rasa.webhook_calls) == calls  # the dialogue never saw them
    assert rasa.parse_calls == ["我的快递丢了 <b>急</b>", "气死我了"]  # NLU only, for the sentiment chip


def test_resolve_asks_for_csat_and_the_rating_is_stored(client: TestClient, rasa: FakeRasa, web_db: WebDb) -> None:
    member_id = web_db.members[13]
    token, cid, handoff_id = _queued_conversation(client, member_id)
    login(client, "agent1", "agent1-demo")
    client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
    with client.websocket_connect(f"/ws/chat?token={token}&after_seq=99999") as member:
        member.receive_json()
        response = client.post(f"/agent/api/handoffs/{handoff_id}/resolve", headers=csrf_headers(client))
        assert response.status_code == 200, response.text
        frames = receive_until(member, lambda f: f["type"] == "state")
        request = next(f["message"] for f in frames if f["type"] == "message")
        member.send_json({"type": "csat", "score": 5})
        ack = member.receive_json()
        member.send_json({"type": "message", "client_id": "after-1", "text": "谢谢"})
        back = receive_until(member, lambda f: f["type"] == "message" and f["message"]["sender"] == "bot")
    assert request["payload"]["type"] == "csat_request" and request["payload"]["handoff_id"] == handoff_id
    assert request["payload"]["scale"] == [1, 2, 3, 4, 5] and "请为本次服务打分" in request["text"]
    assert frames[-1]["state"] == "bot"
    assert ack == {"type": "csat_ack", "score": 5, "handoff_id": handoff_id}
    assert back  # the bot answers again
    with web_db.factory() as session:
        rating = session.scalar(select(CsatRating).where(CsatRating.conversation_id == cid))
    assert rating is not None and rating.score == 5 and rating.member_id == member_id and rating.source == "widget"


def test_csat_without_a_resolved_handoff_is_refused(client: TestClient) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as member:
        member.receive_json()
        member.send_json({"type": "csat", "score": 4})
        assert member.receive_json()["type"] == "error"


def test_transfer_moves_the_conversation_to_the_other_agent(client: TestClient, web_db: WebDb) -> None:
    token, cid, handoff_id = _queued_conversation(client, web_db.members[14])
    login(client, "agent1", "agent1-demo")
    client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
    agents = {a["username"] for a in client.get("/agent/api/agents").json()["items"]}
    assert {"agent1", "agent2"} <= agents and "ops1" not in agents
    with client.websocket_connect(f"/ws/chat?token={token}&after_seq=99999") as member:
        member.receive_json()
        moved = client.post(f"/agent/api/handoffs/{handoff_id}/transfer", json={"to_agent": "agent2"},
                            headers=csrf_headers(client))
        assert moved.status_code == 200, moved.text
        frames = receive_until(member, lambda f: f["type"] == "state")
    assert "小李" in next(f["message"]["text"] for f in frames if f["type"] == "message")
    assert frames[-1]["agent_name"] == "小李"
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 403
    login(client, "agent2", "agent2-demo")
    assert [h["conversation_id"] for h in client.get("/agent/api/mine").json()["items"]].count(cid) == 1


def test_goodwill_coupon_reaches_the_member_within_the_limit(client: TestClient, web_db: WebDb) -> None:
    token, cid, handoff_id = _queued_conversation(client, web_db.members[15])
    login(client, "agent1", "agent1-demo")
    client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
    over = client.post(f"/agent/api/conversations/{cid}/goodwill", json={"amount": 500}, headers=csrf_headers(client))
    assert over.status_code == 400 and over.json()["error"] == "over_limit"
    bad = client.post(f"/agent/api/conversations/{cid}/goodwill", json={"amount": "abc"}, headers=csrf_headers(client))
    assert bad.status_code == 400 and bad.json()["error"] == "bad_amount"
    with client.websocket_connect(f"/ws/chat?token={token}&after_seq=99999") as member:
        member.receive_json()
        given = client.post(f"/agent/api/conversations/{cid}/goodwill", json={"amount": 10},
                            headers=csrf_headers(client))
        assert given.status_code == 200, given.text
        card = receive_until(member, lambda f: f["type"] == "message")[-1]["message"]
    assert card["payload"]["type"] == "coupon_cards" and len(card["payload"]["items"]) == 1
    assert "10" in card["text"]


def test_agent_socket_requires_a_desk_login(client: TestClient) -> None:
    with client.websocket_connect("/ws/agent") as ws:
        assert ws.receive_json()["code"] == "not_logged_in"
    login(client, "ops1", "ops1-demo")
    with client.websocket_connect("/ws/agent") as ws:
        assert ws.receive_json()["code"] == "wrong_role"


def test_agent_socket_hears_new_queue_entries(client: TestClient) -> None:
    login(client, "agent2", "agent2-demo")
    with client.websocket_connect("/ws/agent") as agent_ws:
        agent_ws.receive_json()
        agent_ws.receive_json()
        _, cid, _ = _queued_conversation(client, None)
        queue = receive_until(agent_ws, lambda f: f["type"] == "queue" and any(
            i["conversation_id"] == cid for i in f["items"]))[-1]
    assert queue["items"]


@pytest.mark.parametrize("path", ["/healthz"])
def test_health(client: TestClient, path: str) -> None:
    assert client.get(path).json() == {"status": "ok"}


def test_unknown_paths_get_json_errors_not_tracebacks(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    login(client, "agent1", "agent1-demo")
    bad = client.post("/agent/api/handoffs/abc/claim", headers=csrf_headers(client))
    assert bad.status_code == 400 and "Traceback" not in bad.text


