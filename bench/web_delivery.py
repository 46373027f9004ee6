"""Message delivery through the web app: 50 member WebSockets and 5 agent consoles on the real stack.

Run with ``make bench-web``. Starts the real stack (Rasa + action server + web app) on free ports
with its own seeded SQLite database (200 members, 2,000 orders, the shop recommender trained on it,
the demo agents plus three bench agents), then, in one asyncio process:

- baseline: every member plays a short bot script straight against Rasa's REST channel (no web app);
- phase 1 (bot): the same script over ``/ws/chat``: bot turn latency = member send → the last bot
  message of that turn received on the member's socket;
- phase 2 (handoff): each member asks for a human (转人工客服), the 5 agents claim the queue from
  the console API (``/agent/api/handoffs/{id}/claim``), then member and agent exchange messages:
  member send → the agent's ``/ws/agent`` socket receives it, and agent ``POST …/reply`` → the
  member's socket receives it.

Every message is counted at the other end (by ``client_id`` or a unique marker, and every stored
``seq`` on the member's socket) for losses and duplicates, and ``chat_messages`` is checked to
hold each exactly once. Figures go to stdout and ``bench/results/web_delivery.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy import func, select
from tqdm import tqdm

from launcher.stack import Stack, isolated_settings
from personalization.db import make_engine, session_factory
from personalization.desk.agents import create_agent
from personalization.models import ChatMessage, Conversation, Member
from personalization.settings import PROJECT_ROOT, Settings
from web.tokens import new_visitor_id, sign_member_token

RESULTS = PROJECT_ROOT / "bench" / "results" / "web_delivery.json"
# Seconds a member takes to read the answer and type the next message (as bench/chat_latency.py).
THINK_SECONDS = (1.0, 3.0)
# Seconds an agent takes to read a member message and type the answer.
AGENT_THINK_SECONDS = (0.5, 1.5)
BOT_SCRIPT = ("你好", "我还有多少积分", "有什么适合我的推荐吗", "我的快递到哪了", "我是什么会员等级", "谢谢")
HANDOFF_TEXT = "转人工客服"
DEMO_AGENTS = (("agent1", "agent1-demo"), ("agent2", "agent2-demo"))
BENCH_AGENTS = (("agent3", "小张"), ("agent4", "小赵"), ("agent5", "小刘"))
TIMEOUT_S = 60.0
MARKER_LEN = 15  # "R" + 14 hex characters, unique per agent reply


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"samples": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    return {"samples": len(values), "p50_ms": round(_percentile(values, 50), 1),
            "p95_ms": round(_percentile(values, 95), 1), "max_ms": round(max(values), 1)}


def _now() -> float:
    return time.perf_counter()


class CpuMeter:
    """CPU seconds each stack process (and this client) used during a phase, read from /proc.

    The machine is shared, so latencies move with other people's load; CPU time per turn does not.
    """

    def __init__(self, stack: Stack) -> None:
        # Stack keeps its processes private; a benchmark may look (the pids only, read-only).
        self.pids = {name: process.pid for name, process in stack._processes.items()}
        self._start: dict[str, float] = {}

    @staticmethod
    def _process_cpu(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def _sample(self) -> dict[str, float]:
        sample = {name: self._process_cpu(pid) for name, pid in self.pids.items()}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        sample["bench_client"] = usage.ru_utime + usage.ru_stime
        return sample

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> dict[str, Any]:
        end = self._sample()
        used = {name: round(end[name] - self._start.get(name, 0.0), 2) for name in end}
        return {"cpu_s": used, "load_average_1min": round(os.getloadavg()[0], 2)}


# -- the members' side ------------------------------------------------------------------------

async def _demo_token(web: httpx.AsyncClient, member_id: str | None) -> str:
    """A member token from the demo endpoint, waiting out its per-IP rate limit (``Retry-After``)."""
    for _ in range(30):
        response = await web.post("/demo/token", json={"member_id": member_id} if member_id else {})
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers.get("Retry-After") or 1))
            continue
        response.raise_for_status()
        return str(response.json()["token"])
    raise RuntimeError("/demo/token kept answering 429")


async def member_token(web: httpx.AsyncClient, member_id: str | None, secret: str | None) -> str:
    """A token for ``member_id`` (None: a new visitor).

    With the web app's secret it is signed here, as a shop's login does
    (``web.tokens.sign_member_token``); else it comes from ``POST /demo/token`` (rate limited per IP,
    and every simulated member shares 127.0.0.1).
    """
    if secret:
        return sign_member_token(secret, member_id=member_id, visitor_id=None if member_id else new_visitor_id())
    return await _demo_token(web, member_id)


@dataclass
class MemberClient:
    """One member's ``/ws/chat`` socket; records every frame's arrival time."""

    member_id: str
    ws: Any = None
    conversation_id: str = ""
    seq_counts: Counter[int] = field(default_factory=Counter)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    arrivals: dict[int, float] = field(default_factory=dict)
    acks: Counter[str] = field(default_factory=Counter)
    ack_waiters: dict[str, asyncio.Future[int]] = field(default_factory=dict)
    marker_counts: Counter[str] = field(default_factory=Counter)
    marker_waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    states: list[tuple[float, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def connect(self, ws_url: str, token: str) -> None:
        self.ws = await websockets.connect(f"{ws_url}/ws/chat?token={token}", max_size=2**20, open_timeout=TIMEOUT_S)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
        if hello.get("type") != "hello":
            raise RuntimeError(f"member socket refused: {hello}")
        self.conversation_id = hello["conversation_id"]
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            at = _now()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                message = frame["message"]
                seq = message["seq"]
                self.seq_counts[seq] += 1
                self.messages.setdefault(seq, message)
                self.arrivals.setdefault(seq, at)
                if message["sender"] == "agent":
                    marker = _marker_of(message.get("text") or "")
                    if marker:
                        self.marker_counts[marker] += 1
                        waiter = self.marker_waiters.get(marker)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(at)
            elif kind == "ack":
                client_id = frame["client_id"]
                self.acks[client_id] += 1
                waiter = self.ack_waiters.get(client_id)
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame["seq"])
            elif kind == "state":
                self.states.append((at, frame.get("state")))
            elif kind == "error":
                self.errors.append(frame)
            self.changed.set()

    async def send(self, text: str) -> tuple[str, float, int]:
        """Send a text message; returns (client_id, send time, the seq from the ack)."""
        client_id = uuid.uuid4().hex
        waiter = self.ack_waiters[client_id] = asyncio.get_running_loop().create_future()
        started = _now()
        await self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}, ensure_ascii=False))
        seq = await asyncio.wait_for(waiter, TIMEOUT_S)
        return client_id, started, seq

    async def wait_for(self, predicate: Any, timeout: float = TIMEOUT_S) -> bool:
        """Wait until ``predicate()`` holds (re-checked on every frame); False on timeout."""
        deadline = _now() + timeout
        while not predicate():
            remaining = deadline - _now()
            if remaining <= 0:
                return False
            self.changed.clear()
            if predicate():
                return True
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                return predicate()
        return True

    def bot_after(self, seq: int) -> list[int]:
        return [s for s, m in self.messages.items() if s > seq and m["sender"] == "bot"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def _marker_of(text: str) -> str | None:
    start = text.find("#R")
    return text[start + 1:start + 1 + MARKER_LEN] if start >= 0 else None


async def _bot_script(member: MemberClient, turns: int, think: tuple[float, float], rng: random.Random,
                      progress: tqdm) -> dict[str, Any]:
    """Phase 1 for one member: ``turns`` bot turns; latency to the last bot message of each turn."""
    latencies, no_reply = [], 0
    for index in range(turns):
        await asyncio.sleep(rng.uniform(*think))
        errors = len(member.errors)
        _, started, seq = await member.send(BOT_SCRIPT[index % len(BOT_SCRIPT)])
        if not await member.wait_for(lambda: bool(member.bot_after(seq)) or len(member.errors) > errors):
            no_reply += 1
            progress.update()
            continue
        # All bot messages of a turn are pushed back to back; give the rest of them a moment.
        await asyncio.sleep(0.3)
        last = max((member.arrivals[s] for s in member.bot_after(seq)), default=None)
        if last is None:
            no_reply += 1
        else:
            latencies.append((last - started) * 1000)
        progress.update()
    return {"latencies": latencies, "no_reply": no_reply}


# -- the baseline: Rasa's REST channel, no web app ---------------------------------------------

async def _rest_script(http: httpx.AsyncClient, rasa_url: str, sender: str, member_id: str, turns: int,
                       think: tuple[float, float], rng: random.Random, progress: tqdm) -> list[float]:
    latencies = []
    for index in range(turns):
        await asyncio.sleep(rng.uniform(*think))
        body = {"sender": sender, "message": BOT_SCRIPT[index % len(BOT_SCRIPT)],
                "metadata": {"member_id": member_id, "language": "zh"}}
        started = _now()
        response = await http.post(f"{rasa_url}/webhooks/rest/webhook", json=body)
        response.raise_for_status()
        response.json()
        latencies.append((_now() - started) * 1000)
        progress.update()
    return latencies


# -- the agents' side -------------------------------------------------------------------------

@dataclass
class AgentClient:
    """One agent: logged-in HTTP client (cookies + CSRF header) and the ``/ws/agent`` socket."""

    username: str
    password: str
    web_url: str
    http: httpx.AsyncClient = field(init=False)
    ws: Any = None
    agent_id: int = 0
    # (conversation id, client id) of member messages received on the socket.
    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    owned: dict[str, int] = field(default_factory=dict)  # conversation id -> handoff id
    conflicts: int = 0
    reader: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.web_url, timeout=TIMEOUT_S, follow_redirects=False)

    async def login(self, ws_url: str) -> None:
        page = await self.http.get("/agent/login")
        page.raise_for_status()
        csrf = self.http.cookies.get("desk_csrf")
        response = await self.http.post("/agent/login", data={
            "username": self.username, "password": self.password, "csrf_token": csrf or ""})
        if response.status_code != 303 or "desk_session" not in self.http.cookies:
            raise RuntimeError(f"login of {self.username} failed: HTTP {response.status_code}")
        me = await self.http.get("/agent/api/me")
        me.raise_for_status()
        self.agent_id = int(me.json()["agent_id"])
        cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        self.ws = await websockets.connect(f"{ws_url}/ws/agent", extra_headers={"Cookie": cookie},
                                           max_size=2**22, open_timeout=TIMEOUT_S)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
        if hello.get("type") != "hello":
            raise RuntimeError(f"agent socket refused: {hello}")
        self.reader = asyncio.create_task(self._read())

    @property
    def _csrf(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.http.cookies.get("desk_csrf") or ""}

    async def _read(self) -> None:
        async for raw in self.ws:
            at = _now()
            frame = json.loads(raw)
            if frame.get("type") != "message":
                continue
            message = frame["message"]
            client_id = message.get("client_id")
            if message.get("sender") != "member" or not client_id:
                continue
            self.received[(frame["conversation_id"], client_id)] += 1
            waiter = self.waiters.get(client_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)

    async def queue(self) -> list[dict[str, Any]]:
        response = await self.http.get("/agent/api/queue")
        response.raise_for_status()
        return list(response.json()["items"])

    async def claim(self, handoff_id: int) -> dict[str, Any] | None:
        response = await self.http.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=self._csrf)
        if response.status_code == 409:
            self.conflicts += 1
            return None
        response.raise_for_status()
        return dict(response.json()["handoff"])

    async def open_conversation(self, conversation_id: str) -> dict[str, Any]:
        """What the console loads on opening a conversation: transcript, profile panel, suggestions."""
        response = await self.http.get(f"/agent/api/conversations/{conversation_id}")
        response.raise_for_status()
        return dict(response.json())

    async def reply(self, conversation_id: str, text: str) -> dict[str, Any]:
        response = await self.http.post(f"/agent/api/conversations/{conversation_id}/reply",
                                        json={"text": text}, headers=self._csrf)
        response.raise_for_status()
        return dict(response.json()["message"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        await self.http.aclose()


async def _claim_share(agent: AgentClient, cap: int, members: dict[str, MemberClient], rng: random.Random,
                       claim_latencies: list[float], open_latencies: list[float],
                       notices: list[asyncio.Task[None]]) -> None:
    """Claim queued conversations (in a random order, racing the other agents) until ``cap`` or empty."""
    while len(agent.owned) < cap:
        items = await agent.queue()
        if not items:
            return
        rng.shuffle(items)
        for item in items:
            if len(agent.owned) >= cap:
                return
            cid = item["conversation_id"]
            member = members.get(cid)
            started = _now()
            handoff = await agent.claim(int(item["handoff_id"]))
            if handoff is None:
                continue
            agent.owned[cid] = int(handoff["handoff_id"])
            if member is not None:
                notices.append(asyncio.create_task(_claim_notified(member, started, claim_latencies)))
            opened = _now()
            await agent.open_conversation(cid)
            open_latencies.append((_now() - opened) * 1000)


async def _claim_notified(member: MemberClient, started: float, out: list[float]) -> None:
    """Claim POST → the member's socket shows the "agent joined" system message."""
    def joined() -> int | None:
        for seq, message in member.messages.items():
            if message["sender"] == "system" and (message.get("payload") or {}).get("event") == "agent_joined":
                return seq
        return None
    if await member.wait_for(lambda: joined() is not None):
        out.append((member.arrivals[joined()] - started) * 1000)  # type: ignore[index]


@dataclass
class Exchange:
    member_to_agent: list[float] = field(default_factory=list)
    agent_to_member: list[float] = field(default_factory=list)
    reply_post: list[float] = field(default_factory=list)
    sent_client_ids: list[tuple[str, str]] = field(default_factory=list)  # (conversation, client id)
    sent_markers: list[tuple[str, str]] = field(default_factory=list)  # (conversation, marker)
    timeouts: int = 0


async def _exchange(member: MemberClient, agent: AgentClient, rounds: int, think: tuple[float, float],
                    rng: random.Random, out: Exchange, progress: tqdm) -> None:
    """Phase 2 for one conversation: ``rounds`` member → agent → member round trips."""
    cid = member.conversation_id
    loop = asyncio.get_running_loop()
    for index in range(rounds):
        await asyncio.sleep(rng.uniform(*think))
        client_id = uuid.uuid4().hex
        arrived = agent.waiters[client_id] = loop.create_future()
        waiter = member.ack_waiters[client_id] = loop.create_future()
        started = _now()
        await member.ws.send(json.dumps({"type": "message", "client_id": client_id,
                                         "text": f"我的订单有问题，第{index + 1}条"}, ensure_ascii=False))
        out.sent_client_ids.append((cid, client_id))
        try:
            at = await asyncio.wait_for(arrived, TIMEOUT_S)
            await asyncio.wait_for(waiter, TIMEOUT_S)
            out.member_to_agent.append((at - started) * 1000)
        except asyncio.TimeoutError:
            out.timeouts += 1
        progress.update()

        await asyncio.sleep(rng.uniform(*AGENT_THINK_SECONDS))
        marker = "R" + secrets.token_hex(7)  # 15 chars
        got = member.marker_waiters[marker] = loop.create_future()
        started = _now()
        await agent.reply(cid, f"好的，马上为您查询（{index + 1}）#{marker}")
        posted = _now()
        out.sent_markers.append((cid, marker))
        out.reply_post.append((posted - started) * 1000)
        try:
            at = await asyncio.wait_for(got, TIMEOUT_S)
            out.agent_to_member.append((at - started) * 1000)
        except asyncio.TimeoutError:
            out.timeouts += 1
        progress.update()


# -- the run ----------------------------------------------------------------------------------

def _seed(settings: Settings) -> dict[str, str]:
    """Seed the bench database and add the bench agents; returns username → password of all 5 agents."""
    env = dict(os.environ, DATABASE_URL=settings.database_url, PYTHONPATH=str(PROJECT_ROOT),
               SHOP_VAR_DIR=settings.var_dir)
    # As `make setup` does: seed, then train the shop recommender (else the first recommendation of
    # each process fits it, seconds of CPU that the benchmark would count as latency).
    for command in (["seed", "--members", "200", "--orders", "2000", "--as-of", date.today().isoformat()],
                    ["train-recommender"]):
        result = subprocess.run([sys.executable, "-m", "personalization", *command], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr[-2000:]}")
    passwords = dict(DEMO_AGENTS)
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        for username, name in BENCH_AGENTS:
            password = secrets.token_urlsafe(12)
            create_agent(session, username, name, password, "agent")
            passwords[username] = password
        session.commit()
    engine.dispose()
    return passwords


def _member_ids(settings: Settings, count: int) -> list[str]:
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Member.member_id).order_by(Member.member_id).limit(count)))
    engine.dispose()
    return ids


def _check_database(settings: Settings, members: list[MemberClient], sent_client_ids: list[tuple[str, str]],
                    sent_markers: list[tuple[str, str]]) -> dict[str, Any]:
    """``chat_messages`` holds every sent message exactly once, and each conversation's seqs are 1..last_seq."""
    engine = make_engine(settings)
    cids = [m.conversation_id for m in members]
    with session_factory(engine)() as session:
        rows = session.execute(
            select(Conversation.public_id, ChatMessage.seq, ChatMessage.client_id, ChatMessage.sender, ChatMessage.text)
            .join(ChatMessage, ChatMessage.conversation_id == Conversation.id)
            .where(Conversation.public_id.in_(cids))).all()
        last_seq = dict(session.execute(select(Conversation.public_id, Conversation.last_seq)
                                        .where(Conversation.public_id.in_(cids))).all())
        total = session.scalar(select(func.count()).select_from(ChatMessage))
    engine.dispose()
    by_client = Counter((cid, client_id) for cid, _seq, client_id, _s, _t in rows if client_id)
    by_marker = Counter((cid, _marker_of(text or "")) for cid, _seq, _c, sender, text in rows if sender == "agent")
    seqs: dict[str, list[int]] = defaultdict(list)
    for cid, seq, *_ in rows:
        seqs[cid].append(seq)
    bad_seq = [cid for cid in cids if sorted(seqs[cid]) != list(range(1, last_seq.get(cid, 0) + 1))]
    member_rows = [by_client[key] for key in sent_client_ids]
    agent_rows = [by_marker[key] for key in sent_markers]
    return {
        "rows_in_bench_conversations": len(rows),
        "rows_in_table": total,
        "member_messages_sent": len(sent_client_ids),
        "member_messages_stored_once": sum(1 for n in member_rows if n == 1),
        "member_messages_missing": sum(1 for n in member_rows if n == 0),
        "member_messages_duplicated": sum(1 for n in member_rows if n > 1),
        "agent_replies_sent": len(sent_markers),
        "agent_replies_stored_once": sum(1 for n in agent_rows if n == 1),
        "agent_replies_missing": sum(1 for n in agent_rows if n == 0),
        "agent_replies_duplicated": sum(1 for n in agent_rows if n > 1),
        "conversations_with_seq_gaps": len(bad_seq),
        "_db_seqs": {cid: sorted(s) for cid, s in seqs.items()},
    }


def _socket_completeness(members: list[MemberClient], db_seqs: dict[str, list[int]]) -> dict[str, int]:
    """Every stored message of a conversation reached the member's socket exactly once."""
    lost = duplicated = extra = delivered = 0
    for member in members:
        stored = set(db_seqs.get(member.conversation_id, []))
        lost += len(stored - set(member.seq_counts))
        extra += len(set(member.seq_counts) - stored)
        duplicated += sum(n - 1 for n in member.seq_counts.values() if n > 1)
        delivered += sum(1 for s in stored if member.seq_counts.get(s) == 1)
    return {"stored": sum(len(v) for v in db_seqs.values()), "delivered_once": delivered, "lost": lost,
            "duplicated": duplicated, "unknown_seq": extra}


async def _run(stack: Stack, member_ids: list[str], warm_member: str, passwords: dict[str, str],
               turns: int, rounds: int, think: tuple[float, float], progress: tqdm) -> dict[str, Any]:
    web_url = stack.web_url
    ws_url = "ws" + web_url[len("http"):]
    results: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=len(member_ids) + 5)
    async with httpx.AsyncClient(base_url=web_url, timeout=TIMEOUT_S) as web, \
            httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as rasa_http:
        tokens = {}
        for member_id in [warm_member, *member_ids]:
            response = await web.post("/demo/token", json={"member_id": member_id})
            response.raise_for_status()
            tokens[member_id] = response.json()["token"]

        # Warm-up: every code path once, through both the REST channel and the gateway.
        warm = MemberClient(warm_member)
        await warm.connect(ws_url, tokens[warm_member])
        await _bot_script(warm, len(BOT_SCRIPT), (0.0, 0.0), random.Random(0), tqdm(disable=True))
        await warm.close()
        await asyncio.gather(*(_rest_script(rasa_http, stack.rasa_url, f"warm-{i}", warm_member, 2, (0, 0),
                                            random.Random(i), tqdm(disable=True)) for i in range(3)))

        # Baseline: the same bot-turn load straight to Rasa's REST channel.
        cpu = CpuMeter(stack)
        cpu.start()
        started = _now()
        rest = await asyncio.gather(*(
            _rest_script(rasa_http, stack.rasa_url, f"rest-{member_id}", member_id, turns, think,
                         random.Random(f"b{member_id}"), progress) for member_id in member_ids))
        results["baseline_rest"] = {**_summary([x for row in rest for x in row]),
                                    "turns_per_s": round(sum(map(len, rest)) / (_now() - started), 1),
                                    **cpu.stop()}

        # Phase 1: members connect and chat with the bot over /ws/chat.
        members = [MemberClient(member_id) for member_id in member_ids]
        await asyncio.gather(*(m.connect(ws_url, tokens[m.member_id]) for m in members))
        cpu.start()
        started = _now()
        bot = await asyncio.gather(*(
            _bot_script(m, turns, think, random.Random(f"b{m.member_id}"), progress) for m in members))
        turns_done = sum(len(r["latencies"]) for r in bot)
        results["gateway_bot_turn"] = {**_summary([x for row in bot for x in row["latencies"]]),
                                       "turns_per_s": round(turns_done / (_now() - started), 1),
                                       "no_reply": sum(r["no_reply"] for r in bot), **cpu.stop()}

        # Phase 2: handoff. Agents log in, members ask for a human, agents claim the queue.
        agents = [AgentClient(username, password, web_url) for username, password in passwords.items()]
        for agent in agents:
            await agent.login(ws_url)
        handoff_started: dict[str, float] = {}
        cpu.start()

        async def ask_human(member: MemberClient, rng: random.Random) -> float | None:
            await asyncio.sleep(rng.uniform(*think))
            handoff_started[member.member_id] = _now()
            await member.send(HANDOFF_TEXT)
            queued = await member.wait_for(lambda: any(state == "queued" for _, state in member.states))
            progress.update()
            if not queued:
                return None
            at = next(t for t, state in member.states if state == "queued")
            return (at - handoff_started[member.member_id]) * 1000

        asked = await asyncio.gather(*(ask_human(m, random.Random(f"h{m.member_id}")) for m in members))
        queued_latencies = [x for x in asked if x is not None]
        by_cid = {m.conversation_id: m for m in members}
        claim_latencies: list[float] = []
        open_latencies: list[float] = []
        notices: list[asyncio.Task[None]] = []
        cap = -(-len(members) // len(agents))
        await asyncio.gather(*(_claim_share(agent, cap, by_cid, random.Random(f"c{agent.username}"), claim_latencies,
                                            open_latencies, notices)
                               for agent in agents))
        owners = {cid: agent for agent in agents for cid in agent.owned}
        await asyncio.gather(*notices)  # every "agent joined" notice landed (or timed out)
        progress.update(len(members))
        results["handoff"] = {
            "requested": len(members), "queued": len(queued_latencies), "claimed": len(owners),
            "claims_per_agent": {agent.username: len(agent.owned) for agent in agents},
            "claim_conflicts_409": sum(agent.conflicts for agent in agents),
            "request_to_queued": _summary(queued_latencies),
            "claim_to_member_notified": _summary(claim_latencies),
            "console_opens_conversation": _summary(open_latencies),
            **cpu.stop(),
        }

        # Member <-> agent exchange.
        exchange = Exchange()
        cpu.start()
        await asyncio.gather(*(
            _exchange(m, owners[m.conversation_id], rounds, think, random.Random(f"x{m.member_id}"), exchange, progress)
            for m in members if m.conversation_id in owners))
        exchange_cpu = cpu.stop()
        await asyncio.sleep(1.0)  # late (duplicate) deliveries, if any, still get counted

        # Counting at the other end.
        member_to_agent_sent = Counter(exchange.sent_client_ids)
        owner_received = [owners[cid].received[(cid, client_id)] for cid, client_id in exchange.sent_client_ids]
        leaked = sum(agent.received[(cid, client_id)] for cid, client_id in exchange.sent_client_ids
                     for agent in agents if agent is not owners[cid])
        marker_received = [by_cid[cid].marker_counts[marker] for cid, marker in exchange.sent_markers]
        acked = [by_cid[cid].acks[client_id] for cid, client_id in exchange.sent_client_ids]
        results["member_to_agent"] = {
            **_summary(exchange.member_to_agent), "sent": sum(member_to_agent_sent.values()),
            "received_once": sum(1 for n in owner_received if n == 1),
            "lost": sum(1 for n in owner_received if n == 0),
            "duplicated": sum(n - 1 for n in owner_received if n > 1),
            "acks_once": sum(1 for n in acked if n == 1),
            "seen_by_other_agents": leaked,
        }
        results["agent_to_member"] = {
            **_summary(exchange.agent_to_member), "sent": len(exchange.sent_markers),
            "received_once": sum(1 for n in marker_received if n == 1),
            "lost": sum(1 for n in marker_received if n == 0),
            "duplicated": sum(n - 1 for n in marker_received if n > 1),
            "reply_post": _summary(exchange.reply_post),
        }
        results["exchange_cpu"] = exchange_cpu
        results["timeouts"] = exchange.timeouts
        results["member_errors"] = [e for m in members for e in m.errors][:10]

        database = _check_database(stack.settings, members, exchange.sent_client_ids, exchange.sent_markers)
        results["member_sockets"] = _socket_completeness(members, database.pop("_db_seqs"))
        results["database"] = database
        await asyncio.gather(*(m.close() for m in members))
        for agent in agents:
            await agent.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--turns", type=int, default=4, help="bot turns per member in phase 1 and the baseline")
    parser.add_argument("--rounds", type=int, default=3, help="messages each way per handed-off conversation")
    parser.add_argument("--think", type=float, nargs=2, default=THINK_SECONDS, metavar=("MIN", "MAX"),
                        help="seconds a member pauses before each message (default 1 3)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if not 1 <= args.members <= 199 or args.turns < 1 or args.rounds < 1:
        parser.error("--members must be 1..199, --turns and --rounds at least 1")
    think = (float(args.think[0]), float(args.think[1]))
    if not 0 <= think[0] <= think[1] <= 120:
        parser.error("--think needs 0 <= MIN <= MAX <= 120")
    model = Path(Settings.from_env().rasa_model)
    if not model.exists():
        parser.error(f"no trained model at {model}: run `make setup` first")

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        settings = replace(isolated_settings(Settings.from_env(), tmp_dir, "web"),
                           database_url=f"sqlite:///{tmp_dir / 'shop.db'}", var_dir=str(tmp_dir), log_level="WARNING")
        steps = args.members * (2 * args.turns + 2 + 2 * args.rounds)
        progress = tqdm(total=steps, desc="web delivery", unit="msg")
        progress.set_postfix_str("seeding")
        passwords = _seed(settings)
        ids = _member_ids(settings, args.members + 1)
        progress.set_postfix_str("starting the stack")
        with Stack(settings, tmp_dir / "logs") as stack:
            stack.wait_ready(timeout=300)
            progress.set_postfix_str("")
            try:
                results = asyncio.run(_run(stack, ids[1:], ids[0], passwords, args.turns, args.rounds, think,
                                           progress))
            except Exception:
                print(stack.log_tails(), file=sys.stderr)
                raise
        progress.close()
    results = {"members": args.members, "agents": len(passwords), "bot_turns_per_member": args.turns,
               "messages_each_way": args.rounds, "think_seconds": list(think),
               "agent_think_seconds": list(AGENT_THINK_SECONDS), **results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _print(results, args.out)


def _print(r: dict[str, Any], out: Path) -> None:
    base, gw = r["baseline_rest"], r["gateway_bot_turn"]
    print(f"\nWeb delivery: {r['members']} member WebSockets, {r['agents']} agents "
          f"({r['bot_turns_per_member']} bot turns each, {r['messages_each_way']} messages each way after handoff, "
          f"members pause {r['think_seconds'][0]:g}-{r['think_seconds'][1]:g} s)")
    print(f"{'path':<44}{'samples':>8}{'p50':>10}{'p95':>10}{'max':>10}")

    def row(name: str, s: dict[str, Any]) -> None:
        cells = [f"{s[k]:>8.0f}ms" if s[k] is not None else f"{'-':>10}" for k in ("p50_ms", "p95_ms", "max_ms")]
        print(f"{name:<44}{s['samples']:>8}{''.join(cells)}")

    row("bot turn, Rasa REST channel (baseline)", base)
    row("bot turn, web gateway /ws/chat", gw)
    row("handoff: 转人工客服 → member sees queued", r["handoff"]["request_to_queued"])
    row("handoff: agent claim → member notified", r["handoff"]["claim_to_member_notified"])
    row("console: GET conversation (transcript+panel)", r["handoff"]["console_opens_conversation"])
    row("member → agent socket", r["member_to_agent"])
    row("agent reply POST → member socket", r["agent_to_member"])
    if base["p50_ms"] and gw["p50_ms"]:
        print(f"gateway / REST: p50 {gw['p50_ms'] / base['p50_ms']:.2f}×, p95 {gw['p95_ms'] / base['p95_ms']:.2f}× "
              f"(turns/s {gw['turns_per_s']} vs {base['turns_per_s']}; bot turns without reply: {gw['no_reply']})")
    turns_rest, turns_gw = base["samples"] or 1, gw["samples"] or 1
    print(f"CPU per bot turn: Rasa {base['cpu_s']['rasa'] * 1000 / turns_rest:.0f} ms + actions "
          f"{base['cpu_s']['actions'] * 1000 / turns_rest:.0f} ms (REST) | Rasa "
          f"{gw['cpu_s']['rasa'] * 1000 / turns_gw:.0f} ms + actions {gw['cpu_s']['actions'] * 1000 / turns_gw:.0f} ms"
          f" + web app {gw['cpu_s']['web'] * 1000 / turns_gw:.0f} ms (gateway); load average "
          f"{base['load_average_1min']} / {gw['load_average_1min']}")
    exchanged = r["member_to_agent"]["sent"] + r["agent_to_member"]["sent"]
    if exchanged:
        print(f"CPU per member/agent message after handoff: web app "
              f"{r['exchange_cpu']['cpu_s']['web'] * 1000 / exchanged:.1f} ms")
    h = r["handoff"]
    print(f"handoff: {h['queued']}/{h['requested']} queued, {h['claimed']} claimed "
          f"({', '.join(f'{k} {v}' for k, v in h['claims_per_agent'].items())}; {h['claim_conflicts_409']} lost races)")
    m2a, a2m, sock, db = r["member_to_agent"], r["agent_to_member"], r["member_sockets"], r["database"]
    print(f"member → agent: sent {m2a['sent']}, received once {m2a['received_once']}, lost {m2a['lost']}, "
          f"duplicated {m2a['duplicated']}, acked once {m2a['acks_once']}, "
          f"seen by other agents {m2a['seen_by_other_agents']}")
    print(f"agent → member: sent {a2m['sent']}, received once {a2m['received_once']}, lost {a2m['lost']}, "
          f"duplicated {a2m['duplicated']}")
    print(f"member sockets: {sock['stored']} stored messages, delivered once {sock['delivered_once']}, "
          f"lost {sock['lost']}, duplicated {sock['duplicated']}")
    print(f"chat_messages: member messages stored once "
          f"{db['member_messages_stored_once']}/{db['member_messages_sent']}, "
          f"agent replies {db['agent_replies_stored_once']}/{db['agent_replies_sent']}, "
          f"conversations with seq gaps {db['conversations_with_seq_gaps']}")
    clean = (m2a["lost"] + m2a["duplicated"] + a2m["lost"] + a2m["duplicated"] + sock["lost"] + sock["duplicated"]
             + db["member_messages_missing"] + db["member_messages_duplicated"] + db["agent_replies_missing"]
             + db["agent_replies_duplicated"] + db["conversations_with_seq_gaps"]) == 0
    print(f"lost 0 and duplicated 0: {'met' if clean else 'NOT met'}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
