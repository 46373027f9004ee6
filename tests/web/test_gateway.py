"""The member WebSocket: storing, routing to the bot, idempotency, reconnects, bad frames."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from personalization.models import ChatMessage, Conversation
from tests.web.helpers import FakeRasa, WebDb, member_token, receive_until


def _hello(ws: Any) -> dict[str, Any]:
    frame = ws.receive_json()
    assert frame["type"] == "hello", frame
    return frame


def _say(ws: Any, text: str, client_id: str, **extra: Any) -> list[dict[str, Any]]:
    """Send a member message; frames until the bot's answer (or the first error)."""
    ws.send_json({"type": "message", "client_id": client_id, "text": text, **extra})
    frames = receive_until(ws, lambda f: f["type"] in ("error", "ack"))
    if frames[-1]["type"] == "error":
        return frames
    seq = frames[-1]["seq"]
    return frames + receive_until(ws, lambda f: f["type"] == "error" or (
        f["type"] == "message" and f["message"]["seq"] > seq and f["message"]["sender"] in ("bot", "system")))


def _messages(frames: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    return [f["message"] for f in frames if f["type"] == "message" and f["message"]["sender"] == sender]


def test_member_message_is_stored_acked_and_answered_by_the_bot(client: TestClient, rasa: FakeRasa,
                                                                 web_db: WebDb) -> None:
    member_id = web_db.members[0]
    token = member_token(client, member_id)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        hello = _hello(ws)
        assert hello["state"] == "bot" and hello["conversation_id"].startswith("C")
        frames = _say(ws, "你好", "c-1")
    ack = next(f for f in frames if f["type"] == "ack")
    member = _messages(frames, "member")[0]
    bot = _messages(frames, "bot")[0]
    assert ack == {"type": "ack", "client_id": "c-1", "seq": member["seq"]}
    assert bot["seq"] == member["seq"] + 1 and bot["text"] == "您好！收到：你好"
    assert {"type": "typing", "who": "bot", "on": True} in frames
    call = rasa.webhook_calls[-1]
    assert call == {"sender": hello["conversation_id"], "message": "你好",
                    "metadata": {"language": "zh", "member_id": member_id}}
    with web_db.factory() as session:
        stored = session.scalar(select(ChatMessage).where(ChatMessage.id == member["id"]))
        assert stored is not None and stored.intent == "greet" and stored.sentiment["emotion"] == "neutral"


def test_anonymous_visitor_gets_no_member_id_in_metadata(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        _say(ws, "你好", "a-1")
    assert "member_id" not in rasa.webhook_calls[-1]["metadata"]


def test_resend_with_the_same_client_id_stores_one_message(client: TestClient, rasa: FakeRasa,
                                                             web_db: WebDb) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        cid = _hello(ws)["conversation_id"]
        first = _say(ws, "查一下订单", "dup-1")
        ws.send_json({"type": "message", "client_id": "dup-1", "text": "查一下订单"})
        again = [ws.receive_json(), ws.receive_json()]
    seq = next(f["seq"] for f in first if f["type"] == "ack")
    assert again[0] == {"type": "ack", "client_id": "dup-1", "seq": seq}
    assert again[1]["type"] == "message" and again[1]["message"]["seq"] == seq
    assert len(rasa.webhook_calls) == 1
    with web_db.factory() as session:
        count = session.scalar(select(func.count()).select_from(ChatMessage).join(Conversation).where(
            Conversation.public_id == cid, ChatMessage.client_id == "dup-1"))
    assert count == 1


def test_reconnect_with_after_seq_gets_exactly_the_missed_messages(client: TestClient) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        first = _say(ws, "第一句", "r-1")
    seen = max(f["message"]["seq"] for f in first if f["type"] == "message")
    with client.websocket_connect(f"/ws/chat?token={token}&after_seq={seen}") as ws:
        _hello(ws)
        second = _say(ws, "第二句", "r-2")
    with client.websocket_connect(f"/ws/chat?token={token}&after_seq={seen}") as ws:
        hello = _hello(ws)
        missed = [ws.receive_json() for _ in range(2)]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing else was queued before it
    assert [m["message"]["seq"] for m in missed] == [seen + 1, seen + 2]
    assert [m["message"]["text"] for m in missed] == ["第二句", "您好！收到：第二句"]
    assert hello["last_seq"] == seen + 2
    assert {f["message"]["seq"] for f in second if f["type"] == "message"} == {seen + 1, seen + 2}


def test_full_history_on_connect_without_after_seq(client: TestClient) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        _say(ws, "你好", "h-1")
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        history = [ws.receive_json()["message"] for _ in range(2)]
    assert [(m["seq"], m["sender"]) for m in history] == [(1, "member"), (2, "bot")]


def test_script_text_is_stored_and_returned_as_data(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    text = "<script>alert('x')</script>"
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        frames = _say(ws, text, "x-1")
    assert _messages(frames, "member")[0]["text"] == text
    assert rasa.webhook_calls[-1]["message"] == text


def test_oversized_text_is_refused_politely_and_the_socket_stays_open(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        ws.send_json({"type": "message", "client_id": "big-1", "text": "长" * 2001})
        error = ws.receive_json()
        frames = _say(ws, "短一点", "big-2")
    assert error["type"] == "error" and error["code"] == "too_long"
    assert "2000" in error["message_zh"] and error["message_en"]
    assert _messages(frames, "bot")
    assert [c["message"] for c in rasa.webhook_calls] == ["短一点"]


def test_malformed_frames_get_error_frames_and_the_socket_stays_open(client: TestClient) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        ws.send_text("{not json")
        bad_json = ws.receive_json()
        ws.send_text(json.dumps([1, 2]))
        not_object = ws.receive_json()
        ws.send_json({"type": "dance"})
        unknown = ws.receive_json()
        ws.send_json({"type": "message", "text": "no client id"})
        no_id = ws.receive_json()
        ws.send_bytes(b"\x00\x01")
        binary = ws.receive_json()
        ws.send_json({"type": "csat", "score": 9})
        bad_score = ws.receive_json()
        frames = _say(ws, "还在吗", "m-1")
    assert [bad_json["code"], not_object["code"], unknown["code"], no_id["code"], binary["code"],
            bad_score["code"]] == ["bad_frame", "bad_frame", "unknown_type", "bad_client_id", "bad_frame", "bad_score"]
    assert all(f["type"] == "error" and f["message_zh"] and f["message_en"]
               for f in (bad_json, not_object, unknown, no_id, binary, bad_score))
    assert _messages(frames, "bot")


def test_button_payload_goes_to_rasa_as_the_message(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        frames = _say(ws, "领取", "b-1", payload="/ask_coupons{\"coupon_template\": \"T1\"}")
    assert rasa.webhook_calls[-1]["message"] == "/ask_coupons{\"coupon_template\": \"T1\"}"
    assert _messages(frames, "member")[0]["text"] == "领取"
    bot = _messages(frames, "bot")[0]
    assert bot["payload"]["buttons"][0]["title"] == "领取"


def test_bot_down_gives_a_polite_error_and_keeps_the_message(client: TestClient, rasa: FakeRasa) -> None:
    rasa.fail = True
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        frames = _say(ws, "你好", "down-1")
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "bot_unavailable"
    assert _messages(frames, "member")[0]["text"] == "你好"


def test_handoff_queues_and_then_the_bot_is_not_called(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        frames = _say(ws, "转人工", "q-1")
        frames += receive_until(ws, lambda f: f["type"] == "state")
        calls_before = len(rasa.webhook_calls)
        ws.send_json({"type": "message", "client_id": "q-2", "text": "有人吗"})
        after = [ws.receive_json(), ws.receive_json()]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    state = frames[-1]
    assert state["state"] == "queued" and state["queue_position"] >= 1
    assert any((m["payload"] or {}).get("type") == "handoff" for m in _messages(frames, "bot"))
    assert [f["type"] for f in after] == ["ack", "message"] and after[1]["message"]["sender"] == "member"
    assert len(rasa.webhook_calls) == calls_before


def test_cancel_handoff_returns_to_the_bot(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        _say(ws, "转人工", "cx-1")
        receive_until(ws, lambda f: f["type"] == "state")
        ws.send_json({"type": "cancel_handoff"})
        frames = receive_until(ws, lambda f: f["type"] == "state")
        ws.send_json({"type": "cancel_handoff"})
        nothing = ws.receive_json()
        answered = _say(ws, "你好", "cx-2")
    assert frames[-1]["state"] == "bot"
    assert "取消" in _messages(frames, "system")[0]["text"]
    assert nothing["code"] == "not_handed_off"
    assert _messages(answered, "bot")


def test_language_switch_goes_to_rasa_metadata(client: TestClient, rasa: FakeRasa) -> None:
    token = member_token(client, None)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        _hello(ws)
        ws.send_json({"type": "language", "language": "en"})
        assert ws.receive_json() == {"type": "language", "language": "en"}
        ws.send_json({"type": "language", "language": "fr"})
        assert ws.receive_json()["code"] == "bad_language"
        _say(ws, "hello", "l-1")
    assert rasa.webhook_calls[-1]["metadata"]["language"] == "en"
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        assert _hello(ws)["language"] == "en"


def test_rasa_text_and_its_payload_become_one_bot_message() -> None:
    from web.flows import merge_bot_items

    items = [
        {"recipient_id": "c", "text": "您的积分：1200", "buttons": [{"title": "好", "payload": "/affirm"}]},
        {"recipient_id": "c", "custom": {"type": "points", "balance": 1200}},
        {"recipient_id": "c", "text": "还有什么可以帮您的吗？"},
        {"recipient_id": "c", "custom": {"type": "handoff", "handoff_id": 3}},
        {"recipient_id": "c"},
    ]
    assert merge_bot_items(items) == [
        ("您的积分：1200", {"buttons": [{"title": "好", "payload": "/affirm"}], "type": "points", "balance": 1200}),
        ("还有什么可以帮您的吗？", {"type": "handoff", "handoff_id": 3}),
    ]
