"""Demo traffic: realistic member conversations through the real system, for the ops dashboard.

Run with ``make demo-traffic`` (``DEMO_TRAFFIC_ARGS="--conversations 300"`` passes options).
It plays ``--conversations`` (default 1,000) scripted conversations, ``--parallel`` (default 8) at
a time, through the web app's member WebSocket (``/ws/chat``, demo tokens from ``POST
/demo/token``), exactly as the widget does: typed messages, button presses (领取 coupon claims,
换一批, the bot's 1-5 rating buttons), the EN switch, leaving the queue. When the dialogue hands a
conversation to a human (anger, two fallbacks in a row, an explicit request), the demo agents
(agent1, agent2) log in to the console API, claim it, reply and resolve it, and the member rates
the agent 1-5 in the widget's CSAT frame. At the end it reads back from the database what was
stored (hand-offs by reason and status, CSAT answers), runs the analytics pipeline once on
``Settings.rasa_events_db`` and prints a summary JSON.

Which system: by default the one ``make run`` serves (the web app at ``http://WEB_HOST:WEB_PORT``,
its database ``DATABASE_URL`` and Rasa's event broker ``RASA_EVENTS_DB``, i.e. ``var/shop.db`` and
``var/rasa_events.db``); it stops with a clear message when that web app does not answer.
``--start-stack`` starts its own Rasa + action server + web app on free ports against the same
configured databases instead (``make run`` need not be up).

The scripts (bench/demo_scripts.py) are drawn from ``--seed`` (conversation *i* depends only on
the seed and *i*): ~15% anonymous visitors, ~15% in English, the intents the bot knows (points,
coupons and claims, recommendations and 换一批, order status, returns, tier benefits, complaints,
thanks), moods (angry → hand-off, anxious about an order, joyful → the rating buttons), ~5%
gibberish pairs (two fallbacks → hand-off) and questions the bot was never taught (for the
dashboard's unrecognized clusters).
Members are taken from those without an open web conversation, so each script is a conversation
of its own. Rasa stamps every event with the time it happens: the dashboard shows this traffic on
today's date; nothing is backdated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from bench.demo_scripts import THINK_SECONDS, ConversationPlan, Step, assign_members, build_plan, plan_mix
from bench.web_delivery import DEMO_AGENTS, TIMEOUT_S, AgentClient, MemberClient, member_token
from launcher.stack import Stack, free_port
from personalization.db import create_schema, make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.models import Conversation, CsatRating, HandoffRequest, Member
from personalization.settings import Settings
from web.signing import ensure_web_secret

DEFAULT_CONVERSATIONS = 1000
DEFAULT_SEED = 20261122
DEFAULT_PARALLEL = 8
# After the first bot message of a turn, the rest of the turn (and a hand-off state) arrives at once.
TURN_GRACE_S = 0.25


# -- playing them -------------------------------------------------------------------------------

@dataclass
class Tally:
    completed: int = 0
    failed: int = 0
    turns: int = 0
    no_reply: int = 0
    clicks: Counter[str] = field(default_factory=Counter)
    clicks_unavailable: Counter[str] = field(default_factory=Counter)
    handoffs_seen: int = 0
    claimed: int = 0
    resolved: int = 0
    cancelled: int = 0
    agent_replies: int = 0
    csat_sent: int = 0
    errors: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)


def _state(member: MemberClient) -> str:
    return member.states[-1][1] if member.states else "bot"


async def _send(member: MemberClient, text: str, payload: str | None = None) -> int:
    """A widget ``message`` frame (with a button's payload, if any); returns the stored seq."""
    client_id = uuid.uuid4().hex
    waiter = member.ack_waiters[client_id] = asyncio.get_running_loop().create_future()
    await member.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text, "payload": payload},
                                    ensure_ascii=False))
    return int(await asyncio.wait_for(waiter, TIMEOUT_S))


def _bot_messages_since(member: MemberClient, seq: int) -> list[dict[str, Any]]:
    return [member.messages[s] for s in sorted(member.messages) if s > seq and member.messages[s]["sender"] == "bot"]


def _button(messages: list[dict[str, Any]], step: Step) -> dict[str, str] | None:
    """The button of the bot's last answer that ``step`` presses, if the bot showed it."""
    buttons = [b for m in messages for b in ((m.get("payload") or {}).get("buttons") or []) if isinstance(b, dict)]
    payload = lambda b: str(b.get("payload") or "")  # noqa: E731
    if step.click == "claim":
        found = [b for b in buttons if payload(b).startswith("/ask_coupons{")]
        return found[step.choice % len(found)] if found else None
    if step.click == "more":
        return next((b for b in buttons if payload(b) == "/ask_recommendation"), None)
    if step.click == "rate":
        return next((b for b in buttons if payload(b).startswith("/rate_service")
                     and f'"{step.score}"' in payload(b)), None)
    if step.click == "decline":
        return next((b for b in buttons if payload(b) == "/deny"
                     or str(b.get("title")) in ("不用了", "No thanks", "No, thanks")), None)
    return None


async def _bot_turn(member: MemberClient, text: str, payload: str | None, tally: Tally) -> int:
    """Send one message and wait for the bot's answer (or a hand-off / error); returns its seq."""
    errors, states = len(member.errors), len(member.states)
    seq = await _send(member, text, payload)
    tally.turns += 1
    answered = await member.wait_for(lambda: bool(member.bot_after(seq)) or len(member.errors) > errors
                                     or len(member.states) > states)
    if not answered:
        tally.no_reply += 1
    await asyncio.sleep(TURN_GRACE_S)
    return seq


class Desk:
    """The demo agents: claim a queued demo conversation, reply, resolve (console API)."""

    def __init__(self, agents: list[AgentClient]) -> None:
        self.agents = agents

    async def claim(self, conversation_id: str, index: int) -> tuple[AgentClient, int] | None:
        """Claim the conversation's queued hand-off (the plan's agent first, the other on a lost race)."""
        order = self.agents[index % len(self.agents):] + self.agents[:index % len(self.agents)]
        for _attempt in range(3):
            for agent in order:
                item = next((i for i in await agent.queue() if i["conversation_id"] == conversation_id), None)
                if item is None:
                    break  # not queued (any more): someone else has it, or it is gone
                if await agent.claim(int(item["handoff_id"])) is not None:
                    await agent.open_conversation(conversation_id)  # what the console loads
                    return agent, int(item["handoff_id"])
            await asyncio.sleep(0.5)
        return None

    @staticmethod
    async def resolve(agent: AgentClient, handoff_id: int) -> None:
        response = await agent.http.post(f"/agent/api/handoffs/{handoff_id}/resolve",
                                         headers={"X-CSRF-Token": agent.http.cookies.get("desk_csrf") or ""})
        response.raise_for_status()


async def _handoff(member: MemberClient, plan: ConversationPlan, desk: Desk, tally: Tally) -> None:
    """Queued: leave the queue, or be claimed, chat with the agent, and rate the agent 1-5."""
    h = plan.handoff
    tally.handoffs_seen += 1
    cid = member.conversation_id
    await asyncio.sleep(h.pickup_s)
    if h.cancel:
        await member.ws.send(json.dumps({"type": "cancel_handoff"}))
        if await member.wait_for(lambda: _state(member) == "bot", 20):
            tally.cancelled += 1
        return
    claimed = await desk.claim(cid, plan.index)
    if claimed is None:
        tally.errors.append(f"conversation {plan.index}: could not claim the hand-off")
        await member.ws.send(json.dumps({"type": "cancel_handoff"}))
        return
    agent, handoff_id = claimed
    tally.claimed += 1
    await member.wait_for(lambda: _state(member) == "assigned")
    for member_text, agent_text, agent_think in zip(h.member_texts, h.agent_texts, h.agent_think_s):
        await asyncio.sleep(plan.steps[0].think_s if plan.steps else 0.5)
        await _send(member, member_text)
        tally.turns += 1
        await asyncio.sleep(agent_think)
        seen = sum(1 for m in member.messages.values() if m["sender"] == "agent")
        await agent.reply(cid, agent_text)
        tally.agent_replies += 1
        await member.wait_for(lambda: sum(1 for m in member.messages.values() if m["sender"] == "agent") > seen)
    await Desk.resolve(agent, handoff_id)
    tally.resolved += 1

    def csat_request() -> dict[str, Any] | None:
        return next((m["payload"] for m in member.messages.values()
                     if (m.get("payload") or {}).get("type") == "csat_request"
                     and (m["payload"].get("handoff_id") == handoff_id)), None)

    if h.csat is not None and await member.wait_for(lambda: csat_request() is not None):
        errors = len(member.errors)
        await member.ws.send(json.dumps({"type": "csat", "score": h.csat, "handoff_id": handoff_id}))
        await asyncio.sleep(0.3)  # the csat_ack (an error frame would say otherwise)
        if len(member.errors) == errors:
            tally.csat_sent += 1


async def play(plan: ConversationPlan, member_id: str | None, web: httpx.AsyncClient, ws_url: str, desk: Desk,
               tally: Tally, secret: str | None = None) -> None:
    """One conversation, as the widget would play it (the token signed with ``secret`` when given,
    as the shop's login would; else from the demo endpoint, waiting out its rate limit)."""
    member = MemberClient(member_id or "visitor")
    await member.connect(ws_url, await member_token(web, member_id, secret))
    tally.conversation_ids.append(member.conversation_id)
    try:
        if plan.language == "en":
            await member.ws.send(json.dumps({"type": "language", "language": "en"}))  # the EN switch
        last_seq = 0
        for step in plan.steps:
            if _state(member) != "bot":
                break  # handed off: the rest of the script is for the agent now
            await asyncio.sleep(step.think_s)
            if step.click:
                button = _button(_bot_messages_since(member, last_seq), step)
                if button is None:
                    tally.clicks_unavailable[step.click] += 1
                    continue
                tally.clicks[step.click] += 1
                last_seq = await _bot_turn(member, str(button.get("title") or button["payload"]), button["payload"],
                                           tally)
            else:
                last_seq = await _bot_turn(member, step.text, None, tally)
        if _state(member) in ("queued", "assigned"):
            await _handoff(member, plan, desk, tally)
    finally:
        await member.close()


async def _play_all(plans: list[ConversationPlan], members: dict[int, str | None], web_url: str, parallel: int,
                    progress: tqdm, secret: str | None = None) -> Tally:
    tally = Tally()
    ws_url = "ws" + web_url[len("http"):]
    gate = asyncio.Semaphore(parallel)
    member_locks: dict[str, asyncio.Lock] = {}
    agents = [AgentClient(username, password, web_url) for username, password in DEMO_AGENTS]
    async with httpx.AsyncClient(base_url=web_url, timeout=TIMEOUT_S) as web:
        probe = await web.post("/demo/token", json={})
        if probe.status_code != 200:
            raise DemoTrafficError(
                f"网页服务不发放演示令牌（HTTP {probe.status_code}，WEB_DEMO=0？）/ the web app hands out no demo "
                f"member tokens (HTTP {probe.status_code}; WEB_DEMO=0?): demo traffic needs WEB_DEMO=1")
        for agent in agents:
            try:
                await agent.login(ws_url)
            except (RuntimeError, httpx.HTTPError) as exc:
                raise DemoTrafficError(
                    f"演示客服 {agent.username} 无法登录（请运行 `python -m personalization agents --demo`）/ "
                    f"demo agent {agent.username} cannot log in (run `python -m personalization agents --demo`): {exc}"
                ) from None
        desk = Desk(agents)

        async def one(plan: ConversationPlan) -> None:
            member_id = members[plan.index]
            lock = member_locks.setdefault(member_id, asyncio.Lock()) if member_id else None
            async with gate:
                try:
                    if lock is not None:
                        async with lock:
                            await play(plan, member_id, web, ws_url, desk, tally, secret)
                    else:
                        await play(plan, member_id, web, ws_url, desk, tally, secret)
                    tally.completed += 1
                except Exception as exc:  # one broken conversation must not stop the demo
                    tally.failed += 1
                    if len(tally.errors) < 20:
                        tally.errors.append(f"conversation {plan.index}: {type(exc).__name__}: {exc}")
                progress.update()
                progress.set_postfix(turns=tally.turns, handoffs=tally.handoffs_seen, failed=tally.failed)

        try:
            await asyncio.gather(*(one(plan) for plan in plans))
        finally:
            for agent in agents:
                await agent.close()
    return tally


# -- the command --------------------------------------------------------------------------------

class DemoTrafficError(Exception):
    """The system is not there or not usable; the message is for the person at the terminal."""


def _web_up(web_url: str) -> bool:
    try:
        return httpx.get(f"{web_url}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _member_pools(settings: Settings) -> tuple[list[str], list[str]]:
    """(members without an open web conversation, members with one)."""
    engine = make_engine(settings)
    try:
        with session_factory(engine)() as session:
            everyone = list(session.scalars(select(Member.member_id)))
            busy = set(session.scalars(select(Conversation.member_id).where(
                Conversation.status == "open", Conversation.member_id.is_not(None))))
    finally:
        engine.dispose()
    return [m for m in everyone if m not in busy], [m for m in everyone if m in busy]


def _ensure_demo_agents(settings: Settings) -> None:
    """The demo desk accounts (agent1, agent2, ...) that a database seeded before they existed lacks."""
    engine = make_engine(settings)
    try:
        with session_factory(engine)() as session:
            ensure_demo_agents(session)
            session.commit()
    finally:
        engine.dispose()


def _stored(settings: Settings, conversation_ids: list[str]) -> dict[str, Any]:
    """What the database holds for the played conversations: hand-offs and CSAT answers."""
    engine = make_engine(settings)
    reasons: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    csat: dict[str, Counter[int]] = {"widget": Counter(), "chat": Counter()}
    try:
        with session_factory(engine)() as session:
            for start in range(0, len(conversation_ids), 500):
                chunk = conversation_ids[start:start + 500]
                for reason, status in session.execute(select(HandoffRequest.reason, HandoffRequest.status)
                                                      .where(HandoffRequest.conversation_id.in_(chunk))):
                    reasons[reason] += 1
                    statuses[status] += 1
                for source, score, count in session.execute(
                        select(CsatRating.source, CsatRating.score, func.count())
                        .where(CsatRating.conversation_id.in_(chunk)).group_by(CsatRating.source, CsatRating.score)):
                    csat.setdefault(source, Counter())[int(score)] += int(count)
    finally:
        engine.dispose()
    return {
        "handoffs": {"total": sum(reasons.values()), "by_reason": dict(reasons.most_common()),
                     "by_status": dict(statuses.most_common())},
        "csat": {source: {"answers": sum(scores.values()), "scores": {str(k): scores[k] for k in sorted(scores)}}
                 for source, scores in csat.items()},
    }


def _analysed(settings: Settings, conversation_ids: list[str]) -> dict[str, Any]:
    """The analytics rows of the played conversations (Rasa's sender id is the web conversation id)."""
    from personalization.analytics.models import AnalyticsConversation as AC

    engine = make_engine(settings)
    rows: list[tuple[str, int]] = []
    try:
        with session_factory(engine)() as session:
            for start in range(0, len(conversation_ids), 500):
                rows += session.execute(select(AC.resolved_by, AC.turns)
                                        .where(AC.sender_id.in_(conversation_ids[start:start + 500]))).all()
    finally:
        engine.dispose()
    return {"conversations": len(rows), "turns": sum(int(t or 0) for _, t in rows),
            "resolved_by": dict(Counter(r for r, _ in rows).most_common())}


def _run_analytics(settings: Settings) -> dict[str, Any]:
    from personalization.analytics.pipeline import EventSourceError, SqlEventSource, run_pipeline

    source = SqlEventSource.for_sqlite_file(settings.rasa_events_db)
    engine = make_engine(settings)
    try:
        create_schema(engine)
        return run_pipeline(session_factory(engine), source, progress=True)
    except EventSourceError as exc:
        return {"error": str(exc)}
    except SQLAlchemyError as exc:
        # The web app's background runner may have been writing the same rows; its next tick catches up.
        return {"error": f"analytics run failed, the web app's runner will catch up: {str(exc).splitlines()[0]}"}
    finally:
        source.close()
        engine.dispose()


def run(settings: Settings, web_url: str, plans: list[ConversationPlan], seed: int, parallel: int,
        analytics: bool) -> dict[str, Any]:
    """Play ``plans`` against the web app at ``web_url``; returns the summary."""
    if not _web_up(web_url):
        raise DemoTrafficError(
            f"网页服务未运行（{web_url}/healthz 无响应）：请先在另一个终端运行 `make run`，"
            f"或加上 --start-stack 自行启动。\n"
            f"The web app is not running ({web_url}/healthz does not answer): start `make run` in another "
            f"terminal first, or pass --start-stack to start a stack of its own.")
    if settings.web_demo:
        _ensure_demo_agents(settings)
    fresh, busy = _member_pools(settings)
    members = assign_members(plans, fresh, busy, seed)
    progress = tqdm(total=len(plans), desc="demo traffic", unit="conv")
    started = time.perf_counter()
    try:
        tally = asyncio.run(_play_all(plans, members, web_url, parallel, progress, ensure_web_secret(settings)))
    finally:
        progress.close()
    duration = time.perf_counter() - started
    fresh_set = set(fresh)
    stored = _stored(settings, tally.conversation_ids)
    summary: dict[str, Any] = {
        "web_url": web_url,
        "seed": seed,
        "parallel": parallel,
        "plan": plan_mix(plans),
        "conversations": {"played": tally.completed, "failed": tally.failed,
                          "members": sum(1 for p in plans if not p.anonymous),
                          "anonymous": sum(1 for p in plans if p.anonymous),
                          "members_reused": sum(1 for m in members.values() if m and m not in fresh_set)},
        "turns": tally.turns,
        "turns_without_reply": tally.no_reply,
        "button_presses": dict(tally.clicks.most_common()),
        "button_not_shown": dict(tally.clicks_unavailable.most_common()),
        "handoffs": {"seen_by_members": tally.handoffs_seen, "claimed": tally.claimed, "resolved": tally.resolved,
                     "left_queue": tally.cancelled, "agent_replies": tally.agent_replies,
                     "stored": stored["handoffs"]},
        "csat": {"widget_answers_sent": tally.csat_sent, "stored": stored["csat"]},
        "duration_s": round(duration, 1),
        "turns_per_s": round(tally.turns / duration, 2) if duration > 0 else None,
        "dated": "events are stamped when they happen: the dashboard shows this traffic on today's date",
        "errors": tally.errors[:20],
    }
    if analytics:
        summary["analytics"] = _run_analytics(settings)
        if "error" not in summary["analytics"]:
            summary["analytics"]["played_conversations"] = _analysed(settings, tally.conversation_ids)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=DEFAULT_CONVERSATIONS, help="how many (default 1000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the scripts' random seed")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="conversations at a time (default 8)")
    parser.add_argument("--think", type=float, nargs=2, default=THINK_SECONDS, metavar=("MIN", "MAX"),
                        help="seconds a member pauses before each message (default 0.3 1.5)")
    parser.add_argument("--web-url", default="", help="the web app (default http://WEB_HOST:WEB_PORT, as `make run`)")
    parser.add_argument("--start-stack", action="store_true",
                        help="start Rasa + action server + web app on free ports (same databases) instead")
    parser.add_argument("--no-analytics", action="store_true", help="do not run the analytics pipeline afterwards")
    parser.add_argument("--out", type=Path, help="also write the summary JSON to this file")
    parser.add_argument("--dry-run", action="store_true", help="print the plan's mix and exit (no system needed)")
    args = parser.parse_args(argv)
    if not 1 <= args.conversations <= 100_000:
        parser.error("--conversations 须为 1..100000 / must be 1..100000")
    if not 1 <= args.parallel <= 32:
        parser.error("--parallel 须为 1..32 / must be 1..32")
    think = (float(args.think[0]), float(args.think[1]))
    if not 0 <= think[0] <= think[1] <= 60:
        parser.error("--think 须满足 0 <= MIN <= MAX <= 60 / needs 0 <= MIN <= MAX <= 60")
    if args.start_stack and args.web_url:
        parser.error("--web-url 与 --start-stack 不能同时使用 / --web-url and --start-stack exclude each other")
    plans = build_plan(args.conversations, args.seed, think)
    if args.dry_run:
        print(json.dumps(plan_mix(plans), ensure_ascii=False, indent=2))
        return 0
    settings = Settings.from_env()
    try:
        if args.start_stack:
            summary = _with_own_stack(settings, plans, args.seed, args.parallel, not args.no_analytics)
        else:
            host = settings.web_host if settings.web_host not in ("0.0.0.0", "::") else "127.0.0.1"
            web_url = (args.web_url or f"http://{host}:{settings.web_port}").rstrip("/")
            summary = run(settings, web_url, plans, args.seed, args.parallel, not args.no_analytics)
    except DemoTrafficError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    text = json.dumps(summary, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    if summary["conversations"]["played"] == 0:
        print("没有一段对话成功（见 errors 与网页服务日志）/ no conversation could be played (see errors and the "
              "web app's log)", file=sys.stderr)
        return 1
    return 0


def _with_own_stack(settings: Settings, plans: list[ConversationPlan], seed: int, parallel: int,
                    analytics: bool) -> dict[str, Any]:
    model = Path(settings.rasa_model)
    if not model.exists():
        raise DemoTrafficError(f"没有训练好的模型 {model}：请先运行 `make setup` / no trained model at {model}: "
                               f"run `make setup` first")
    own = replace(settings, rasa_port=free_port(), action_server_port=free_port(), web_port=free_port(),
                  web_host="127.0.0.1")
    log_dir = Path(settings.var_dir) / "logs" / "demo-traffic"
    print(f"正在启动 Rasa、动作服务器与网页… / starting Rasa, the action server and the web app (logs {log_dir})…",
          file=sys.stderr)
    with Stack(own, log_dir) as stack:
        try:
            stack.wait_ready(timeout=300)
        except (RuntimeError, TimeoutError) as exc:
            raise DemoTrafficError(f"栈未能启动 / the stack did not start: {exc}") from None
        return run(own, stack.web_url, plans, seed, parallel, analytics)


if __name__ == "__main__":
    sys.exit(main())
