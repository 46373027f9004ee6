"""Ops analytics at scale: pipeline throughput and dashboard latency with 1,000,000 broker events.

Run with ``make bench-analytics`` (``python -m bench.analytics_scale [--events N --days N
--incremental N --requests N --workdir DIR --keep]``). Everything is built in a temporary folder
under /tmp and removed afterwards (unless ``--keep``):

1. **App database**: the real demo seed (``personalization.seed.seed_database``: 2,000 members with
   tiers and segments, orders, coupons) plus the demo desk accounts.
2. **Broker database**: ``--events`` Rasa events (default 1,000,000) in the table Rasa's SQL event
   broker writes (``events(id, sender_id, data)``, created by the test builders' ``write_events``),
   shaped field for field like real ones (``tests.analytics.builders.EventLog``): sessions of seeded
   members (tier/name/member_id slots) and anonymous visitors, 2-6 member messages each with intents,
   sentiment and bot replies (product cards, coupon offers and claims, handoffs), conversations of
   one day interleaved by time over ``--days`` days ending now. The matching app rows are written
   alongside at realistic rates: handoff requests (with agents claiming, replying and resolving),
   the web app's chat copy (every message), CSAT ratings and the coupons claimed in chat.
3. **Pipeline**: ``run_pipeline`` from an empty cursor over everything (events/s), then
   ``--incremental`` (default 10,000) new events appended and a second, incremental run.
   Then the per-day rollup is rebuilt from scratch once (what an existing database's first run does).
4. **Dashboard latency**: ``metrics.overview`` and each of ``metrics.METRICS`` called directly
   with varied filters (7/30/90-day ranges, tiers, segments), and - when ``web/ops_api.py``
   exists - the real HTTP endpoints through FastAPI's TestClient logged in as ``ops1``.
5. **Baseline**: the same figures (intents per day, conversations per day) computed from the raw
   events table with SQLite's JSON functions (a full scan) vs from the analytics tables.

Figures go to stdout and ``bench/results/analytics_scale.json``. The target (p95 <= 300 ms per
dashboard call) is reported, not asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from tqdm import tqdm

from personalization.analytics import SqlEventSource, ensure_tables, run_pipeline
from personalization.analytics import metrics as analytics_metrics
from personalization.analytics.clusters import ClusterIndex
from personalization.analytics.models import AnalyticsRollupState
from personalization.analytics.rollups import ensure_rollup
from personalization.db import make_engine, session_factory
from personalization.desk.agents import ensure_demo_agents
from personalization.models import (
    Agent,
    ChatMessage,
    Conversation,
    Coupon,
    CouponTemplate,
    CsatRating,
    HandoffRequest,
    Member,
)
from personalization.profiles import compute_profiles
from personalization.seed import seed_database
from personalization.settings import PROJECT_ROOT, Settings
from tests.analytics.builders import EventLog, product_cards, write_events

RESULTS = PROJECT_ROOT / "bench" / "results" / "analytics_scale.json"
SEED = 20261122
TARGET_P95_MS = 300.0
TIERS = ("normal", "silver", "gold", "diamond", "anonymous")
OPS_USER = ("ops1", "ops1-demo")

# ---------------------------------------------------------------------------------------------
# What members say (zh first, some English), by intent; {order} / {phone} / {name} are filled in.

TEXTS: dict[str, tuple[str, ...]] = {
    "greet": ("你好", "在吗", "您好，请问一下", "hi", "hello there"),
    "ask_recommendation": (
        "有什么推荐",
        "推荐几款护肤品",
        "想买双跑鞋，推荐一下",
        "有没有适合送礼的",
        "recommend some snacks",
    ),
    "more": ("换一批", "还有别的吗", "再推荐几个", "show me more"),
    "ask_coupons": ("有什么优惠券", "我能领什么券", "最近有活动吗", "any coupons for me?"),
    "ask_points": ("我还有多少积分", "积分什么时候过期", "查一下积分", "how many points do I have"),
    "ask_tier_benefits": ("金卡有什么权益", "怎么升级会员", "我的会员等级", "what are my tier benefits"),
    "check_order_status": (
        "我的订单{order}到哪了",
        "订单{order}怎么还没发货",
        "查一下物流 {order}",
        "where is my order {order}",
    ),
    "request_return": (
        "{order}想退货",
        "衣服尺码不合适，怎么退",
        "申请退款，订单号{order}",
        "I want to return {order}",
    ),
    "complain": ("太慢了，一直不发货！", "客服都不回消息，气死了", "质量太差了，我要投诉", "this is unacceptable"),
    "request_human": ("转人工", "我要找真人客服，我是{name} 电话{phone}", "人工客服", "talk to a human please"),
    "thank": ("谢谢", "好的，谢谢你", "太棒了，感谢", "thanks!"),
    "goodbye": ("再见", "拜拜", "没事了", "bye"),
    "nlu_fallback": ("asdfgh", "嗯嗯??", "。。。", "qwe123", "那个东西呢"),
    "out_of_scope": ("今天天气怎么样", "你会唱歌吗", "帮我订机票"),
}
GIBBERISH = "asdfghjklqwertyuiop123?？。啊哦嗯那个这东西怎么弄不是吧积分券单退货快递"
REPLIES = {
    "greet": "您好！有什么可以帮您？",
    "ask_points": "您当前有 1,280 积分",
    "ask_tier_benefits": "金卡会员享 1.5 倍积分",
    "check_order_status": "您的订单运输中",
    "request_return": "已为您提交退货申请",
    "complain": "非常抱歉给您带来不好的体验",
    "thank": "不客气",
    "goodbye": "再见，祝您愉快",
    "out_of_scope": "这个我暂时帮不上忙",
}
ACTIONS = {
    "greet": "utter_greet",
    "ask_points": "action_points_balance",
    "ask_tier_benefits": "action_tier_benefits",
    "check_order_status": "action_order_status",
    "request_return": "action_request_return",
    "complain": "action_complaint",
    "thank": "utter_you_are_welcome",
    "goodbye": "utter_goodbye",
    "out_of_scope": "utter_out_of_scope",
    "ask_recommendation": "action_recommend_products",
    "ask_coupons": "action_coupon_offers",
}
# (weight, scenario): what a conversation is mostly about.
SCENARIOS = (
    (20, "recommend"),
    (15, "coupons"),
    (14, "points"),
    (7, "tier"),
    (15, "order"),
    (6, "return"),
    (7, "complain"),
    (5, "human"),
    (8, "gibberish"),
    (3, "smalltalk"),
)
SENTIMENT = {  # intent -> (polarity, emotion) choices with weights
    "complain": ((("negative", "anger"), 6), (("negative", "disappointment"), 4)),
    "request_human": ((("negative", "anger"), 3), (("neutral", "neutral"), 6), (("negative", "anxiety"), 1)),
    "check_order_status": ((("neutral", "neutral"), 7), (("negative", "anxiety"), 3)),
    "request_return": ((("neutral", "neutral"), 6), (("negative", "disappointment"), 4)),
    "thank": ((("positive", "joy"), 9), (("neutral", "neutral"), 1)),
    "goodbye": ((("neutral", "neutral"), 6), (("positive", "joy"), 4)),
    "more": ((("neutral", "neutral"), 7), (("positive", "joy"), 3)),
}


@dataclass
class Person:
    member_id: str | None
    name: str
    tier: str | None


@dataclass
class AppRows:
    """App-side rows written with the events (ids assigned here, so events can carry them)."""

    handoff_id: int
    conversation_id: int
    coupon_no: int = 0
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    coupons: list[dict[str, Any]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    chat_of: dict[str, list[Any]] = field(default_factory=dict)  # sender -> [conversation id, last seq, row]
    rated: set[tuple[str, int | None]] = field(default_factory=set)

    def flush(self, connection: Any) -> None:
        for table, rows in (
            (Conversation.__table__, self.chats),
            (ChatMessage.__table__, self.messages),
            (HandoffRequest.__table__, self.handoffs),
            (CsatRating.__table__, self.ratings),
            (Coupon.__table__, self.coupons),
        ):
            if rows:
                connection.execute(insert(table), rows)
            rows.clear()


class World:
    """Deterministic generator of conversations (events + app rows)."""

    def __init__(self, people: list[Person], agents: list[int], templates: list[str], rows: AppRows, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = people
        self.agents = agents
        self.templates = templates
        self.rows = rows
        self.recent_senders: list[tuple[str, Person]] = []
        self.day_senders: set[str] = set()  # a sender has one session at a time: no reuse within a day
        self.scenario_names = [name for _, name in SCENARIOS]
        self.scenario_weights = [w for w, _ in SCENARIOS]

    # ---- helpers -----------------------------------------------------------------------------

    def _text(self, intent: str, person: Person) -> str:
        if intent == "nlu_fallback" and self.rng.random() < 0.6:  # typos, mashed keys, half sentences: mostly distinct
            return "".join(self.rng.choice(GIBBERISH) for _ in range(self.rng.randint(2, 9)))
        template = self.rng.choice(TEXTS[intent])
        order = f"DD2026{self.rng.randrange(10**8):08d}"
        phone = f"13{self.rng.randrange(10**9):09d}"
        return template.format(order=order, phone=phone, name=person.name or "王先生")

    def _sentiment(self, intent: str) -> tuple[str, str, float]:
        choices = SENTIMENT.get(intent)
        if choices is None:
            polarity, emotion = ("neutral", "neutral") if self.rng.random() < 0.85 else ("positive", "joy")
        else:
            polarity, emotion = self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]
        return polarity, emotion, round(self.rng.uniform(0.55, 0.99), 3)

    def _chat(
        self,
        sender: str,
        person: Person,
        at: float,
        who: str,
        body: str,
        *,
        agent: int | None = None,
        intent: str | None = None,
    ) -> None:
        """The web app's copy of each message (``conversations`` / ``chat_messages``)."""
        when = datetime.fromtimestamp(at)
        entry = self.rows.chat_of.get(sender)
        if entry is None:
            self.rows.conversation_id += 1
            row = {
                "id": self.rows.conversation_id,
                "public_id": sender,
                "member_id": person.member_id,
                "visitor_id": None if person.member_id else f"v{self.rng.randrange(16**12):012x}",
                "language": "zh",
                "status": "open",
                "created_at": when,
                "updated_at": when,
                "last_seq": 0,
            }
            self.rows.chats.append(row)
            entry = self.rows.chat_of[sender] = [row["id"], 0, row]
        entry[1] += 1
        entry[2]["last_seq"] = entry[1]
        entry[2]["updated_at"] = when
        self.rows.messages.append(
            {
                "conversation_id": entry[0],
                "seq": entry[1],
                "sender": who,
                "agent_id": agent,
                "text": body,
                "intent": intent,
                "created_at": when,
            }
        )

    def _user(
        self, log: EventLog, sender: str, person: Person, at: float, intent: str, text_: str | None = None
    ) -> None:
        key = "ask_recommendation" if intent == "more" else intent
        body = text_ if text_ is not None else self._text(intent, person)
        polarity, emotion, score = self._sentiment(intent)
        confidence = 1.0 if key == "nlu_fallback" else round(self.rng.uniform(0.6, 0.99), 3)
        log.user(
            sender,
            datetime.fromtimestamp(at),
            body,
            key,
            confidence=confidence,
            polarity=polarity,
            emotion=emotion,
            score=score,
            member=person.member_id,
        )
        self._chat(sender, person, at, "member", body, intent=key)

    def _bot(
        self, log: EventLog, sender: str, person: Person, at: float, body: str, custom: dict[str, Any] | None = None
    ) -> None:
        log.bot(sender, datetime.fromtimestamp(at), body, custom)
        self._chat(sender, person, at, "bot", body)

    # ---- one conversation --------------------------------------------------------------------

    def conversation(self, start: float, now: float) -> EventLog:
        """One Rasa session: events in publish order (the caller interleaves conversations)."""
        rng = self.rng
        reuse = rng.choice(self.recent_senders) if self.recent_senders and rng.random() < 0.08 else None
        if reuse is not None and reuse[0] not in self.day_senders:
            sender, person = reuse  # the same chat again on a later day: a second session
        else:
            person = rng.choice(self.people) if rng.random() < 0.8 else Person(None, "", None)
            sender = f"{rng.getrandbits(128):032x}"
            self.recent_senders.append((sender, person))
            if len(self.recent_senders) > 2000:
                self.recent_senders.pop(0)
        self.day_senders.add(sender)
        log = EventLog()
        t = start
        log.session_start(
            sender, datetime.fromtimestamp(t), member=person.member_id, name=person.name, tier=person.tier or ""
        )
        scenario = rng.choices(self.scenario_names, self.scenario_weights)[0]
        t += rng.uniform(2, 20)
        if rng.random() < 0.25:
            t = self._turn(log, sender, person, t, "greet")
        handoff_reason: str | None = None
        if scenario == "recommend":
            t = self._turn(log, sender, person, t, "ask_recommendation")
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                t = self._turn(log, sender, person, t, "more")
        elif scenario == "coupons":
            t = self._coupons(log, sender, person, t)
        elif scenario in ("points", "tier"):
            t = self._turn(log, sender, person, t, "ask_points" if scenario == "points" else "ask_tier_benefits")
            if rng.random() < 0.3:
                t = self._coupons(log, sender, person, t)
        elif scenario in ("order", "return"):
            t = self._turn(log, sender, person, t, "check_order_status" if scenario == "order" else "request_return")
            if rng.random() < 0.2:
                t = self._turn(log, sender, person, t, "complain")
                if rng.random() < 0.4:
                    handoff_reason = "negative_emotion"
        elif scenario == "complain":
            t = self._turn(log, sender, person, t, "complain")
            if rng.random() < 0.5:
                handoff_reason = "complaint"
        elif scenario == "human":
            handoff_reason = "member_request"
        elif scenario == "gibberish":
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                t = self._turn(log, sender, person, t, rng.choice(("nlu_fallback", "nlu_fallback", "out_of_scope")))
            if rng.random() < 0.2:
                handoff_reason = "repeated_fallback"
        else:
            t = self._turn(log, sender, person, t, "out_of_scope")
        if handoff_reason is not None:
            return self._handoff(log, sender, person, t, handoff_reason, now)
        if rng.random() < 0.5:
            t = self._turn(log, sender, person, t, rng.choice(("thank", "thank", "goodbye")))
            if rng.random() < 0.06:  # rates the bot in chat
                self._rate(
                    sender, person, t + rng.uniform(5, 30), None, rng.choices((5, 4, 3, 2, 1), (45, 30, 12, 6, 7))[0]
                )
        return log

    def _turn(self, log: EventLog, sender: str, person: Person, t: float, intent: str) -> float:
        self._user(log, sender, person, t, intent)
        key = "ask_recommendation" if intent == "more" else intent
        t += self.rng.uniform(0.3, 2.0)
        at = datetime.fromtimestamp(t)
        if key == "nlu_fallback":
            log.action(sender, at, "action_default_fallback" if self.rng.random() < 0.3 else "utter_default")
            self._bot(log, sender, person, t, "抱歉，我没太明白，可以换个说法吗？")
        elif key == "ask_recommendation":
            log.action(sender, at, ACTIONS[key])
            skus = [f"SKU{10000 + self.rng.randrange(496)}" for _ in range(5)]
            self._bot(log, sender, person, t, "为您精选了这些好物", product_cards(*skus))
        else:
            log.action(sender, at, ACTIONS.get(key, "utter_default"))
            self._bot(log, sender, person, t, REPLIES.get(key, "好的"))
        log.action(sender, at, "action_listen")
        return t + self.rng.uniform(5, 60)

    def _coupons(self, log: EventLog, sender: str, person: Person, t: float) -> float:
        rng = self.rng
        self._user(log, sender, person, t, "ask_coupons")
        t += rng.uniform(0.3, 2.0)
        at = datetime.fromtimestamp(t)
        log.action(sender, at, ACTIONS["ask_coupons"])
        offered = rng.sample(self.templates, k=min(3, len(self.templates)))
        self._bot(
            log,
            sender,
            person,
            t,
            "可以领这些券",
            {"type": "coupon_offers", "items": [{"template_id": x} for x in offered]},
        )
        log.action(sender, at, "action_listen")
        t += rng.uniform(5, 40)
        if person.member_id and rng.random() < 0.5:
            template = offered[0]
            payload = "/ask_coupons" + json.dumps({"coupon_template": template})
            self._user(log, sender, person, t, "ask_coupons", payload)
            t += rng.uniform(0.3, 1.5)
            self.rows.coupon_no += 1
            code = f"CH{self.rows.coupon_no:08d}"
            when = datetime.fromtimestamp(t)
            used = rng.random() < 0.3
            self.rows.coupons.append(
                {
                    "code": code,
                    "member_id": person.member_id,
                    "template_id": template,
                    "issued_at": when,
                    "valid_from": when,
                    "valid_until": when + timedelta(days=30),
                    "status": "used" if used else "available",
                    "used_at": when + timedelta(days=rng.randint(1, 20)) if used else None,
                    "order_id": None,
                    "claim_key": None,
                }
            )
            log.action(sender, datetime.fromtimestamp(t), "action_claim_coupon")
            self._bot(
                log,
                sender,
                person,
                t,
                "领取成功",
                {"type": "coupon_claim", "status": "claimed", "template_id": template, "coupon": {"code": code}},
            )
            log.action(sender, datetime.fromtimestamp(t), "action_listen")
            t += rng.uniform(5, 40)
        return t

    def _handoff(self, log: EventLog, sender: str, person: Person, t: float, reason: str, now: float) -> EventLog:
        rng = self.rng
        if reason == "member_request":
            self._user(log, sender, person, t, "request_human")
            t += rng.uniform(0.3, 1.5)
        emotion = {"negative_emotion": "anger", "complaint": "disappointment"}.get(reason)
        self.rows.handoff_id += 1
        handoff_id = self.rows.handoff_id
        at = datetime.fromtimestamp(t)
        log.action(sender, at, "action_handoff_to_human")
        self._bot(
            log,
            sender,
            person,
            t,
            "正在为您转接人工客服",
            {
                "type": "handoff",
                "handoff_id": handoff_id,
                "reason": reason,
                "priority": 20,
                "position": rng.randint(1, 6),
            },
        )
        log.action(sender, at, "action_listen")
        wait = rng.lognormvariate(4.0, 0.8)  # ~55 s median to a claim
        claimed = t + wait if rng.random() < 0.92 and t + wait < now else None
        agent = rng.choice(self.agents) if claimed else None
        resolved = None
        if claimed is not None:
            reply = claimed + rng.uniform(8, 90)
            if reply < now:
                self._chat(sender, person, reply, "agent", "您好，我是客服，马上为您处理", agent=agent)
            end = reply + rng.lognormvariate(5.5, 0.6)
            if end < now and rng.random() < 0.95:
                resolved = end
        status = "resolved" if resolved else ("assigned" if claimed else ("queued" if now - t < 3600 else "cancelled"))
        self.rows.handoffs.append(
            {
                "id": handoff_id,
                "conversation_id": sender,
                "member_id": person.member_id,
                "reason": reason,
                "priority": 20,
                "created_at": at,
                "status": status,
                "agent_id": agent,
                "claimed_at": datetime.fromtimestamp(claimed) if claimed else None,
                "resolved_at": datetime.fromtimestamp(resolved) if resolved else None,
                "emotion": emotion,
                "tier": person.tier,
                "note": None,
            }
        )
        if resolved is not None and rng.random() < 0.6:
            self._rate(
                sender,
                person,
                resolved + rng.uniform(5, 60),
                handoff_id,
                rng.choices((5, 4, 3, 2, 1), (50, 28, 10, 5, 7))[0],
            )
        return log

    def _rate(self, sender: str, person: Person, at: float, handoff_id: int | None, score: int) -> None:
        if (sender, handoff_id) in self.rows.rated:
            return
        self.rows.rated.add((sender, handoff_id))
        self.rows.ratings.append(
            {
                "conversation_id": sender,
                "handoff_id": handoff_id,
                "member_id": person.member_id,
                "score": score,
                "source": "widget" if handoff_id else "chat",
                "created_at": datetime.fromtimestamp(at),
            }
        )


# ---------------------------------------------------------------------------------------------
# Building the two databases


def seed_app(path: Path, members: int, orders: int) -> Any:
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    seed_database(engine, members=members, orders=orders, seed=Settings().seed, progress=False)
    ensure_tables(engine)
    factory = session_factory(engine)
    with factory() as session:
        ensure_demo_agents(session)
        compute_profiles(session=session, progress=False)  # segments (``member_profiles``), as `profiles` does
        session.commit()
    return engine


def load_world(engine: Any, seed: int) -> World:
    factory = session_factory(engine)
    with factory() as session:
        people = [
            Person(member_id, name, tier)
            for member_id, name, tier in session.execute(
                select(Member.member_id, Member.name, Member.tier_code).order_by(Member.member_id)
            )
        ]
        agents = list(session.scalars(select(Agent.id).where(Agent.role.in_(("agent", "admin"))).order_by(Agent.id)))
        templates = list(session.scalars(select(CouponTemplate.template_id).order_by(CouponTemplate.template_id)))
        handoff_max = session.scalar(select(func.max(HandoffRequest.id))) or 0
        conversation_max = session.scalar(select(func.max(Conversation.id))) or 0
    return World(people, agents, templates, AppRows(handoff_id=handoff_max, conversation_id=conversation_max), seed)


def day_windows(days: int, now: float) -> list[tuple[float, float]]:
    """(first start, last start) per day: 08:00-22:30 local, today only up to 20 minutes ago."""
    today = date.fromtimestamp(now)
    windows = []
    for back in range(days - 1, -1, -1):
        day = datetime.combine(today - timedelta(days=back), datetime.min.time())
        lo, hi = (day + timedelta(hours=8)).timestamp(), (day + timedelta(hours=22, minutes=30)).timestamp()
        hi = min(hi, now - 1200)
        if hi > lo:
            windows.append((lo, hi))
    return windows


def generate(
    world: World,
    events_path: Path,
    app_engine: Any,
    *,
    n_events: int,
    windows: list[tuple[float, float]],
    now: float,
    desc: str,
) -> dict[str, Any]:
    """Append ``n_events`` events spread over ``windows`` (and their app rows) in one transaction each."""
    started = time.perf_counter()
    connection = sqlite3.connect(events_path)
    first_id = (connection.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]) + 1
    written = conversations = 0
    # Weekday traffic varies: weights per window (weekends a little busier), normalised to n_events.
    weights = [1.15 if date.fromtimestamp(lo).weekday() >= 5 else 1.0 for lo, _ in windows]
    budgets = [int(n_events * w / sum(weights)) for w in weights]
    budgets[-1] += n_events - sum(budgets)
    bar = tqdm(total=n_events, desc=desc, unit="event", unit_scale=True)
    with app_engine.begin() as app:
        for (lo, hi), budget in zip(windows, budgets):
            rows: list[tuple[float, int, str, dict[str, Any]]] = []
            world.day_senders.clear()
            while len(rows) < budget:
                log = world.conversation(world.rng.uniform(lo, hi), now)
                conversations += 1
                base = len(rows)
                rows.extend((event["timestamp"], base + i, sender, event) for i, (sender, event) in enumerate(log.rows))
            rows.sort(key=lambda r: (r[0], r[1]))  # conversations of the day interleave, as Rasa publishes them
            rows = rows[:budget]  # the day's last conversations may be cut mid-way (still open)
            connection.executemany(
                "INSERT INTO events (id, sender_id, data) VALUES (?, ?, ?)",
                (
                    (first_id + written + i, sender, json.dumps(event, ensure_ascii=False))
                    for i, (_, _, sender, event) in enumerate(rows)
                ),
            )
            written += len(rows)
            bar.update(len(rows))
            world.rows.flush(app)
    connection.commit()
    connection.close()
    bar.close()
    return {
        "events": written,
        "conversations": conversations,
        "first_id": first_id,
        "seconds": round(time.perf_counter() - started, 1),
    }


def app_counts(engine: Any) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)
            for table in (
                "members",
                "handoff_requests",
                "csat_ratings",
                "conversations",
                "chat_messages",
                "coupons",
                "analytics_conversations",
                "analytics_turns",
            )
        }


# ---------------------------------------------------------------------------------------------
# Timing


def percentiles(times_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(times_ms)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(p * len(ordered) + 0.5) - 1))], 1)

    return {
        "n": len(ordered),
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "max_ms": round(ordered[-1], 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
    }


def filter_sets(n: int, today: date, segments: list[str], seed: int) -> list[dict[str, Any]]:
    """``n`` varied dashboard filters: 7/30/90-day ranges ending today or earlier, tiers, segments."""
    rng = random.Random(seed)
    sets = []
    for i in range(n):
        span = (7, 30, 30, 90)[i % 4]
        end = today - timedelta(days=rng.choice((0, 0, 0, 3, 10)))
        tier = rng.choice((None, None, None, *TIERS))
        segment = rng.choice((None, None, None, *segments, "none")) if i % 3 == 0 else None
        sets.append(
            {
                "from": (end - timedelta(days=span - 1)).isoformat(),
                "to": end.isoformat(),
                "tier": tier,
                "segment": segment,
            }
        )
    return sets


def time_calls(call: Callable[[dict[str, Any]], Any], filters: list[dict[str, Any]], desc: str) -> dict[str, Any]:
    call(filters[0])  # warm-up (caches, first connection)
    times = []
    for f in tqdm(filters, desc=desc, unit="call", leave=False):
        started = time.perf_counter()
        call(f)
        times.append((time.perf_counter() - started) * 1000.0)
    return percentiles(times)


def direct_latency(factory: Any, filters: list[dict[str, Any]]) -> dict[str, Any]:
    """``metrics.overview`` and each metric function, one fresh session per call (like a request)."""

    def run(fn: Callable[..., Any]) -> Callable[[dict[str, Any]], Any]:
        def call(f: dict[str, Any]) -> Any:
            with factory() as session:
                return fn(session, f["from"], f["to"], f["tier"], f["segment"])

        return call

    result = {"overview": time_calls(run(analytics_metrics.overview), filters, "overview (direct)")}
    result["metrics"] = {
        name: time_calls(run(fn), filters, f"{name} (direct)") for name, fn in analytics_metrics.METRICS.items()
    }
    return result


def span_breakdown(factory: Any, today: date, repeats: int = 3) -> dict[str, Any]:
    """Where an unfiltered ``overview`` spends its time, per range (7/30/90 days): best of ``repeats``."""
    out: dict[str, Any] = {}
    for span in (7, 30, 90):
        start = today - timedelta(days=span - 1)
        figures: dict[str, float] = {}
        for name, fn in (*analytics_metrics.METRICS.items(), ("overview", analytics_metrics.overview)):
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                with factory() as session:
                    fn(session, start, today)
                best = min(best, (time.perf_counter() - started) * 1000.0)
            figures[name] = round(best, 1)
        out[f"{span}d"] = figures
    return out


def http_latency(settings: Settings, filters: list[dict[str, Any]]) -> dict[str, Any]:
    """The real endpoints (``web/ops_api.py``) through FastAPI's TestClient, logged in as ops1."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(settings, rasa_url="http://127.0.0.1:9", rasa_token="bench")
    paths = set(app.openapi().get("paths", {}))
    if "/ops/api/metrics" not in paths:
        return {"skipped": "web app has no /ops/api/metrics route yet"}
    out: dict[str, Any] = {}
    with TestClient(app) as client:
        client.get("/agent/login")
        csrf = client.cookies.get("desk_csrf")
        login = client.post(
            "/agent/login",
            data={"username": OPS_USER[0], "password": OPS_USER[1], "csrf_token": csrf},
            follow_redirects=False,
        )
        if login.status_code not in (200, 302, 303):
            return {"skipped": f"ops login failed: {login.status_code}"}
        errors: list[str] = []

        def get(path: str) -> Callable[[dict[str, Any]], Any]:
            def call(f: dict[str, Any]) -> Any:
                params = {k: v for k, v in f.items() if v is not None}
                response = client.get(path, params=params)
                if response.status_code != 200 and len(errors) < 5:
                    errors.append(f"{path} {params} -> {response.status_code} {response.text[:200]}")
                return response

            return call

        out["/ops/api/metrics"] = time_calls(get("/ops/api/metrics"), filters, "GET /ops/api/metrics")
        # The same filter again (a dashboard reloaded): answered by the overview cache until the rollup changes.
        out["/ops/api/metrics (repeated filter)"] = time_calls(
            get("/ops/api/metrics"), [filters[1]] * 20, "GET /ops/api/metrics (repeated)"
        )
        out["/ops/api/metrics/{name}"] = {
            name: time_calls(get(f"/ops/api/metrics/{name}"), filters, f"GET metrics/{name}")
            for name in analytics_metrics.METRICS
        }
        if "/ops/api/breakdown/{name}" in paths:
            out["/ops/api/breakdown/{name}"] = {
                f"{name}?by={by}": time_calls(
                    lambda f, n=name, b=by: get(f"/ops/api/breakdown/{n}")({**f, "by": b}),
                    filters[:20],
                    f"GET breakdown/{name} by {by}",
                )
                for name in ("containment", "handoffs", "csat")
                for by in ("tier", "segment")
            }
        if "/ops/api/unrecognized" in paths:
            # The warm-up call fits the cluster model (in the app the analytics runner does it after a
            # pipeline run; its cost is report["cluster_fit_ms"]); the timed calls read it.
            out["/ops/api/unrecognized"] = time_calls(
                lambda f: get("/ops/api/unrecognized")({**f, "limit": 5}), filters[:20], "GET unrecognized"
            )
        out["errors"] = errors
    return out


# ---------------------------------------------------------------------------------------------
# Baseline: the same figures from the raw events table (full JSON scan)

RAW_INTENTS = """
SELECT date(json_extract(data, '$.timestamp'), 'unixepoch', 'localtime') AS day,
       json_extract(data, '$.parse_data.intent.name') AS intent, COUNT(*)
FROM events
WHERE json_extract(data, '$.event') = 'user'
  AND json_extract(data, '$.timestamp') >= :lo AND json_extract(data, '$.timestamp') < :hi
GROUP BY day, intent
"""
RAW_CONVERSATIONS = """
SELECT date(json_extract(data, '$.timestamp'), 'unixepoch', 'localtime') AS day, COUNT(*)
FROM events
WHERE json_extract(data, '$.event') = 'session_started'
  AND json_extract(data, '$.timestamp') >= :lo AND json_extract(data, '$.timestamp') < :hi
GROUP BY day
"""


def baseline(events_path: Path, factory: Any, start: date, end: date, repeats: int = 2) -> dict[str, Any]:
    lo = datetime.combine(start, datetime.min.time()).timestamp()
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time()).timestamp()
    connection = sqlite3.connect(events_path)
    out: dict[str, Any] = {"range": [start.isoformat(), end.isoformat()]}
    for name, sql, metric, total_of in (
        ("intents", RAW_INTENTS, analytics_metrics.intent_distribution, lambda m: m["total"]),
        ("conversations_per_day", RAW_CONVERSATIONS, analytics_metrics.conversations_per_day, lambda m: m["total"]),
    ):
        raw_times, raw_rows = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            raw_rows = connection.execute(sql, {"lo": lo, "hi": hi}).fetchall()
            raw_times.append((time.perf_counter() - started) * 1000.0)
        table_times, figure = [], {}
        for _ in range(repeats + 1):
            started = time.perf_counter()
            with factory() as session:
                figure = metric(session, start, end)
            table_times.append((time.perf_counter() - started) * 1000.0)
        out[name] = {
            "raw_events_ms": round(min(raw_times), 1),
            "analytics_tables_ms": round(min(table_times[1:]), 1),
            "speedup": round(min(raw_times) / max(min(table_times[1:]), 1e-6), 1),
            "raw_total": int(sum(r[-1] for r in raw_rows)),
            "analytics_total": int(total_of(figure)),
        }
    connection.close()
    return out


def query_plans(engine: Any, start: date, end: date) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of the heaviest dashboard queries (turns joined to conversations, handoffs)."""
    plans = {}
    queries = {
        "intents (turns x conversations)": analytics_metrics._turns(
            start,
            end,
            "gold",
            None,
            analytics_metrics.AT.day,
            analytics_metrics.AT.intent,
            func.count(analytics_metrics.AT.id),
        ).group_by(analytics_metrics.AT.day, analytics_metrics.AT.intent),
        "containment (tier)": analytics_metrics._filtered(
            select(analytics_metrics.AC.resolved_by, func.count(analytics_metrics.AC.id)), start, end, "gold", None
        ).group_by(analytics_metrics.AC.resolved_by),
    }
    with engine.connect() as connection:
        for name, stmt in queries.items():
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
            plans[name] = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    return plans


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ops analytics scale benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--incremental", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=50, help="dashboard calls per endpoint (varied filters)")
    parser.add_argument("--members", type=int, default=Settings().demo_members)
    parser.add_argument("--orders", type=int, default=Settings().demo_orders)
    parser.add_argument("--batch", type=int, default=5000, help="pipeline events per transaction")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="default: a new folder under /tmp, removed afterwards"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (the workdir) afterwards")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP endpoints")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="re-measure only the dashboard latency and baseline on the databases a --keep run left in "
        "--workdir (pipeline figures are taken from --out)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.events < 1000 or args.incremental < 0 or args.days < 1 or args.requests < 2:
        parser.error("need --events >= 1000, --incremental >= 0, --days >= 1, --requests >= 2")

    if args.reuse:
        if (
            args.workdir is None
            or not (args.workdir / "shop.db").is_file()
            or not (args.workdir / "events.db").is_file()
        ):
            parser.error("--reuse needs --workdir with shop.db and events.db from a --keep run")
        if not args.out.is_file():
            parser.error(f"--reuse needs the earlier report {args.out}")
        return measure(args, args.workdir, json.loads(args.out.read_text()))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="analytics-scale-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    app_path, events_path = workdir / "shop.db", workdir / "events.db"
    for path in (app_path, events_path):
        path.unlink(missing_ok=True)
    try:
        return run(args, workdir, app_path, events_path)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, app_path: Path, events_path: Path) -> int:
    report: dict[str, Any] = {"events_target": args.events, "days": args.days, "target_p95_ms": TARGET_P95_MS}
    print(f"==> seeding the app database ({args.members:,} members) in {workdir}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    engine = seed_app(app_path, args.members, args.orders)
    report["seed_s"] = round(time.perf_counter() - started, 1)
    write_events(events_path, EventLog())  # the broker's table, exactly as the test builders create it
    world = load_world(engine, SEED)
    now = time.time()
    windows = day_windows(args.days, now - 3600)
    report["generate"] = generate(
        world, events_path, engine, n_events=args.events, windows=windows, now=now - 3600, desc="generating events"
    )
    report["app_rows_before_pipeline"] = app_counts(engine)
    report["events_db_mb"] = round(events_path.stat().st_size / 2**20, 1)

    factory = session_factory(engine)
    source = SqlEventSource.for_sqlite_file(events_path)
    print("==> full pipeline run (empty cursor)", file=sys.stderr, flush=True)
    report["pipeline_full"] = run_pipeline(factory, source, batch=args.batch, progress=True)
    if args.incremental:
        last_hour = [(now - 3600, now - 60)]
        report["generate_incremental"] = generate(
            world, events_path, engine, n_events=args.incremental, windows=last_hour, now=now, desc="new events"
        )
        print("==> incremental pipeline run", file=sys.stderr, flush=True)
        report["pipeline_incremental"] = run_pipeline(factory, source, batch=args.batch, progress=True)
    source.close()
    # An existing database's first run with the rollup code: the whole rollup built from the tables.
    with factory() as session:
        session.execute(delete(AnalyticsRollupState))
        started = time.perf_counter()
        ensure_rollup(session)
        session.commit()
    report["rollup_rebuild_s"] = round(time.perf_counter() - started, 2)
    report["app_rows"] = app_counts(engine)
    report["app_db_mb"] = round(app_path.stat().st_size / 2**20, 1)
    engine.dispose()
    return measure(args, workdir, report)


def measure(args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> int:
    """Dashboard latency (direct and HTTP), the raw-events baseline and query plans; writes the report."""
    app_path, events_path = workdir / "shop.db", workdir / "events.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{app_path}"))
    factory = session_factory(engine)
    report["latency_measured_at"] = datetime.now().isoformat(timespec="seconds")
    today = date.today()
    with factory() as session:
        segments = sorted(s for s in session.scalars(select(analytics_metrics.AC.segment).distinct()) if s)
    filters = filter_sets(args.requests, today, segments, SEED)
    report["filters_sample"] = filters[:5]
    print("==> dashboard latency: metric functions", file=sys.stderr, flush=True)
    report["direct"] = direct_latency(factory, filters)
    with factory() as session:  # what the analytics runner does after a run that added fallback messages
        started = time.perf_counter()
        ClusterIndex().refresh(session)
        report["cluster_fit_ms"] = round((time.perf_counter() - started) * 1000.0, 1)
    report["overview_by_span_ms"] = span_breakdown(factory, today)
    if not args.no_http:
        if importlib.util.find_spec("web.ops_api") is None:
            report["http"] = {"skipped": "web/ops_api.py does not exist yet"}
        else:
            print("==> dashboard latency: HTTP endpoints", file=sys.stderr, flush=True)
            fields = {f.name for f in dataclasses.fields(Settings)}
            overrides = {
                "database_url": f"sqlite:///{app_path}",
                "var_dir": str(workdir),
                "web_secret": "bench-secret-0123456789",
                "rasa_events_db": str(events_path),
                "analytics_interval_s": 0,
                "web_rate_limits": False,  # one ops user firing ~900 calls in a row: latency, not the limiter
            }
            settings = dataclasses.replace(Settings(), **{k: v for k, v in overrides.items() if k in fields})
            report["http"] = http_latency(settings, filters)
    print("==> baseline: raw events (JSON scan) vs analytics tables", file=sys.stderr, flush=True)
    report["baseline"] = baseline(events_path, factory, today - timedelta(days=29), today)
    report["query_plans"] = query_plans(engine, today - timedelta(days=29), today)
    with engine.connect() as connection:
        report["analytics_indexes"] = sorted(
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'analytics_%'"
            )
        )
    engine.dispose()
    summarize(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    print(f"wrote {args.out}")
    return 0


def summarize(report: dict[str, Any]) -> None:
    gen = report["generate"]
    print(
        f"\n{gen['events']:,} events, {gen['conversations']:,} conversations over {report['days']} days "
        f"(generated in {gen['seconds']} s; events db {report['events_db_mb']} MB)"
    )
    print(f"app rows: {report['app_rows']}")
    if "rollup_rebuild_s" in report:
        print(f"rollup rebuilt from the tables (backfill) in {report['rollup_rebuild_s']} s")
    for label, key in (("full run:       ", "pipeline_full"), ("incremental run:", "pipeline_incremental")):
        if key in report:
            run_ = report[key]
            print(
                f"pipeline {label} {run_['events_read']:>9,} events in {run_['seconds']:>8.1f} s "
                f"= {run_['events_per_s']:>8,.0f} events/s"
            )
    rows: list[tuple[str, dict[str, Any]]] = [("overview (direct)", report["direct"]["overview"])]
    rows += [(f"{name} (direct)", f) for name, f in report["direct"]["metrics"].items()]
    http = report.get("http", {})
    if "/ops/api/metrics" in http:
        rows.append(("GET /ops/api/metrics", http["/ops/api/metrics"]))
        if "/ops/api/metrics (repeated filter)" in http:
            rows.append(("GET /ops/api/metrics (repeated filter)", http["/ops/api/metrics (repeated filter)"]))
        rows += [(f"GET /ops/api/metrics/{n}", f) for n, f in http["/ops/api/metrics/{name}"].items()]
        rows += [(f"GET /ops/api/breakdown/{n}", f) for n, f in http.get("/ops/api/breakdown/{name}", {}).items()]
        if "/ops/api/unrecognized" in http:
            rows.append(("GET /ops/api/unrecognized", http["/ops/api/unrecognized"]))
    elif http:
        print(f"HTTP endpoints: {http.get('skipped')}")
    print(f"\n{'call':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target p95 <= {TARGET_P95_MS:.0f} ms")
    for name, f in rows:
        flag = "met" if f["p95_ms"] <= TARGET_P95_MS else "NOT met"
        print(f"{name:<44} {f['n']:>4} {f['p50_ms']:>8.1f} {f['p95_ms']:>8.1f} {f['max_ms']:>8.1f}  {flag}")
    if "cluster_fit_ms" in report:
        print(f"\nclusters of unrecognized messages fitted once (the runner, after a run): {report['cluster_fit_ms']:.0f} ms")
    spans = report.get("overview_by_span_ms", {})
    if spans:
        print(f"\nunfiltered, best of 3 (ms): {'metric':<22} " + " ".join(f"{span:>7}" for span in spans))
        for name in next(iter(spans.values())):
            print(f"{'':<28}{name:<22} " + " ".join(f"{spans[span][name]:>7.1f}" for span in spans))
    base = report["baseline"]
    print(f"\nbaseline, {base['range'][0]}..{base['range'][1]}: raw events table (JSON scan) vs analytics tables")
    for name in ("intents", "conversations_per_day"):
        b = base[name]
        print(
            f"{name:<24} raw {b['raw_events_ms']:>9.1f} ms (total {b['raw_total']:,})   "
            f"analytics {b['analytics_tables_ms']:>7.1f} ms (total {b['analytics_total']:,})   x{b['speedup']}"
        )


if __name__ == "__main__":
    sys.exit(main())
