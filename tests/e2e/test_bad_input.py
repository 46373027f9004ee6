"""Bad input through the real REST channel: a polite reply, never a traceback, a hang or someone else's data."""

from __future__ import annotations

import time
from typing import Any

import pytest

from launcher.rest_client import texts

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
