"""Conversations: owner checks, numbered messages, idempotent resends, concurrent appends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.desk import conversations
from personalization.desk.errors import DeskError
from personalization.models import ChatMessage, Conversation

from .conftest import NOW, Db, Members


def _count_messages(session: Session, public_id: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(ChatMessage)
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(Conversation.public_id == public_id)
    )


def test_member_gets_the_same_open_conversation_back(session: Session, members: Members) -> None:
    first = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None, now=NOW)
    again = conversations.open_conversation(session, member_id=members.with_orders, visitor_id="v-x", now=NOW)
    assert again["conversation_id"] == first["conversation_id"]
    assert first["conversation_id"].startswith("C") and len(first["conversation_id"]) == 21
    assert (first["state"], first["last_seq"], first["language"], first["agent_name"]) == ("bot", 0, "zh", None)


def test_visitors_get_their_own_conversations(session: Session, members: Members) -> None:
    member = conversations.open_conversation(session, member_id=members.with_orders, visitor_id="v-1", now=NOW)
    v1 = conversations.open_conversation(session, member_id=None, visitor_id="v-1", language="en", now=NOW)
    v2 = conversations.open_conversation(session, member_id=None, visitor_id="v-2", now=NOW)
    assert len({member["conversation_id"], v1["conversation_id"], v2["conversation_id"]}) == 3
    assert v1["member_id"] is None and v1["language"] == "en"


def test_opening_without_identity_or_with_an_unknown_member_is_refused(session: Session) -> None:
    with pytest.raises(DeskError) as missing:
        conversations.open_conversation(session, member_id=None, visitor_id=None)
    with pytest.raises(DeskError) as unknown:
        conversations.open_conversation(session, member_id="M999999999", visitor_id=None)
    assert (missing.value.code, unknown.value.code) == ("no_identity", "no_member")
    assert unknown.value.message_zh == "没有找到这个会员"


def test_only_the_owner_may_access_a_conversation(session: Session, members: Members) -> None:
    mine = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None, now=NOW)
    visitor = conversations.open_conversation(session, member_id=None, visitor_id="v-own", now=NOW)
    cid, vid = mine["conversation_id"], visitor["conversation_id"]
    assert conversations.can_member_access(session, cid, member_id=members.with_orders, visitor_id=None)
    assert not conversations.can_member_access(session, cid, member_id=members.other, visitor_id=None)
    assert not conversations.can_member_access(session, cid, member_id=None, visitor_id="v-own")
    assert conversations.can_member_access(session, vid, member_id=None, visitor_id="v-own")
    assert not conversations.can_member_access(session, vid, member_id=None, visitor_id="v-other")
    assert not conversations.can_member_access(session, vid, member_id=members.with_orders, visitor_id="v-own")
    assert not conversations.can_member_access(session, "C-unknown", member_id=None, visitor_id="v-own")


def test_messages_are_numbered_and_listed_after_a_seq(session: Session, members: Members) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    for text in ("你好", "我的订单到哪了", "谢谢"):
        conversations.append_message(session, cid, sender="member", text=text, now=NOW)
    bot, created = conversations.append_message(
        session, cid, sender="bot", text="", payload={"type": "product_cards", "items": []}, now=NOW
    )
    assert created and bot["seq"] == 4 and bot["payload"]["type"] == "product_cards"
    after = conversations.messages_after(session, cid, after_seq=1)
    assert [(m["seq"], m["text"]) for m in after] == [(2, "我的订单到哪了"), (3, "谢谢"), (4, "")]
    assert conversations.get_conversation(session, cid)["last_seq"] == 4


def test_resending_the_same_client_id_returns_the_stored_message(session: Session, members: Members) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    first, created = conversations.append_message(session, cid, sender="member", text="在吗", client_id="u-1")
    again, created_again = conversations.append_message(session, cid, sender="member", text="在吗", client_id="u-1")
    assert (created, created_again) == (True, False)
    assert again == first
    assert _count_messages(session, cid) == 1
    nxt, _ = conversations.append_message(session, cid, sender="member", text="人呢", client_id="u-2")
    assert nxt["seq"] == 2  # the resend used no number


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"sender": "member", "text": "x" * 2001}, "too_long"),
        ({"sender": "member", "text": "   "}, "empty"),
        ({"sender": "robot", "text": "hi"}, "bad_sender"),
        ({"sender": "member", "text": "hi", "client_id": "x" * 65}, "bad_client_id"),
        ({"sender": "agent", "text": "hi"}, "no_agent"),
    ],
)
def test_bad_messages_are_refused_with_a_code(
    session: Session, members: Members, kwargs: dict[str, Any], code: str
) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    with pytest.raises(DeskError) as refused:
        conversations.append_message(session, cid, **kwargs)
    assert refused.value.code == code
    assert _count_messages(session, cid) == 0


def test_agent_messages_carry_the_agent_name(session: Session, members: Members, agent_ids: dict[str, int]) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    message, _ = conversations.append_message(session, cid, sender="agent", text="您好", agent_id=agent_ids["agent1"])
    assert message["agent_name"] == "小王"
    assert conversations.messages_after(session, cid)[0]["agent_name"] == "小王"


def test_nlu_results_are_stored_on_the_member_message(session: Session, members: Members) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    message, _ = conversations.append_message(session, cid, sender="member", text="气死我了")
    sentiment = {"polarity": "negative", "emotion": "anger", "score": 0.93}
    updated = conversations.update_message_nlu(session, message["id"], intent="complain", sentiment=sentiment)
    assert (updated["intent"], updated["sentiment"]) == ("complain", sentiment)
    assert conversations.messages_after(session, cid)[0]["sentiment"]["emotion"] == "anger"
    with pytest.raises(DeskError):
        conversations.update_message_nlu(session, 10**9, intent=None, sentiment=None)


def test_language_switch_is_stored(session: Session, members: Members) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    assert conversations.set_language(session, cid, "en")["language"] == "en"
    with pytest.raises(DeskError):
        conversations.set_language(session, cid, "fr")


def _append_concurrently(db: Db, cid: str, jobs: list[tuple[str, str | None]]) -> list[tuple[int, bool]]:
    """Each job (text, client_id) appends in its own session and commits; threads start together."""
    barrier = threading.Barrier(min(len(jobs), 8))

    def work(job: tuple[str, str | None]) -> tuple[int, bool]:
        text, client_id = job
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        with db.factory() as s:
            message, created = conversations.append_message(s, cid, sender="member", text=text, client_id=client_id)
            s.commit()
            return message["seq"], created

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(work, jobs))


def test_concurrent_appends_get_distinct_gapless_seqs_in_commit_order(fresh_db: Db, members: Members) -> None:
    with fresh_db.factory() as s:
        cid = conversations.open_conversation(s, member_id=members.with_orders, visitor_id=None)["conversation_id"]
        s.commit()
    results = _append_concurrently(fresh_db, cid, [(f"m{i}", f"c{i}") for i in range(40)])
    seqs = sorted(seq for seq, _ in results)
    assert seqs == list(range(1, 41))
    with fresh_db.factory() as s:
        stored = conversations.messages_after(s, cid)
        assert [m["seq"] for m in stored] == list(range(1, 41))
        assert sorted(m["client_id"] for m in stored) == sorted(f"c{i}" for i in range(40))
        assert conversations.get_conversation(s, cid)["last_seq"] == 40


def test_concurrent_resends_of_one_message_store_it_once(fresh_db: Db, members: Members) -> None:
    with fresh_db.factory() as s:
        cid = conversations.open_conversation(s, member_id=members.with_orders, visitor_id=None)["conversation_id"]
        s.commit()
    results = _append_concurrently(fresh_db, cid, [("同一条", "same-id")] * 8)
    assert {seq for seq, _ in results} == {1}
    assert sum(created for _, created in results) == 1
    with fresh_db.factory() as s:
        assert _count_messages(s, cid) == 1
