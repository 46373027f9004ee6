"""Rasa goes down (SIGKILL) and comes back: the conversation survives in the SQL tracker store.

While Rasa is down the web app stores and acks every member message (nothing is lost: it is in
``chat_messages`` once) and tells the member politely to try again (the ``bot_unavailable`` error
frame: 智能助手暂时无法回复，请稍后再试). Those messages are not replayed to Rasa later (an answer
minutes late to a question the member may have moved on from would confuse more than help); the
member retries, and the retry is answered. After the restart the tracker's slots and events equal
those before the crash.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.faults.helpers import FaultStack, events_of, member_socket, say, slots_of

pytestmark = pytest.mark.faults

MEMBER = "M100005"


def test_rasa_restart_keeps_conversation_state(fault_stack: FaultStack) -> None:
    asyncio.run(_scenario(fault_stack))


async def _scenario(fault: FaultStack) -> None:
    member = await member_socket(fault.web_url, MEMBER)
    try:
        for text in ("你好", "我还有多少积分", "我的快递到哪了"):
            said = await say(member, text)
            assert said.answer is not None and said.answer["sender"] == "bot", (text, said)
        cid = member.conversation_id
        before = fault.tracker(cid)
        assert slots_of(before)["member_id"] == MEMBER
        said_before = [e["text"] for e in before["events"] if e["event"] == "user"]
        assert said_before[-3:] == ["你好", "我还有多少积分", "我的快递到哪了"]

        fault.stack.kill("rasa")
        try:
            during = await say(member, "我是什么会员等级", timeout=30)
            assert during.seq is not None, "stored and acked although Rasa is down"
            assert during.error is not None and during.error["code"] == "bot_unavailable"
            assert during.error["message_zh"] == "智能助手暂时无法回复，请稍后再试。"
            assert during.error["message_en"].startswith("The assistant cannot answer right now")
            assert "Traceback" not in str(during.error)
            with sqlite3.connect(fault.database_path) as db:
                stored = db.execute("SELECT COUNT(*) FROM chat_messages WHERE client_id = ?",
                                    (during.client_id,)).fetchone()[0]
            assert stored == 1, "the message sent during the outage is stored exactly once"
        finally:
            fault.stack.start_again("rasa")
            await asyncio.to_thread(fault.stack.wait_ready, 300)  # the member socket stays served meanwhile

        after = fault.tracker(cid)
        assert slots_of(after) == slots_of(before)
        assert events_of(after) == events_of(before), "history after the restart equals the history before"

        retry = await say(member, "我是什么会员等级")
        assert retry.answer is not None and retry.answer["sender"] == "bot", retry
        latest = fault.tracker(cid)
        assert events_of(latest)[:len(events_of(before))] == events_of(before)
        assert not any(e["event"] == "session_started" for e in latest["events"][len(before["events"]):]), \
            "the same session goes on (no new session after the restart)"
        assert slots_of(latest)["member_id"] == MEMBER
        assert len(member.seq_counts) == len(set(member.seq_counts)) and max(member.seq_counts.values()) == 1
    finally:
        await member.close()
