"""The action server crashes (SIGKILL) in the middle of a conversation, then comes back.

Rasa does not fail the turn when a custom action cannot be reached: it logs "Encountered an
exception while running action …  Bot will continue, but the actions events are lost" and answers
with nothing. The web app must not leave the member in silence: an empty bot turn is answered with a
polite system message (系统繁忙，请稍后再试 / in English for English conversations). Once the action
server is back, the same conversation goes on with proper answers and its slots intact.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.helpers import FaultStack, member_socket, say, set_language, slots_of

pytestmark = pytest.mark.faults

MEMBER = "M100003"
IDENTITY_SLOTS = ("member_id", "member_name", "member_tier")


def test_action_server_killed_mid_conversation(fault_stack: FaultStack) -> None:
    asyncio.run(_scenario(fault_stack))


async def _scenario(fault: FaultStack) -> None:
    member = await member_socket(fault.web_url, MEMBER)
    try:
        first = await say(member, "我还有多少积分")
        assert first.answer is not None and first.answer["sender"] == "bot", first
        assert "积分" in first.answer["text"]
        before = slots_of(fault.tracker(member.conversation_id))
        assert before["member_id"] == MEMBER and before["member_name"] and before["member_tier"]

        fault.stack.kill("actions")  # SIGKILL: a crash, not a clean shutdown
        try:
            down = await say(member, "我是什么会员等级")
            assert down.seq is not None, "the member's message is still stored and acked"
            assert down.error is None, down.error
            assert down.answer is not None, "the member must not be left in silence"
            assert down.answer["sender"] == "system"
            assert down.answer["text"] == "系统繁忙，请稍后再试。"
            payload = down.answer["payload"]
            assert payload["event"] == "bot_retry" and payload["text_en"].startswith("The system is busy")
            assert "Traceback" not in str(down.answer)

            await set_language(member, "en")
            down_en = await say(member, "how many points do I have")
            assert down_en.answer is not None and down_en.answer["sender"] == "system"
            assert down_en.answer["text"] == "The system is busy right now; please try again in a moment."
            await set_language(member, "zh")
        finally:
            fault.stack.start_again("actions")
            await asyncio.to_thread(fault.stack.wait_ready, 120)

        again = await say(member, "我是什么会员等级")
        assert again.answer is not None and again.answer["sender"] == "bot", again
        assert again.answer["text"] != "系统繁忙，请稍后再试。"
        after = slots_of(fault.tracker(member.conversation_id))
        assert {k: after[k] for k in IDENTITY_SLOTS} == {k: before[k] for k in IDENTITY_SLOTS}
        assert "Encountered an exception while running action" in fault.log("rasa")
    finally:
        await member.close()
