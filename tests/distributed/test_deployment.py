"""End to end through the distributed deployment (``make test-distributed``).

1. A member through nginx's one public port gets the bot's answers over the WebSocket.
2. A member on web replica A and an agent on web replica B: hand-off, claim, and messages both
   ways, which only works when the replicas' fan-out (web/fanout.py) carries the socket events.
3. A Rasa replica is killed between two turns: the conversation goes on on the other replica with
   its tracker intact (shared PostgreSQL tracker store), and the launcher restarts the dead one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import uuid
from typing import Any

import httpx
import psycopg

from bench.web_delivery import AgentClient, MemberClient
from launcher.distributed import Layout
from launcher.stack import ensure_rasa_token
from personalization.settings import Settings
from web.fanout import libpq_conninfo

TIMEOUT_S = 60.0
HANDOFF_TEXT = "转人工客服"
AGENT = ("agent1", "agent1-demo")


def _members(layout: Layout, count: int, offset: int) -> list[str]:
    with psycopg.connect(libpq_conninfo(layout.database_url()), connect_timeout=5) as conn:
        rows = conn.execute("SELECT member_id FROM members ORDER BY member_id OFFSET %s LIMIT %s",
                            (offset, count)).fetchall()
    return [row[0] for row in rows]


async def _token(web_url: str, member_id: str) -> str:
    async with httpx.AsyncClient(base_url=web_url, timeout=TIMEOUT_S) as http:
        response = await http.post("/demo/token", json={"member_id": member_id})
        response.raise_for_status()
        return str(response.json()["token"])


async def _connect_member(web_url: str, member_id: str) -> MemberClient:
    member = MemberClient(member_id)
    await member.connect(web_url.replace("http://", "ws://"), await _token(web_url, member_id))
    return member


async def _bot_turn(member: MemberClient, text: str, *, retries: int = 0) -> tuple[int, int]:
    """Send ``text``; wait for the bot's answer. Returns (seq of the message, bot_unavailable errors seen)."""
    unavailable = 0
    for _attempt in range(retries + 1):
        errors = len(member.errors)
        _, _, seq = await member.send(text)
        answered = await member.wait_for(lambda: bool(member.bot_after(seq)) or len(member.errors) > errors,
                                         timeout=TIMEOUT_S)
        assert answered, f"no bot answer and no error within {TIMEOUT_S:.0f}s for {text!r}"
        if member.bot_after(seq):
            return seq, unavailable
        codes = [e.get("code") for e in member.errors[errors:]]
        assert codes == ["bot_unavailable"], f"unexpected errors: {member.errors[errors:]}"
        unavailable += 1
    raise AssertionError(f"the bot stayed unavailable after {retries} retries")


def test_member_through_nginx_gets_bot_answers(dist_url: str, layout: Layout) -> None:
    async def scenario() -> None:
        member = await _connect_member(dist_url, _members(layout, 1, 0)[0])
        try:
            for text in ("你好", "我还有多少积分"):
                await _bot_turn(member, text)
            assert member.errors == []
            assert all(count == 1 for count in member.seq_counts.values()), "a message arrived twice"
        finally:
            await member.close()

    asyncio.run(scenario())


def test_member_on_replica_a_and_agent_on_replica_b_see_each_other(layout: Layout) -> None:
    web_a, web_b = (f"http://127.0.0.1:{port}" for port in layout.web_ports[:2])

    async def scenario() -> None:
        member = await _connect_member(web_a, _members(layout, 1, 10)[0])
        agent = AgentClient(*AGENT, web_url=web_b)
        await agent.login(web_b.replace("http://", "ws://"))
        handoff_id = None
        try:
            await _bot_turn(member, "你好")
            _, _, seq = await member.send(HANDOFF_TEXT)
            assert await member.wait_for(lambda: any(state == "queued" for _, state in member.states)), \
                f"no hand-off: {[m.get('text') for s, m in sorted(member.messages.items()) if s > seq]}"
            # The queue as replica B sees it (the database), then the claim on B...
            items = [i for i in await agent.queue() if i["conversation_id"] == member.conversation_id]
            assert len(items) == 1, "the queued conversation is not in replica B's queue"
            handoff_id = int(items[0]["handoff_id"])
            assert await agent.claim(handoff_id) is not None
            # ...reaches the member's socket on replica A.
            assert await member.wait_for(lambda: any(
                (m.get("payload") or {}).get("event") == "agent_joined" for m in member.messages.values())), \
                "the member on replica A never heard that the agent (replica B) joined"
            assert await member.wait_for(lambda: any(state == "assigned" for _, state in member.states))

            # Member (A) -> agent (B).
            loop = asyncio.get_running_loop()
            client_id = uuid.uuid4().hex
            arrived = agent.waiters[client_id] = loop.create_future()
            await member.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": "我的订单少了一件"},
                                            ensure_ascii=False))
            await asyncio.wait_for(arrived, TIMEOUT_S)
            # Agent (B) -> member (A).
            marker = "R" + uuid.uuid4().hex[:14]
            await agent.reply(member.conversation_id, f"您好，我来帮您查 #{marker}")
            assert await member.wait_for(lambda: member.marker_counts[marker] >= 1), \
                "the agent's reply (replica B) never reached the member (replica A)"
            await asyncio.sleep(0.5)  # a duplicate would arrive now
            assert member.marker_counts[marker] == 1
            assert agent.received[(member.conversation_id, client_id)] == 1
            assert all(count == 1 for count in member.seq_counts.values()), "a message arrived twice"
        finally:
            if handoff_id is not None:
                await agent.http.post(f"/agent/api/handoffs/{handoff_id}/resolve", headers=agent._csrf)
            await agent.close()
            await member.close()

    asyncio.run(scenario())


def _pid_listening(port: int) -> int | None:
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


def _user_texts(rasa_url: str, token: str, conversation_id: str) -> list[str]:
    response = httpx.get(f"{rasa_url}/conversations/{conversation_id}/tracker", params={"token": token},
                         timeout=TIMEOUT_S)
    response.raise_for_status()
    return [e.get("text") or "" for e in response.json()["events"] if e.get("event") == "user"]


def test_rasa_replica_failover_keeps_the_conversation(layout: Layout) -> None:
    web_a = f"http://127.0.0.1:{layout.web_ports[0]}"
    victim, survivor = layout.rasa_ports[0], layout.rasa_ports[1]
    token = ensure_rasa_token(Settings.from_env())
    texts = ("你好", "我还有多少积分", "我是什么会员等级")
    results: dict[str, Any] = {}

    async def scenario() -> None:
        member = await _connect_member(web_a, _members(layout, 1, 20)[0])
        try:
            for text in texts[:2]:
                await _bot_turn(member, text)
            pid = _pid_listening(victim)
            assert pid is not None, f"no Rasa replica listens on {victim}"
            os.kill(pid, signal.SIGKILL)  # a crash, not a clean shutdown
            killed_at = time.monotonic()
            _, results["unavailable"] = await _bot_turn(member, texts[2], retries=1)
            results["failover_s"] = time.monotonic() - killed_at
            results["conversation_id"] = member.conversation_id
        finally:
            await member.close()

    asyncio.run(scenario())
    print(f"\nfail-over: answered {results['failover_s']:.2f}s after the kill, "
          f"{results['unavailable']} bot_unavailable error(s) on the way")
    # The surviving replica has the whole conversation from the shared tracker store: the two turns
    # before the kill and the one after, last (the member's open conversation may hold earlier
    # runs' turns when the deployment's database is kept between runs).
    said = _user_texts(f"http://127.0.0.1:{survivor}", token, results["conversation_id"])
    assert said[-len(texts):] == list(texts), f"tracker on the surviving replica: {said}"


def test_killed_rasa_replica_is_restarted(layout: Layout) -> None:
    """The launcher restarts the killed replica; it loads the model and answers again."""
    token = ensure_rasa_token(Settings.from_env())
    url = f"http://127.0.0.1:{layout.rasa_ports[0]}/status"
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        try:
            if "model_id" in httpx.get(url, params={"token": token}, timeout=2).text:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise AssertionError(f"Rasa replica on {layout.rasa_ports[0]} not back after 420 s")
