"""Goodwill coupons: an agent gives the member a no-threshold coupon, within the agent's limits.

Each amount has its own inactive template ``GOODWILL_<yuan>`` (created on first use; inactive so
it is never offered or claimable), and the coupon is issued into the member's coupon wallet like
any other: valid 30 days, usable on any order. Limits per agent: ``goodwill_limit`` yuan per
coupon and ``goodwill_daily_count`` coupons per calendar day (ops accounts have 0). The agent's
row is locked while counting, so two clicks at once cannot both pass the daily limit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from personalization.coupon_rules import coupon_valid_until
from personalization.desk.agents import record_action
from personalization.desk.errors import DeskError
from personalization.desk.handoff import DESK_ROLES
from personalization.models import Agent, AgentAction, Conversation, Coupon, CouponTemplate, HandoffRequest
from personalization.services._common import find_member, resolve_now, yuan_text
from personalization.services.coupons import CODE_ALPHABET, CODE_LENGTH, coupon_dict

TEMPLATE_PREFIX = "GOODWILL_"
VALID_DAYS = 30
MAX_AMOUNT = Decimal(10000)


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise DeskError("bad_amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise DeskError("bad_amount") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise DeskError("bad_amount")
    return amount.quantize(Decimal("0.01"))


def _lock_agent(session: Session, agent_id: int) -> Agent | None:
    """The agent's row, locked until the transaction ends (SQLite: the write lock)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Agent).where(Agent.id == agent_id).values(active=Agent.active)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        return session.get(Agent, agent_id, populate_existing=True)
    return session.scalar(
        select(Agent).where(Agent.id == agent_id).with_for_update().execution_options(populate_existing=True)
    )


def _template(session: Session, amount: Decimal) -> CouponTemplate:
    template_id = f"{TEMPLATE_PREFIX}{yuan_text(amount)}"
    template = session.get(CouponTemplate, template_id)
    if template is None:
        text = yuan_text(amount)
        template = CouponTemplate(
            template_id=template_id, title_zh=f"客服补偿券¥{text}", title_en=f"Goodwill coupon ¥{text}",
            kind="amount_off", value=amount, min_spend=Decimal(0), category=None, valid_days=VALID_DAYS,
            audience="all", valid_from=None, valid_until=None, per_member_limit=1, limit_period="campaign",
            total_stock=None, issued_count=0, active=False,
        )  # fmt: skip
        session.add(template)
        session.flush()
    return template


def _new_code(session: Session) -> str:
    while True:
        code = "CP" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.get(Coupon, code) is None:
            return code


def _check_conversation(session: Session, agent: Agent, member_id: str, conversation_id: str) -> None:
    """The coupon goes to the member of a conversation this agent is serving (admins: any of theirs)."""
    owner = session.scalar(select(Conversation.member_id).where(Conversation.public_id == conversation_id))
    served = session.scalar(
        select(HandoffRequest).where(
            HandoffRequest.conversation_id == conversation_id, HandoffRequest.status == "assigned"
        )
    )
    if owner is None and served is not None:
        owner = served.member_id
    if owner != member_id:
        raise DeskError("no_member")
    if agent.role != "admin" and (served is None or served.agent_id != agent.id):
        raise DeskError("not_yours")


def issued_today(session: Session, agent_id: int, now: datetime) -> int:
    """Goodwill coupons the agent issued since midnight of ``now``'s day."""
    midnight = datetime.combine(now.date(), time())
    return int(
        session.scalar(
            select(func.count())
            .select_from(AgentAction)
            .where(
                AgentAction.agent_id == agent_id,
                AgentAction.kind == "goodwill_coupon",
                AgentAction.created_at >= midnight,
                AgentAction.created_at < midnight + timedelta(days=1),
            )
        )
        or 0
    )


def issue_goodwill_coupon(
    session: Session,
    agent_id: int,
    member_id: str,
    amount: Decimal,
    conversation_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Issue the member a no-threshold ``amount`` yuan coupon, valid 30 days, and audit it.

    Returns:
        The coupon card as members see it (``personalization.services.coupons.coupon_dict``).

    Raises:
        DeskError: ``no_agent``, ``forbidden`` (inactive or ops), ``bad_amount``, ``over_limit``,
        ``daily_limit``, ``no_member`` (unknown member, or not this conversation's member),
        ``not_yours`` (the conversation is not assigned to this agent).
    """
    now = resolve_now(now)
    value = _amount(amount)
    agent = _lock_agent(session, agent_id) if isinstance(agent_id, int) and not isinstance(agent_id, bool) else None
    if agent is None:
        raise DeskError("no_agent")
    if not agent.active or agent.role not in DESK_ROLES:
        raise DeskError("forbidden")
    if value > agent.goodwill_limit:
        raise DeskError("over_limit")
    if issued_today(session, agent.id, now) >= agent.goodwill_daily_count:
        raise DeskError("daily_limit")
    member = find_member(session=session, member_id=member_id)
    if member is None:
        raise DeskError("no_member")
    _check_conversation(session, agent, member.member_id, conversation_id)
    template = _template(session, value)
    template.issued_count = (template.issued_count or 0) + 1
    coupon = Coupon(
        code=_new_code(session), member_id=member.member_id, template_id=template.template_id, issued_at=now,
        valid_from=now, valid_until=coupon_valid_until(valid_days=VALID_DAYS, template_valid_until=None, claimed_at=now),
        status="available", claim_key=f"gw#{secrets.token_hex(8)}",
    )  # fmt: skip
    coupon.template = template
    session.add(coupon)
    session.flush()
    card = coupon_dict(coupon)
    record_action(
        session, agent.id, "goodwill_coupon", conversation_id=conversation_id,
        detail={"member_id": member.member_id, "amount": float(value), "code": coupon.code}, now=now,
    )  # fmt: skip
    return card
