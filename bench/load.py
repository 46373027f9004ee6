"""Load: 100 concurrent members for 5 minutes through the member socket, counted end to end.

Run with ``make bench-load`` (``BENCH_LOAD_ARGS="--members 20 --duration 60"`` passes options).
Loopback only and bounded (``--members`` ≤ 199, ``--duration`` ≤ 1800 s).

By default it starts its own isolated stack the way ``bench/web_delivery.py`` does (Rasa + action
server + web app on free ports, a seeded SQLite database of 200 members in a temp directory: the
*embedded default*). With ``--target-url`` it drives an already running web app instead (e.g. the
nginx front of the distributed deployment), with ``--database-url`` to check its ``chat_messages``
afterwards, and measures the CPU of the local processes it recognises by command line.

Each member keeps one ``/ws/chat`` socket and plays realistic scripts one after the other
(``bench/demo_scripts.py``: points, coupons and 领取 clicks, recommendations and 换一批, orders,
returns, tiers, complaints, chitchat, questions the bot was never taught, ~15% English, ~15% of the
sockets anonymous visitors), pausing ``--think MIN MAX`` seconds before each message. A hand-off
(anger, two fallbacks, asking for a human) is left at once (``cancel_handoff``), so the member goes
on with the bot.

Counted end to end, for every member message: acked exactly once (the ``ack`` frame) and answered
(a bot message, or the "please retry" system message, with a higher ``seq`` before the member's
next message). *lost* = a message without an ack or without an answer in the end; *duplicated* = a
second ack, a ``seq`` delivered twice on the socket, or a ``client_id`` stored twice in
``chat_messages``. Afterwards ``chat_messages`` must hold each message once, every conversation's
seqs must be 1..last_seq, and every stored seq must have reached the socket once.

Figures (p50/p95/p99 member → reply latency, throughput, CPU of each process, errors, lost,
duplicated) go to stdout and into ``bench/results/load.json`` under ``--label`` (default
``embedded_default``, or ``distributed`` with ``--target-url``), beside the other labels already
there, so the two deployments print side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import httpx
from tqdm import tqdm

from bench.demo_scripts import ConversationPlan, plan_conversation
from bench.demo_traffic import _button
from bench.web_delivery import (
    BOT_SCRIPT,
    MemberClient,
    _check_database,
    _member_ids,
    _percentile,
    _seed,
    _socket_completeness,
    member_token,
)
from launcher.stack import Stack, isolated_settings
from personalization.settings import PROJECT_ROOT, Settings
from web.signing import ensure_web_secret

RESULTS = PROJECT_ROOT / "bench" / "results" / "load.json"
THINK_SECONDS = (3.0, 10.0)
VISITOR_SHARE = 0.15
SEED = 20261122
# How long one message may take to be acked and answered before it counts as unanswered (it is
# re-checked once more at the end, after the drain).
REPLY_TIMEOUT_S = 60.0
DRAIN_S = 10.0
ANSWER_SENDERS = ("bot", "system")
# Local processes of a deployment (``--target-url``), recognised by their command line.
PROCESS_PATTERNS: dict[str, tuple[str, ...]] = {
    "web": ("-m web", "uvicorn web"),
    "rasa": ("rasa_ext", "bin/rasa run"),
    "actions": ("rasa_sdk",),
    "nginx": ("nginx:",),
    "postgres": ("postgres:", "bin/postgres"),
    "redis": ("redis-server",),
    "rabbitmq": ("beam.smp",),
}


def _now() -> float:
    return time.perf_counter()


# -- CPU of the processes --------------------------------------------------------------------------

def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """``pid`` and all its descendants (Rasa or uvicorn may fork helpers)."""
    found, frontier = [pid], [pid]
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    while frontier:
        kids = parents.get(frontier.pop(), [])
        found += kids
        frontier += kids
    return found


def _matching_processes(patterns: dict[str, tuple[str, ...]]) -> dict[str, list[int]]:
    """Role -> pids of the local processes whose command line contains one of the role's patterns."""
    me = os.getpid()
    roles: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        for role, needles in patterns.items():
            if any(needle in cmdline for needle in needles):
                roles.setdefault(role, []).append(int(entry.name))
                break
    return roles


def _parse_pids(specs: list[str]) -> dict[str, list[int]]:
    """``["web=1,2", "rasa=3"]`` -> role -> those pids and their descendants."""
    roles: dict[str, list[int]] = {}
    for spec in specs:
        role, _, pids = spec.partition("=")
        try:
            roles[role.strip()] = [child for pid in pids.split(",") if pid.strip() for child in _children(int(pid))]
        except ValueError:
            raise SystemExit(f"--pids wants ROLE=PID[,PID...], not {spec!r}") from None
    return roles


class ProcessMeter:
    """CPU seconds used by each role's processes (from /proc) and by this client, over a window."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = roles
        self._start: dict[str, float] = {}
        self._started = 0.0

    def _sample(self) -> dict[str, float]:
        sample = {}
        for role, pids in self.roles.items():
            sample[role] = sum(cpu for cpu in (_proc_cpu(pid) for pid in pids) if cpu is not None)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        sample["bench_client"] = usage.ru_utime + usage.ru_stime
        return sample

    def start(self) -> None:
        self._start, self._started = self._sample(), _now()

    def stop(self) -> dict[str, Any]:
        end, wall = self._sample(), max(_now() - self._started, 1e-9)
        used = {role: round(end[role] - self._start.get(role, 0.0), 1) for role in end}
        return {"cpu_s": used, "cpu_pct_of_one_core": {role: round(100 * s / wall, 1) for role, s in used.items()},
                "processes": {role: len(pids) for role, pids in self.roles.items()},
                "load_average_1min": round(os.getloadavg()[0], 2)}


# -- one member ------------------------------------------------------------------------------------

@dataclass
class Turn:
    """One member message and what became of it."""

    client_id: str
    scenario: str
    sent_at: float
    acked_seq: int | None = None
    answer_seq: int | None = None
    answer: str = ""  # bot | retry (system "please retry") | system | error:<code> | "" (none)
    latency_ms: float | None = None


@dataclass
class LoadMember:
    """A member (or visitor) socket playing scripts until the deadline."""

    client: MemberClient
    visitor: bool
    turns: list[Turn] = field(default_factory=list)
    handoffs_left: int = 0
    clicks_skipped: int = 0
    language: str = "zh"

    async def say(self, text: str, payload: str | None, scenario: str) -> Turn:
        """Send one message; wait for its ack (or an error frame) and its answer."""
        member = self.client
        client_id = uuid.uuid4().hex
        errors = len(member.errors)
        member.ack_waiters[client_id] = asyncio.get_running_loop().create_future()
        turn = Turn(client_id=client_id, scenario=scenario, sent_at=_now())
        self.turns.append(turn)
        await member.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text,
                                         "payload": payload}, ensure_ascii=False))
        await member.wait_for(lambda: client_id in member.acks or len(member.errors) > errors, REPLY_TIMEOUT_S)
        if client_id not in member.acks:
            if len(member.errors) > errors:
                turn.answer = f"error:{member.errors[errors].get('code')}"
            return turn
        seq = turn.acked_seq = _ack_seq(member, client_id)

        def answered() -> bool:
            return _first_answer(member, seq) is not None or len(member.errors) > errors

        await member.wait_for(answered, REPLY_TIMEOUT_S)
        first = _first_answer(member, seq)
        if first is not None:
            turn.answer_seq = first
            turn.answer = _answer_kind(member.messages[first])
            turn.latency_ms = (member.arrivals[first] - turn.sent_at) * 1000
        elif len(member.errors) > errors:
            turn.answer = f"error:{member.errors[errors].get('code')}"
        return turn

    async def leave_queue(self) -> None:
        """A hand-off happened: leave the queue and carry on with the bot."""
        member = self.client
        states = len(member.states)
        await member.ws.send(json.dumps({"type": "cancel_handoff"}))
        await member.wait_for(lambda: any(s not in ("queued", "assigned") for _, s in member.states[states:]), 30)
        self.handoffs_left += 1

    async def set_language(self, language: str) -> None:
        if language != self.language:
            await self.client.ws.send(json.dumps({"type": "language", "language": language}))
            self.language = language


def _ack_seq(member: MemberClient, client_id: str) -> int:
    waiter = member.ack_waiters.get(client_id)
    if waiter is not None and waiter.done():
        return int(waiter.result())
    # MemberClient resolves waiters only for the ids it registered; find the seq from the stored copy.
    for seq, message in member.messages.items():
        if message.get("client_id") == client_id:
            return seq
    return -1


def _first_answer(member: MemberClient, seq: int) -> int | None:
    """The first bot/system message after the member message ``seq`` (the member waits for it)."""
    later = [s for s, m in member.messages.items() if s > seq and m["sender"] in ANSWER_SENDERS]
    return min(later) if later else None


def _answer_kind(message: dict[str, Any]) -> str:
    if message["sender"] == "bot":
        return "bot"
    event = (message.get("payload") or {}).get("event")
    return "retry" if event == "bot_retry" else f"system:{event}"


def _state(member: MemberClient) -> str:
    return member.states[-1][1] if member.states else "bot"


def _plans(index: int, seed: int) -> Iterable[ConversationPlan]:
    """Member ``index``'s scripts, one after the other (deterministic)."""
    number = 0
    while True:
        yield plan_conversation(seed, index * 10_000 + number)
        number += 1


async def _play(member: LoadMember, index: int, seed: int, deadline: float, think: tuple[float, float],
                counts: Counter[str]) -> None:
    rng = random.Random(f"load:{seed}:{index}")
    await asyncio.sleep(rng.uniform(0, think[1]))  # members arrive spread over one think time
    for plan in _plans(index, seed):
        await member.set_language(plan.language)
        for step in plan.steps:
            await asyncio.sleep(rng.uniform(*think))
            if _now() >= deadline:
                return
            payload, text = None, step.text
            if step.click:
                last = [m for s, m in sorted(member.client.messages.items()) if m["sender"] == "bot"][-3:]
                button = _button(last, step)
                if button is None or (member.visitor and step.click == "claim"):
                    member.clicks_skipped += 1
                    continue
                payload, text = str(button.get("payload") or ""), str(button.get("title") or "")
            turn = await member.say(text, payload, plan.scenario)
            counts[turn.answer or "none"] += 1
            await asyncio.sleep(0.2)  # the state frame of a hand-off follows the bot's message
            if _state(member.client) in ("queued", "assigned"):
                await member.leave_queue()
                break


# -- the run ---------------------------------------------------------------------------------------

async def _tokens(web: httpx.AsyncClient, member_ids: list[str], visitors: int,
                  secret: str | None) -> list[tuple[str, bool]]:
    """(token, is a visitor) of each socket: one per member id (each its own conversation), then visitors."""
    return [(await member_token(web, member_id, secret), member_id is None)
            for member_id in [*member_ids, *([None] * visitors)]]


async def _run(web_url: str, member_ids: list[str], warm_member: str | None, members: int, duration: float,
               think: tuple[float, float], seed: int, meter: ProcessMeter, secret: str | None) -> dict[str, Any]:
    ws_url = "ws" + web_url[len("http"):]
    visitors = max(round(members * VISITOR_SHARE), members - len(member_ids))
    async with httpx.AsyncClient(base_url=web_url, timeout=REPLY_TIMEOUT_S) as web:
        tokens = await _tokens(web, member_ids[:members - visitors], visitors, secret)
        if warm_member is not None:  # every code path once before the measurement
            warm_token = (await _tokens(web, [warm_member], 0, secret))[0][0]
            warm = LoadMember(MemberClient(warm_member), visitor=False)
            await warm.client.connect(ws_url, warm_token)
            for text in BOT_SCRIPT:
                await warm.say(text, None, "warm-up")
            await warm.client.close()

    players = [LoadMember(MemberClient(f"m{i}"), visitor=visitor) for i, (_, visitor) in enumerate(tokens)]
    for player, (token, _) in zip(players, tokens):
        await player.client.connect(ws_url, token)
    counts: Counter[str] = Counter()
    progress = tqdm(total=int(duration), desc=f"load {len(players)} members", unit="s")

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1.0)
            turns = [t for p in players for t in p.turns]
            latencies = [t.latency_ms for t in turns if t.latency_ms is not None and t.answer == "bot"]
            p95 = f"{_percentile(latencies, 95):.0f}ms" if latencies else "-"
            progress.set_postfix_str(f"sent {len(turns)} answered {sum(1 for t in turns if t.answer_seq)} p95 {p95}",
                                     refresh=False)
            if progress.n < progress.total:
                progress.update(1)

    meter.start()
    started = _now()
    tick = asyncio.create_task(ticker())
    deadline = started + duration
    await asyncio.gather(*(_play(p, i, seed, deadline, think, counts) for i, p in enumerate(players)))
    played = _now() - started
    cpu = meter.stop()
    tick.cancel()
    progress.close()
    await asyncio.sleep(DRAIN_S)  # late (duplicate) frames, if any, still get counted
    result = _tally(players, played, duration, cpu)
    result["visitors"] = sum(1 for p in players if p.visitor)
    result["answers"] = dict(counts.most_common())
    result["_players"] = players
    for player in players:
        await player.client.close()
    return result


def _tally(players: list[LoadMember], played: float, duration: float, cpu: dict[str, Any]) -> dict[str, Any]:
    turns = [t for p in players for t in p.turns]
    # Re-check at the end: an answer that came after the member stopped waiting still counts.
    for player in players:
        for turn in player.turns:
            if turn.acked_seq is None and turn.client_id in player.client.acks:
                turn.acked_seq = _ack_seq(player.client, turn.client_id)
            if turn.acked_seq is not None and turn.answer_seq is None:
                turn.answer_seq = _first_answer(player.client, turn.acked_seq)
                if turn.answer_seq is not None:
                    turn.answer = _answer_kind(player.client.messages[turn.answer_seq])
    acks = [p.client.acks[t.client_id] for p in players for t in p.turns]
    bot_latencies = [t.latency_ms for t in turns if t.latency_ms is not None and t.answer == "bot"]
    answered = [t for t in turns if t.answer_seq is not None]
    # Lost: neither acked-and-answered nor refused with an error frame (the member was told nothing).
    lost = sum(1 for t, n in zip(turns, acks) if (n == 0 or t.answer_seq is None) and not t.answer.startswith("error:"))
    dup_acks = sum(n - 1 for n in acks if n > 1)
    dup_seqs = sum(n - 1 for p in players for n in p.client.seq_counts.values() if n > 1)
    error_codes = Counter(str(e.get("code")) for p in players for e in p.client.errors)
    return {
        "duration_s": round(played, 1),
        "member_messages": {
            "sent": len(turns),
            "acked_once": sum(1 for n in acks if n == 1),
            "answered": len(answered),
            "answered_by_bot": sum(1 for t in answered if t.answer == "bot"),
            "answered_retry_notice": sum(1 for t in answered if t.answer == "retry"),
            "answered_error_frame": sum(1 for t in turns if t.answer_seq is None and t.answer.startswith("error:")),
            "lost": lost,
            "duplicated_acks": dup_acks,
            "duplicated_seq_deliveries": dup_seqs,
        },
        "latency_ms": {
            "what": "member sends on /ws/chat -> the bot's answer arrives on the member socket",
            "samples": len(bot_latencies),
            **({f"p{q}": round(_percentile(bot_latencies, q), 1) for q in (50, 95, 99)} if bot_latencies else {}),
            "max": round(max(bot_latencies), 1) if bot_latencies else None,
        },
        "throughput": {
            "member_messages_per_s": round(len(turns) / played, 2) if played else None,
            "bot_answers_per_s": round(len(bot_latencies) / played, 2) if played else None,
        },
        "handoffs_left_queue": sum(p.handoffs_left for p in players),
        "clicks_without_button": sum(p.clicks_skipped for p in players),
        "error_frames": dict(error_codes.most_common()),
        **cpu,
    }


def _database_check(database_url: str, players: list[LoadMember]) -> dict[str, Any]:
    settings = replace(Settings.from_env(), database_url=database_url)
    clients = [p.client for p in players]
    sent = [(p.client.conversation_id, t.client_id) for p in players for t in p.turns if p.client.acks[t.client_id]]
    database = _check_database(settings, clients, sent, [])
    sockets = _socket_completeness(clients, database.pop("_db_seqs"))
    keep = ("rows_in_bench_conversations", "member_messages_sent", "member_messages_stored_once",
            "member_messages_missing", "member_messages_duplicated", "conversations_with_seq_gaps")
    return {"chat_messages": {k: database[k] for k in keep}, "member_sockets": sockets}


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_average_1min_before": round(os.getloadavg()[0], 2)}


def _finish(result: dict[str, Any], database_url: str | None) -> dict[str, Any]:
    players = result.pop("_players")
    if database_url:
        result["database"] = _database_check(database_url, players)
    else:
        result["database"] = {"skipped": "no --database-url: chat_messages not checked"}
    messages = result["member_messages"]
    database = result["database"]
    db_dup = database.get("chat_messages", {}).get("member_messages_duplicated", 0)
    db_lost = database.get("chat_messages", {}).get("member_messages_missing", 0)
    sockets = database.get("member_sockets", {})
    result["end_to_end"] = {
        "lost": messages["lost"] + db_lost + sockets.get("lost", 0),
        "duplicated": messages["duplicated_acks"] + messages["duplicated_seq_deliveries"] + db_dup
        + sockets.get("duplicated", 0),
    }
    return result


def _own_stack(args: argparse.Namespace, think: tuple[float, float]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        settings = replace(isolated_settings(Settings.from_env(), tmp_dir, "load"),
                           database_url=f"sqlite:///{tmp_dir / 'shop.db'}", var_dir=str(tmp_dir),
                           log_level="WARNING")
        print("seeding 200 members and starting Rasa + actions + web app…", file=sys.stderr)
        _seed(settings)
        ids = _member_ids(settings, args.members + 1)
        with Stack(settings, tmp_dir / "logs") as stack:
            stack.wait_ready(timeout=300)
            roles = {name: _children(pid) for name, pid in stack.pids().items()}
            try:
                result = asyncio.run(_run(stack.web_url, ids[1:], ids[0], args.members, args.duration, think,
                                          args.seed, ProcessMeter(roles), ensure_web_secret(settings)))
            except Exception:
                print(stack.log_tails(), file=sys.stderr)
                raise
            result = _finish(result, settings.database_url)
            logs = {name: (tmp_dir / "logs" / f"{name}.log").read_text(encoding="utf-8", errors="replace")
                    for name in ("web", "rasa", "actions") if (tmp_dir / "logs" / f"{name}.log").exists()}
        result["log_tracebacks"] = {name: text.count("Traceback") for name, text in logs.items()}
        result["deployment"] = ("embedded default: 1 web app (SQLite, in-process hub) + 1 Rasa (SQLite tracker "
                                "store and event broker) + 1 action server, own stack on free loopback ports")
    return result


def _target(args: argparse.Namespace, think: tuple[float, float]) -> dict[str, Any]:
    web_url = args.target_url.rstrip("/")
    host = httpx.URL(web_url).host
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"--target-url must be on loopback (127.0.0.1/localhost), not {host}")
    try:
        httpx.get(f"{web_url}/healthz", timeout=5).raise_for_status()
        listed = httpx.get(f"{web_url}/demo/members", timeout=10)
    except httpx.HTTPError as exc:
        raise SystemExit(f"{web_url} does not answer /healthz or /demo/members (WEB_DEMO=1 needed): {exc}") from None
    if args.database_url:
        ids = _member_ids(replace(Settings.from_env(), database_url=args.database_url), args.members + 1)
    else:
        # Only the demo members are known without the database: the other sockets are visitors.
        ids = [item["member_id"] for item in listed.json().get("items", [])]
    roles = _parse_pids(args.pids) if args.pids else _matching_processes(PROCESS_PATTERNS)
    result = asyncio.run(_run(web_url, ids[1:], ids[0] if ids else None, args.members, args.duration, think,
                              args.seed, ProcessMeter(roles), args.web_secret or None))
    result = _finish(result, args.database_url)
    result["deployment"] = args.deployment or f"web app at {web_url}"
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100, help="concurrent member sockets (default 100)")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--think", type=float, nargs=2, default=THINK_SECONDS, metavar=("MIN", "MAX"),
                        help="seconds a member pauses before each message (default 3 10)")
    parser.add_argument("--seed", type=int, default=SEED, help="the scripts' random seed")
    parser.add_argument("--target-url", default="",
                        help="drive this running web app (loopback) instead of an own stack")
    parser.add_argument("--database-url", default="",
                        help="with --target-url: the deployment's member database (members, chat_messages check)")
    parser.add_argument("--label", default="", help="key in the results file (default embedded_default / distributed)")
    parser.add_argument("--deployment", default="", help="with --target-url: a one-line description of what runs")
    parser.add_argument("--web-secret", default="",
                        help="with --target-url: the deployment's WEB_SECRET, to sign member tokens here "
                             "(else POST /demo/token, rate limited per IP)")
    parser.add_argument("--pids", nargs="*", default=[], metavar="ROLE=PID[,PID…]",
                        help="with --target-url: the deployment's processes (e.g. web=123,124 rasa=130); default: "
                             "every local process whose command line looks like one (other stacks on the machine too)")
    parser.add_argument("--note", default="", help="what else ran on the machine (goes into the JSON)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file (other labels in it are kept)")
    args = parser.parse_args(argv)
    if not 1 <= args.members <= 199:
        parser.error("--members must be 1..199")
    if not 5 <= args.duration <= 1800:
        parser.error("--duration must be 5..1800 seconds")
    think = (float(args.think[0]), float(args.think[1]))
    if not 0 <= think[0] <= think[1] <= 120:
        parser.error("--think needs 0 <= MIN <= MAX <= 120")
    label = args.label or ("distributed" if args.target_url else "embedded_default")
    machine = _machine()
    if args.target_url:
        result = _target(args, think)
    else:
        if args.database_url:
            parser.error("--database-url goes with --target-url")
        model = Path(Settings.from_env().rasa_model)
        if not model.exists():
            parser.error(f"no trained model at {model}: run `make setup` first")
        result = _own_stack(args, think)
    result = {"members": args.members, "think_s": list(think),
              "seed": args.seed, "machine": {**machine, "load_average_1min_after": round(os.getloadavg()[0], 2)},
              "note": args.note, **result}
    runs: dict[str, Any] = {}
    if args.out.exists():
        try:
            runs = json.loads(args.out.read_text(encoding="utf-8")).get("runs", {})
        except (ValueError, AttributeError):
            runs = {}
    runs[label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_table(runs)
    print(f"written to {args.out} (label {label})")
    clean = result["end_to_end"]["lost"] == 0 and result["end_to_end"]["duplicated"] == 0
    print(f"lost 0 and duplicated 0: {'met' if clean else 'NOT met'}")
    if not clean:
        sys.exit(1)


def print_table(runs: dict[str, Any]) -> None:
    """The runs in the results file side by side (one column each)."""
    labels = list(runs)

    def cell(run: dict[str, Any], path: str) -> str:
        value: Any = run
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return "-"
        return f"{value:,.1f}" if isinstance(value, float) else str(value)

    rows = [("members / visitors", None), ("think (s)", "think_s"), ("duration (s)", "duration_s"),
            ("messages sent", "member_messages.sent"), ("acked once", "member_messages.acked_once"),
            ("answered by the bot", "member_messages.answered_by_bot"),
            ("answered 'please retry'", "member_messages.answered_retry_notice"),
            ("p50 ms", "latency_ms.p50"), ("p95 ms", "latency_ms.p95"), ("p99 ms", "latency_ms.p99"),
            ("max ms", "latency_ms.max"), ("messages/s", "throughput.member_messages_per_s"),
            ("lost (end to end)", "end_to_end.lost"), ("duplicated (end to end)", "end_to_end.duplicated"),
            ("chat_messages stored once", "database.chat_messages.member_messages_stored_once"),
            ("conversations with seq gaps", "database.chat_messages.conversations_with_seq_gaps"),
            ("hand-offs left (cancel)", "handoffs_left_queue")]
    cpu_roles = sorted({role for run in runs.values() for role in run.get("cpu_s", {})})
    width = max(18, *(len(label) + 2 for label in labels))
    print(f"\nLoad: members on /ws/chat, counted end to end\n{'':<30}" + "".join(f"{lb:>{width}}" for lb in labels))
    for name, path in rows:
        if path is None:
            values = [f"{r.get('members')} / {r.get('visitors')}" for r in runs.values()]
        else:
            values = [cell(r, path) for r in runs.values()]
        print(f"{name:<30}" + "".join(f"{v:>{width}}" for v in values))
    for role in cpu_roles:
        values = [f"{cell(r, 'cpu_s.' + role)} s ({cell(r, 'cpu_pct_of_one_core.' + role)}%)" for r in runs.values()]
        print(f"{'CPU ' + role:<30}" + "".join(f"{v:>{width}}" for v in values))
    errors = ["; ".join(f"{k} {v}" for k, v in (r.get("error_frames") or {}).items()) or "none" for r in runs.values()]
    print(f"{'error frames':<30}" + "".join(f"{v:>{width}}" for v in errors))


if __name__ == "__main__":
    main()
