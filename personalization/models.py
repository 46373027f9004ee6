"""The member store: SQLAlchemy 2 models with typed ``Mapped`` columns.

Money is stored as ``Numeric(10, 2)`` yuan. Identifiers members see are strings:
member ids look like ``M100001``, order ids like ``DD202610150123`` and SKUs like ``SKU10001``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from personalization.privacy.crypto import EncryptedDate, EncryptedString


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Tier(Base):
    """Membership tier (普通/银卡/金卡/钻石), reached by growth value (成长值 = yuan spent)."""

    __tablename__ = "tiers"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # normal/silver/gold/diamond
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    name_zh: Mapped[str] = mapped_column(String(16))
    name_en: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[int] = mapped_column(Integer)  # growth value needed
    points_multiplier: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    benefits_zh: Mapped[list[str]] = mapped_column(JSON)
    benefits_en: Mapped[list[str]] = mapped_column(JSON)
    # Structured benefits (free_shipping_min_spend, birthday_gift_zh/en, priority_service, ...);
    # see personalization.services.tiers.tier_perks for the keys.
    perks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Member(Base):
    __tablename__ = "members"

    member_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(1))  # F / M / U
    # Encrypted at rest (AES-GCM, personalization.privacy.crypto): never compare or sort them in SQL.
    birthday: Mapped[Optional[date]] = mapped_column(EncryptedDate("members.birthday"))
    city: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(EncryptedString("members.phone"))
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    consent_personalization: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_updated_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    preferred_language: Mapped[str] = mapped_column(String(2), default="zh")  # zh / en
    tier_code: Mapped[str] = mapped_column(ForeignKey("tiers.code"))
    growth_value: Mapped[int] = mapped_column(Integer, default=0)

    tier: Mapped[Tier] = relationship(lazy="joined")


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(16), primary_key=True)
    title_zh: Mapped[str] = mapped_column(String(128))
    title_en: Mapped[str] = mapped_column(String(160))
    category: Mapped[str] = mapped_column(String(32), index=True)
    brand: Mapped[str] = mapped_column(String(32), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    tags: Mapped[list[str]] = mapped_column(JSON)
    stock: Mapped[int] = mapped_column(Integer)
    launched_at: Mapped[datetime] = mapped_column(DateTime)


class Order(Base):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # pending_payment / paid / shipped / delivered / completed / cancelled / returned
    status: Mapped[str] = mapped_column(String(20))
    total_amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    shipping_city: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[Optional[str]] = mapped_column(String(32))
    tracking_no: Mapped[Optional[str]] = mapped_column(String(32))
    coupon_code: Mapped[Optional[str]] = mapped_column(String(24))

    items: Mapped[list["OrderItem"]] = relationship(back_populates="order", cascade="all, delete-orphan")
    timeline: Mapped[list["ShipmentEvent"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="ShipmentEvent.at"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(lazy="joined")


class ShipmentEvent(Base):
    """One step of an order's shipping timeline (下单, 发货, 运输中, 派送中, 已签收...)."""

    __tablename__ = "shipment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))
    description_zh: Mapped[str] = mapped_column(String(128))
    description_en: Mapped[str] = mapped_column(String(160))

    order: Mapped[Order] = relationship(back_populates="timeline")


class BrowseEvent(Base):
    __tablename__ = "browse_events"
    __table_args__ = (Index("ix_browse_member_at", "member_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(12))  # view / cart / favorite


class CouponTemplate(Base):
    __tablename__ = "coupon_templates"

    template_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title_zh: Mapped[str] = mapped_column(String(64))
    title_en: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(12))  # amount_off / percent_off
    value: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # yuan off, or percent off (e.g. 10 = 10%)
    min_spend: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    category: Mapped[Optional[str]] = mapped_column(String(32))  # None = whole shop
    valid_days: Mapped[int] = mapped_column(Integer)  # an issued coupon is valid this long after its claim
    # all / new_member / birthday / winback / tier:<code>
    audience: Mapped[str] = mapped_column(String(24))
    # Campaign window in which the template can be claimed (None = open-ended on that side).
    valid_from: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    valid_until: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    # At most per_member_limit claims per member per limit_period (campaign / year / month).
    per_member_limit: Mapped[int] = mapped_column(Integer, default=1)
    limit_period: Mapped[str] = mapped_column(String(12), default="campaign")
    # Budget: coupons that may be issued in all (None = unlimited) and how many have been.
    total_stock: Mapped[Optional[int]] = mapped_column(Integer, default=None)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Coupon(Base):
    """A coupon issued to one member: claimed (issued_at), redeemed (used_at + order_id) or expired."""

    __tablename__ = "coupons"
    # claim_key is "<period>#<n>" (e.g. "2026-10#1"): a second concurrent claim of the same slot fails here.
    __table_args__ = (UniqueConstraint("member_id", "template_id", "claim_key", name="uq_coupon_claim_slot"),)

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"), index=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("coupon_templates.template_id"))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_until: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))  # available / used / expired
    used_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    order_id: Mapped[Optional[str]] = mapped_column(String(20))
    claim_key: Mapped[Optional[str]] = mapped_column(String(24), default=None)

    template: Mapped[CouponTemplate] = relationship(lazy="joined")


class PointsEntry(Base):
    """Points ledger. Earned lots expire; redemptions and expiries consume the oldest lots first."""

    __tablename__ = "points_ledger"
    __table_args__ = (Index("ix_points_member_at", "member_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"))
    at: Mapped[datetime] = mapped_column(DateTime)
    amount: Mapped[int] = mapped_column(Integer)  # + earned, - redeemed / expired
    kind: Mapped[str] = mapped_column(String(12))  # earn / redeem / expire / adjust
    reason: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[Optional[str]] = mapped_column(String(20))
    expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class MemberProfileRow(Base):
    """A member's stored profile (personalization.profiles.MemberProfile as JSON), as of ``computed_at``.

    ``segment``, ``lifecycle`` and ``churn_risk`` are copied out of ``data`` so they can be queried.
    """

    __tablename__ = "member_profiles"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    segment: Mapped[Optional[str]] = mapped_column(String(16), index=True)
    lifecycle: Mapped[str] = mapped_column(String(12), index=True)
    profiled: Mapped[bool] = mapped_column(Boolean)  # False: opted out, basic attributes only
    churn_risk: Mapped[Optional[float]] = mapped_column(Numeric(5, 4, asdecimal=False))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ReturnRequest(Base):
    __tablename__ = "return_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="submitted")


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    member_id: Mapped[Optional[str]] = mapped_column(ForeignKey("members.member_id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")


class HandoffRequest(Base):
    """A conversation handed to a human agent: queued -> assigned -> resolved (or cancelled by the member).

    ``conversation_id`` is the Rasa sender id (``Conversation.public_id`` for web chats). At most one
    request per conversation is active (queued or assigned): a partial unique index enforces it.
    ``priority`` is the static part of the queue score (personalization.desk.handoff.PRIORITY).
    """

    __tablename__ = "handoff_requests"
    __table_args__ = (
        Index(
            "uq_handoff_active_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'assigned')"),
            postgresql_where=text("status IN ('queued', 'assigned')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    member_id: Mapped[Optional[str]] = mapped_column(ForeignKey("members.member_id"))
    reason: Mapped[str] = mapped_column(String(32))  # member_request / complaint / negative_emotion / ...
    priority: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued/assigned/resolved/cancelled
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), default=None, index=True)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    emotion: Mapped[Optional[str]] = mapped_column(String(16), default=None)  # anger / anxiety / ...
    tier: Mapped[Optional[str]] = mapped_column(String(16), default=None)  # the member's tier code then
    note: Mapped[Optional[str]] = mapped_column(Text, default=None)


class Conversation(Base):
    """A web chat between a member (or an anonymous visitor) and the assistant / an agent.

    ``public_id`` ("C" + 20 hex chars) is what the widget and Rasa (``sender_id``) see.
    ``last_seq`` is the highest message ``seq``; it is raised under the row's lock.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_member_status", "member_id", "status"),
        Index("ix_conversations_visitor_status", "visitor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    member_id: Mapped[Optional[str]] = mapped_column(ForeignKey("members.member_id"), default=None)
    visitor_id: Mapped[Optional[str]] = mapped_column(String(40), default=None)
    language: Mapped[str] = mapped_column(String(2), default="zh")
    status: Mapped[str] = mapped_column(String(8), default="open")  # open / closed
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class ChatMessage(Base):
    """One message of a conversation, numbered 1, 2, 3... by ``seq``; ``client_id`` makes resends idempotent."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_message_seq"),
        UniqueConstraint("conversation_id", "client_id", name="uq_chat_message_client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[Optional[str]] = mapped_column(String(64), default=None)
    sender: Mapped[str] = mapped_column(String(8))  # member / bot / agent / system
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, default=None)
    intent: Mapped[Optional[str]] = mapped_column(String(64), default=None)
    sentiment: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, default=None)  # polarity, emotion, score
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Agent(Base):
    """A support-desk user: ``agent`` (answers members), ``ops`` (dashboards) or ``admin``.

    ``password_hash`` is ``scrypt$n$r$p$salt_hex$hash_hex`` (personalization.desk.agents).
    """

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(8))  # agent / ops / admin
    goodwill_limit: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))  # max yuan per coupon
    goodwill_daily_count: Mapped[int] = mapped_column(Integer, default=0)  # goodwill coupons per day
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AgentAction(Base):
    """Audit trail of the desk: login, claim, reply, transfer, resolve, goodwill_coupon, logout."""

    __tablename__ = "agent_actions"
    __table_args__ = (Index("ix_agent_actions_agent_kind_at", "agent_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    conversation_id: Mapped[Optional[str]] = mapped_column(String(128), default=None, index=True)
    handoff_id: Mapped[Optional[int]] = mapped_column(Integer, default=None)
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CsatRating(Base):
    """A member's 1-5 satisfaction rating of a conversation (one per handed-off service)."""

    __tablename__ = "csat_ratings"
    __table_args__ = (UniqueConstraint("conversation_id", "handoff_id", name="uq_csat_conversation_handoff"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    handoff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("handoff_requests.id"), default=None)
    member_id: Mapped[Optional[str]] = mapped_column(ForeignKey("members.member_id"), default=None)
    score: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))  # widget / chat
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PrivacyRequest(Base):
    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # export / delete / opt_out / opt_in
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="received")


class PrivacyReport(Base):
    """The verifiable report of one erasure (personalization.rights.erase), kept as proof that it was done.

    ``report`` is the JSON of :class:`personalization.rights.report.ErasureReport`: per store and table the
    rows found / deleted / anonymized / kept, and the verification re-scan. It never holds the member's
    name or phone.
    """

    __tablename__ = "privacy_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(String(16), index=True)
    request_id: Mapped[Optional[int]] = mapped_column(Integer, default=None)
    kind: Mapped[str] = mapped_column(String(12), default="erasure")
    status: Mapped[str] = mapped_column(String(12))  # completed / failed
    requested_by: Mapped[str] = mapped_column(String(64))  # "cli", "admin:<username>"
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime, default=None)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditLogEntry(Base):
    """Who looked at (or exported) which member's data, when: read by admins (personalization.privacy.audit).

    ``action``: view_profile (an agent's full profile panel), preview_profile (the reduced panel of a
    queued conversation), view_transcript (ops drill-down, masked), export_csv (ops), export / erase
    (members' rights operations). ``actor_id`` is the desk account (None for the command line).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_member_at", "member_id", "at"), Index("ix_audit_actor_at", "actor_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[Optional[int]] = mapped_column(Integer, default=None)  # no FK: the trail outlives accounts
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(8))  # agent / ops / admin / cli
    member_id: Mapped[Optional[str]] = mapped_column(String(16), default=None)  # no FK: kept after an erase
    action: Mapped[str] = mapped_column(String(24))
    target: Mapped[Optional[str]] = mapped_column(String(160), default=None)  # conversation id / key, export name
    detail: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, default=None)
