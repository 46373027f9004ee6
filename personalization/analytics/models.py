"""Analytics tables, filled incrementally by :mod:`personalization.analytics.pipeline`.

They live on the app's :class:`~personalization.models.Base`, so ``create_schema`` creates them
(once this module is imported; :func:`personalization.analytics.ensure_tables` does both).

* ``analytics_conversations``: one row per Rasa *session* (a sender id can have several sessions;
  the key is ``"<sender_id>#<id of the event that opened the session>"``).
* ``analytics_turns``: one row per member message (Rasa ``user`` event), text masked.
* ``analytics_cursor``: per source, the id of the last event (or app row) processed.
* ``analytics_spool``: events consumed from RabbitMQ, stored once, read like Rasa's SQL broker table.
* ``analytics_daily``: additive counts per (conversation start day, tier, segment), recomputed from
  the two tables above in the pipeline's transactions (:mod:`personalization.analytics.rollups`).
* ``analytics_rollup_state``: the rollup's format version and a generation bumped on every change
  (the dashboard's cache key).

No foreign keys to the member store: analytics must survive a member's deletion (privacy
requests) and anonymous visitors have no member row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from personalization.models import Base

RESOLVED_BY = ("bot", "human", "unresolved")


class AnalyticsConversation(Base):
    """One conversation (Rasa session) with its aggregates and the joined app facts."""

    __tablename__ = "analytics_conversations"
    __table_args__ = (
        Index("ix_analytics_conv_day", "started_day"),
        Index("ix_analytics_conv_sender_start", "sender_id", "start_event_id"),
        # Covers the dashboard's aggregates (metrics.py) so they read this index, not the wide rows
        # (JSON columns): 3-5x faster at 50k conversations (bench/analytics_scale.py).
        Index(
            "ix_analytics_conv_dashboard",
            "started_day", "tier", "segment", "resolved_by", "handoff_requested", "handoff_reason", "turns",
            "fallbacks", "first_polarity", "last_polarity", "csat", "rec_shown", "rec_engaged",
            "coupon_offers_shown", "coupons_claimed", "member_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_key: Mapped[str] = mapped_column(String(300), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255))
    start_event_id: Mapped[int] = mapped_column(BigInteger)
    last_event_id: Mapped[int] = mapped_column(BigInteger)  # events up to here are applied (idempotence guard)
    member_id: Mapped[Optional[str]] = mapped_column(String(32), default=None, index=True)
    tier: Mapped[Optional[str]] = mapped_column(String(16), default=None, index=True)
    segment: Mapped[Optional[str]] = mapped_column(String(16), default=None, index=True)
    channel: Mapped[Optional[str]] = mapped_column(String(32), default=None)
    language: Mapped[Optional[str]] = mapped_column(String(2), default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    started_day: Mapped[date] = mapped_column(Date)
    ended_at: Mapped[datetime] = mapped_column(DateTime)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    intents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # intent -> count
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    last_turn_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    last_turn_event_id: Mapped[Optional[int]] = mapped_column(BigInteger, default=None)
    first_polarity: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    first_emotion: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    last_polarity: Mapped[Optional[str]] = mapped_column(String(16), default=None, index=True)
    last_emotion: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    # [[polarity, emotion, score], ...] per member message, at most SENTIMENT_PATH_MAX entries.
    sentiment_path: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Handoff as seen in the event stream (action_handoff_to_human / a "handoff" payload) ...
    handoff_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # ... and as stored by the desk (personalization.models.HandoffRequest), joined by the pipeline.
    handoff_id: Mapped[Optional[int]] = mapped_column(Integer, default=None)
    handoff_reason: Mapped[Optional[str]] = mapped_column(String(32), default=None)
    handoff_emotion: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    handoff_status: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    handoff_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, default=None)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    csat: Mapped[Optional[int]] = mapped_column(Integer, default=None)
    resolved_by: Mapped[str] = mapped_column(String(12), default="bot")  # bot / human / unresolved
    # Personalization outcomes (see metrics.recommendation_click_through / coupon_rates).
    rec_shown: Mapped[int] = mapped_column(Integer, default=0)  # product_cards replies
    rec_engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    coupon_offers_shown: Mapped[int] = mapped_column(Integer, default=0)
    coupons_claimed: Mapped[int] = mapped_column(Integer, default=0)
    claimed_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # True while a joined app fact can still change (an active handoff): re-joined on every run.
    needs_refresh: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AnalyticsTurn(Base):
    """One member message."""

    __tablename__ = "analytics_turns"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_analytics_turn_event"),
        Index("ix_analytics_turn_day", "day"),
        # Intents / sentiment per day join turns to the filtered conversations: covered, no row reads.
        Index("ix_analytics_turn_conv_cover", "conversation_id", "day", "intent", "polarity", "emotion"),
        # Fallback messages for the unrecognized clusters: read from the ~10 % fallback turns, not all turns.
        Index("ix_analytics_turn_fallback", "fallback", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(BigInteger)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("analytics_conversations.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3... within the conversation
    at: Mapped[datetime] = mapped_column(DateTime)
    day: Mapped[date] = mapped_column(Date)
    intent: Mapped[Optional[str]] = mapped_column(String(64), default=None)
    confidence: Mapped[Optional[float]] = mapped_column(Float, default=None)
    polarity: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    emotion: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    score: Mapped[Optional[float]] = mapped_column(Float, default=None)
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    text_masked: Mapped[str] = mapped_column(Text, default="")


class AnalyticsCursor(Base):
    """Where a source was read up to; written in the same transaction as the rows it produced."""

    __tablename__ = "analytics_cursor"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    events_processed: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)



class AnalyticsSpool(Base):
    """Rasa events consumed from RabbitMQ (:mod:`personalization.analytics.rabbitmq`), replayable.

    Laid out like Rasa's SQL broker table (``id, sender_id, data``) so the pipeline reads it the
    same way. ``(event_hash, occurrence)`` is unique: a redelivered message is stored once.
    ``sqlite_autoincrement``: ids are never reused, so the pipeline's cursor never skips a row.
    """

    __tablename__ = "analytics_spool"
    __table_args__ = (
        UniqueConstraint("event_hash", "occurrence", name="uq_analytics_spool_event"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)  # the message body (Rasa's event JSON)
    event_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical JSON (or of the raw body)
    occurrence: Mapped[int] = mapped_column(Integer, default=1)  # 2, 3... for distinct messages with one hash
    received_at: Mapped[datetime] = mapped_column(DateTime)


class AnalyticsDaily(Base):
    """Additive counts of the conversations that started on ``day`` with one (tier, segment).

    ``tier`` / ``segment`` are the conversations' own values (``None`` = anonymous / no segment), so
    the dashboard's filters apply to these rows exactly as to ``analytics_conversations``.
    ``counts`` holds conversation-level counts (``{"turns": n, "resolved:bot": n, ...}``, see
    :func:`personalization.analytics.rollups.conversation_counts`); ``turn_counts`` the counts of
    their member messages per message day (``{"2026-11-02": {"intent:greet": n, ...}}``): a
    conversation may run past midnight. ``coupon_codes``: the codes claimed in these conversations
    (redemption is looked up at read time: it changes without events), ``members`` the distinct
members and ``negatives`` the newest conversations that ended negative (candidates for the
dashboard's list: the newest of a filter are among the newest of its rows). Never edited in place: the rows of a day are recomputed.
    """

    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_day", "day", "tier", "segment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    tier: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    segment: Mapped[Optional[str]] = mapped_column(String(16), default=None)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    turn_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    coupon_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # claimed in chat: for redemption
    members: Mapped[list[str]] = mapped_column(JSON, default=list)  # distinct member ids (not additive)
    # The newest conversations that ended negative: [["<ended_at>", id], ...], newest first, at most 50.
    negatives: Mapped[list[Any]] = mapped_column(JSON, default=list)


class AnalyticsRollupState(Base):
    """One row per rollup: its format ``version`` (a rebuild when the code's differs) and a
    ``generation`` bumped in every transaction that rewrites rollup rows."""

    __tablename__ = "analytics_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)


ANALYTICS_TABLES = (
    AnalyticsConversation.__table__,
    AnalyticsTurn.__table__,
    AnalyticsCursor.__table__,
    AnalyticsSpool.__table__,
    AnalyticsDaily.__table__,
    AnalyticsRollupState.__table__,
)
