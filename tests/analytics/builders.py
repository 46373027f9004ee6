"""Rasa events shaped like the ones Rasa 3.6's SQL event broker stores (copied field for field from
an events.db written by tests/e2e), a broker database to hold them, and a small app database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from personalization.db import create_schema, make_engine, session_factory
from personalization.models import (
    Agent,
    ChatMessage,
    Conversation,
    Coupon,
    CouponTemplate,
    CsatRating,
    HandoffRequest,
    Member,
    MemberProfileRow,
    Tier,
)
from personalization.settings import Settings

META = {"model_id": "502e1c44b5e14e048f8fa9e494f55958", "assistant_id": "member-service-assistant"}
EMPTY_BOT_DATA = {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None}


@dataclass
class EventLog:
    """Events of several conversations, appended in the order Rasa would publish them."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, sender: str, at: datetime, kind: str, **fields: Any) -> None:
        event = {"sender_id": sender, "event": kind, "timestamp": at.timestamp(), "metadata": dict(META), **fields}
        self.rows.append((sender, event))

    def session_start(self, sender: str, at: datetime, *, member: str | None = None, name: str = "", tier: str = "") -> None:
        value = {"member_id": member} if member else {}
        self.add(sender, at, "slot", name="session_started_metadata", value=value)
        self.add(sender, at, "action", name="action_session_start", policy=None, confidence=1.0, action_text=None, hide_rule_turn=False)
        self.add(sender, at, "session_started")
        self.add(sender, at, "slot", name="session_started_metadata", value=value)
        if member:
            self.add(sender, at, "slot", name="member_id", value=member)
            self.add(sender, at, "slot", name="member_name", value=name)
            self.add(sender, at, "slot", name="member_tier", value=tier)
        self.add(sender, at, "slot", name="language", value="zh")
        self.action(sender, at, "action_listen")

    def user(
        self,
        sender: str,
        at: datetime,
        text_: str,
        intent: str,
        *,
        confidence: float = 0.95,
        polarity: str = "neutral",
        emotion: str = "neutral",
        score: float = 0.9,
        member: str | None = None,
    ) -> None:
        metadata = {"member_id": member} if member else {}
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [],
            "text": text_,
            "message_id": f"m{len(self.rows)}",
            "metadata": metadata,
            "intent_ranking": [{"name": intent, "confidence": confidence}],
            "sentiment": {"polarity": polarity, "emotion": emotion, "score": score},
        }
        self.add(sender, at, "user", text=text_, parse_data=parse, input_channel="rest", message_id=f"m{len(self.rows)}")
        self.rows[-1][1]["metadata"] = {**metadata, **META}
        self.add(sender, at, "user_featurization", use_text_for_featurization=False)

    def action(self, sender: str, at: datetime, name: str) -> None:
        self.add(sender, at, "action", name=name, policy="RulePolicy", confidence=1.0, action_text=None, hide_rule_turn=False)

    def bot(self, sender: str, at: datetime, text_: str, custom: dict[str, Any] | None = None) -> None:
        self.add(sender, at, "bot", text=text_, data={**EMPTY_BOT_DATA, "custom": custom})


def product_cards(*skus: str) -> dict[str, Any]:
    return {"type": "product_cards", "items": [{"sku": sku, "title_zh": sku, "price": 59.0} for sku in skus], "filters": {}}


def write_events(path: Path, log: EventLog, *, extra_rows: list[tuple[str, str]] = ()) -> str:
    """The broker database Rasa's SQLEventBroker creates: ``events(id, sender_id, data)``."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE IF NOT EXISTS events (id INTEGER NOT NULL, sender_id VARCHAR(255), data TEXT, PRIMARY KEY (id))")
        )
        for sender, event in log.rows:
            connection.execute(
                text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"), {"s": sender, "d": json.dumps(event, ensure_ascii=False)}
            )
        for sender, raw in extra_rows:
            connection.execute(text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"), {"s": sender, "d": raw})
    engine.dispose()
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class AppDb:
    url: str
    engine: Engine
    factory: sessionmaker[Session]


def app_db(path: Path | str) -> AppDb:
    """An empty app database (every table, analytics included) with tiers, two members, an agent.

    ``path`` is a SQLite file, or a SQLAlchemy URL of an empty database (PostgreSQL).
    """
    url = path if isinstance(path, str) else f"sqlite:///{path}"
    engine = make_engine(Settings(database_url=url))
    create_schema(engine)
    factory = session_factory(engine)
    with factory() as session:
        for rank, code in enumerate(("normal", "silver", "gold", "diamond")):
            session.add(
                Tier(code=code, rank=rank, name_zh=code, name_en=code, threshold=rank * 1000,
                     points_multiplier=Decimal("1.00"), benefits_zh=[], benefits_en=[], perks={})
            )
        session.flush()
        for member_id, name, tier, segment in (("M100001", "张伟", "gold", "loyal"), ("M100002", "李娜", "normal", "at_risk")):
            session.add(
                Member(member_id=member_id, name=name, gender="U", birthday=None, city="上海", phone="13800000000",
                       registered_at=datetime(2025, 1, 1), tier_code=tier)
            )
            session.flush()
            session.add(
                MemberProfileRow(member_id=member_id, computed_at=datetime(2026, 11, 1), segment=segment,
                                 lifecycle="active", profiled=True, churn_risk=0.1, data={})
            )
        session.add(Agent(username="agent1", display_name="小王", password_hash="x", role="agent", created_at=datetime(2026, 1, 1)))
        session.add(
            CouponTemplate(template_id="T10", title_zh="满100减10", title_en="10 off 100", kind="amount_off", value=Decimal(10),
                           min_spend=Decimal(100), category=None, valid_days=30, audience="all")
        )
        session.commit()
    return AppDb(url=url, engine=engine, factory=factory)


def add_coupon(session: Session, code: str, member_id: str, *, used: bool) -> None:
    at = datetime(2026, 11, 3, 15, 0)
    session.add(
        Coupon(code=code, member_id=member_id, template_id="T10", issued_at=at, valid_from=at, valid_until=datetime(2026, 12, 3),
               status="used" if used else "available", used_at=datetime(2026, 11, 4) if used else None,
               order_id="DD202611040001" if used else None)
    )


def add_handoff(
    session: Session,
    sender: str,
    member_id: str | None,
    created: datetime,
    *,
    reason: str = "member_request",
    emotion: str | None = None,
    tier: str | None = None,
    claimed: datetime | None = None,
    resolved: datetime | None = None,
) -> HandoffRequest:
    agent_id = session.query(Agent.id).filter_by(username="agent1").scalar() if claimed else None
    status = "resolved" if resolved else ("assigned" if claimed else "queued")
    request = HandoffRequest(conversation_id=sender, member_id=member_id, reason=reason, priority=10, created_at=created,
                             status=status, agent_id=agent_id, claimed_at=claimed, resolved_at=resolved, emotion=emotion, tier=tier)
    session.add(request)
    session.flush()
    return request


def add_chat(session: Session, sender: str, member_id: str | None, messages: list[tuple[str, datetime, str]]) -> None:
    """The web app's copy of a conversation: ``(sender, at, text)`` per message."""
    conversation = Conversation(public_id=sender, member_id=member_id, created_at=messages[0][1], updated_at=messages[-1][1],
                                last_seq=len(messages))
    session.add(conversation)
    session.flush()
    for seq, (who, at, body) in enumerate(messages, start=1):
        session.add(ChatMessage(conversation_id=conversation.id, seq=seq, sender=who, text=body, created_at=at))


def add_csat(session: Session, sender: str, score: int, at: datetime, *, handoff_id: int | None = None, member_id: str | None = None) -> None:
    session.add(CsatRating(conversation_id=sender, handoff_id=handoff_id, member_id=member_id, score=score, source="chat", created_at=at))
