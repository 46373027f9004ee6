"""Sentiment through the real stack: every member message is tagged in the tracker store and the
event broker, and the dialogue reacts to the tags the model itself produced (issue 4).

The texts below are ones the shipped model tags clearly (tests/sentiment checks the model's
quality); these tests check the wiring from the model to the dialogue.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from launcher.rest_client import payloads, texts
from launcher.stack import Stack, ensure_rasa_token
from personalization.sentiment.labels import EMOTIONS, POLARITIES


def tracker_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": ensure_rasa_token(stack.settings)},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["events"]


def assert_valid_tag(tag: Any) -> None:
    assert isinstance(tag, dict), tag
    assert tag["polarity"] in POLARITIES
    assert tag["emotion"] in EMOTIONS
    assert 0.0 <= float(tag["score"]) <= 1.0


@pytest.fixture(scope="module")
def member_with_orders(cli: Any) -> str:
    for row in cli.json("members", "--limit", "50"):
        profile = cli.json("profile", row["member_id"])
        if profile["orders_count"] > 0:
            return str(row["member_id"])
    pytest.fail("no member with orders in the seeded data")


def test_every_member_message_carries_a_sentiment_tag(chat: Any, stack: Stack) -> None:
    said = [
        "你好",
        "怎么修改收货地址",
        "😡😡😡",
        "   ",
        "我的快递怎么还没到，急死了 where is my parcel",
        "好" * 10_000,
        '/rate_service{"csat_score": "4"}',
        "thanks, that was helpful!",
    ]
    for message in said:
        chat.say(message)
    user_events = [e for e in tracker_events(stack, chat.sender) if e["event"] == "user"]
    assert len(user_events) == len(said)
    for event in user_events:
        assert_valid_tag(event["parse_data"].get("sentiment"))
    # The button payload is not free text: neutral, certain.
    assert user_events[6]["parse_data"]["sentiment"] == {"polarity": "neutral", "emotion": "neutral", "score": 1.0}

    # Analytics read the same tags from the event broker's table.
    with sqlite3.connect(stack.settings.rasa_events_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ?", (chat.sender,)).fetchall()
    published = [json.loads(data) for (data,) in rows]
    published_user = [e for e in published if e["event"] == "user"]
    assert len(published_user) == len(said)
    for event in published_user:
        assert_valid_tag(event["parse_data"]["sentiment"])


def test_strong_anger_gets_an_apology_and_a_human(chat: Any) -> None:
    answer = chat.say("你们这什么破服务，气死我了！")
    assert "抱歉" in texts(answer)
    handoff = payloads(answer, "handoff")
    assert handoff and handoff[0]["reason"] == "negative_emotion"


def test_anxiety_about_an_order_gets_the_status_first(chat: Any, member_with_orders: str) -> None:
    answer = chat.say("我的快递怎么还没到，急死我了，我要投诉", member_id=member_with_orders)
    (order,) = payloads(answer, "order")
    # The first thing said is the reassurance and the order's status, not the complaint form.
    assert "别着急" in answer[0]["text"] and order["order"]["order_id"] in answer[0]["text"]
    assert "投诉" not in texts(answer)


def test_two_unhappy_turns_get_the_offer_of_a_human(chat: Any, member_with_orders: str) -> None:
    chat.say("推荐的东西都不喜欢，太失望了", member_id=member_with_orders)
    answer = chat.say("唉，还是没有我想要的，好失望", member_id=member_with_orders)
    assert "人工" in texts(answer)
    buttons = [b["payload"] for m in answer for b in m.get("buttons") or []]
    assert "/request_human" in buttons
    taken = chat.say("/request_human", member_id=member_with_orders)
    assert payloads(taken, "handoff")


def test_joy_after_a_resolved_issue_asks_for_a_rating_that_is_stored(
    chat: Any, member_with_orders: str, e2e_settings: Any
) -> None:
    chat.say("我的积分还有多少", member_id=member_with_orders)
    answer = chat.say("太好了，谢谢你！", member_id=member_with_orders)
    buttons = [b["payload"] for m in answer for b in m.get("buttons") or []]
    assert '/rate_service{"csat_score": "5"}' in buttons, answer
    thanked = chat.say('/rate_service{"csat_score": "5"}', member_id=member_with_orders)
    assert "5" in texts(thanked)
    engine = create_engine(e2e_settings.database_url)
    with engine.connect() as connection:
        scores = connection.execute(
            text("SELECT score, member_id, source FROM csat_ratings WHERE conversation_id = :c"), {"c": chat.sender}
        ).all()
    engine.dispose()
    assert [tuple(row) for row in scores] == [(5, member_with_orders, "chat")]


def test_two_fallbacks_in_a_row_go_to_a_human(chat: Any) -> None:
    chat.say("🙂🙂")
    answer = chat.say("？？？")
    handoff = payloads(answer, "handoff")
    assert handoff and handoff[0]["reason"] == "repeated_fallback", answer


def test_the_rest_nlu_channel_answers_with_the_messages_and_the_nlu_result(stack: Stack, chat: Any) -> None:
    body = {"sender": chat.sender + "-nlu", "message": "你们这什么破服务，气死我了！"}
    answer = requests.post(f"{stack.rasa_url}/webhooks/rest_nlu/webhook", json=body, timeout=60).json()
    assert answer["nlu"]["sentiment"]["emotion"] == "anger"
    assert answer["nlu"]["intent"] == "complain" and 0 < answer["nlu"]["confidence"] <= 1
    # The same reply as the plain REST channel gives in a fresh conversation (the queue position
    # in the hand-off message moves on by one).
    plain = chat.say(body["message"])
    assert len(answer["messages"]) == len(plain) and answer["messages"][0]["text"] == plain[0]["text"]
    assert payloads(answer["messages"], "handoff") and payloads(plain, "handoff")
    # And the tracker holds the same tag as the channel reported.
    (user_event,) = [e for e in tracker_events(stack, body["sender"]) if e["event"] == "user"]
    assert user_event["parse_data"]["sentiment"] == answer["nlu"]["sentiment"]
