"""Bad input through the real REST channel: a polite reply, never a traceback, a hang or someone else's data."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from launcher.rest_client import texts
from launcher.stack import ensure_rasa_token

BAD_INPUTS = {
    "empty": "",
    "whitespace": "   \t  ",
    "very_long": "我想问一下我的订单" * 667,  # ~6,000 characters
    "emoji_only": "😀😀👍",
    "angry_emoji_only": "😡😡😡",
    "control_characters": "\x00\x07\x1b[31m积分\x08",
    "html": "<script>alert('x')</script>",
    "sql": "'; DROP TABLE members; --",
    "punctuation": "？？？！！",
}


@pytest.mark.parametrize("text", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_gets_a_polite_reply(chat: Any, cli: Any, text: str) -> None:
    member_id = cli.json("members", "--limit", "1")[0]["member_id"]
    started = time.perf_counter()
    answer = chat.say(text, member_id=member_id)
    assert time.perf_counter() - started < 10
    reply = texts(answer)
    assert reply.strip(), answer
    assert "Traceback" not in reply and "Error" not in reply


def test_the_conversation_goes_on_after_bad_input(chat: Any, cli: Any) -> None:
    profile = cli.json("profile", cli.json("members", "--limit", "1")[0]["member_id"])
    chat.say("\x00\x00", member_id=profile["member_id"])
    chat.say("'; DROP TABLE members; --", member_id=profile["member_id"])
    answer = texts(chat.say("我还有多少积分", member_id=profile["member_id"]))
    assert str(profile["points"]) in answer
    assert cli.json("members", "--limit", "1")  # the table is still there


def test_content_free_message_asks_what_the_member_needs(chat: Any) -> None:
    reply = texts(chat.say("😡😡😡"))
    assert "抱歉" in reply or "没" in reply or "请问" in reply, reply


def test_rasas_http_api_refuses_requests_without_the_right_token(stack: Any) -> None:
    """Rasa's HTTP API (--enable-api --auth-token, bound to 127.0.0.1) answers only with the token:
    nobody reads or rewrites a member's tracker (say, setting member_id) without it."""
    base, sender = stack.rasa_url, "auth-probe"
    tracker, events = f"{base}/conversations/{sender}/tracker", f"{base}/conversations/{sender}/tracker/events"
    forged = [{"event": "slot", "name": "member_id", "value": "M100001"}]
    for token in (None, "wrong-token", ""):
        params = {} if token is None else {"token": token}
        assert requests.get(tracker, params=params, timeout=10).status_code == 401
        assert requests.post(events, params=params, json=forged, timeout=10).status_code == 401
        assert requests.get(f"{base}/status", params=params, timeout=10).status_code == 401
    answer = requests.get(tracker, params={"token": ensure_rasa_token(stack.settings)}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["slots"].get("member_id") is None  # the refused write changed nothing
