"""The socket.io channel (what web widgets use) identifies the member by ``customData.member_id``."""

from __future__ import annotations

import queue
import uuid
from typing import Any

import socketio

from launcher.stack import Stack


def _ask(stack: Stack, text: str, custom_data: dict[str, Any] | None) -> str:
    replies: "queue.Queue[dict[str, Any]]" = queue.Queue()
    confirmed: "queue.Queue[Any]" = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", replies.put)
    client.on("session_confirm", confirmed.put)
    session_id = uuid.uuid4().hex
    # Long-polling: Sanic 21.12 (pinned by Rasa 3.6) cannot upgrade socket.io to a websocket on
    # Python 3.11 (asyncio.wait refuses coroutines); the member widget talks to the web app instead.
    client.connect(stack.rasa_url, transports=["polling"], wait_timeout=10)
    try:
        client.emit("session_request", {"session_id": session_id})
        confirmed.get(timeout=10)
        message: dict[str, Any] = {"message": text, "session_id": session_id}
        if custom_data is not None:
            message["customData"] = custom_data
        client.emit("user_uttered", message)
        texts = [replies.get(timeout=30).get("text") or ""]
        while True:  # the rest of this turn's messages
            try:
                texts.append(replies.get(timeout=2).get("text") or "")
            except queue.Empty:
                return "\n".join(texts)
    finally:
        client.disconnect()


def test_socketio_custom_data_personalizes_the_answer(stack: Stack, cli: Any) -> None:
    member = cli.json("profile", cli.json("members", "--limit", "1")[0]["member_id"])
    answer = _ask(stack, "我还有多少积分", {"member_id": member["member_id"]})
    assert str(member["points"]) in answer, answer


def test_socketio_without_custom_data_is_anonymous(stack: Stack) -> None:
    answer = _ask(stack, "我还有多少积分", None)
    assert "登录" in answer, answer
