"""The human-handoff queue: request, priority, claim, transfer, resolve, cancel, who may see what.

A conversation has at most one *active* handoff (``queued`` or ``assigned``). Its place in the
queue comes from :data:`PRIORITY`::

    score = tier weight + emotion weight + reason weight + min(waiting minutes, 30)

    tier      diamond 30 · gold 20 · silver 10 · normal / anonymous 0
    emotion   anger 30 · anxiety 20 · disappointment 10 · other 0
    reason    negative_emotion 15 · repeated_fallback 10 · complaint 10 · other 0
    waiting   +1 per whole minute queued, at most +30

The first three parts are fixed when the request is queued and stored as ``priority``; the
waiting part grows, so nobody waits behind newer arrivals forever. Ties go to the earlier request.
Claims, transfers and resolutions are conditional ``UPDATE``\\s: of two agents claiming at once,
exactly one wins and the other gets ``DeskError("already_claimed")``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from personalization.desk._locks import lock_key
from personalization.desk.errors import DeskError
from personalization.models import Agent, ChatMessage, Conversation, HandoffRequest, Member
from personalization.privacy.pii import mask_name, mask_text
from personalization.services._common import find_member, iso, resolve_now

PRIORITY: dict[str, Any] = {
    "tier": {"diamond": 30, "gold": 20, "silver": 10, "normal": 0},
    "emotion": {"anger": 30, "anxiety": 20, "disappointment": 10},
    "reason": {"negative_emotion": 15, "repeated_fallback": 10, "complaint": 10},
    "per_waiting_minute": 1,
    "waiting_cap": 30,
}
ACTIVE_STATUSES = ("queued", "assigned")
DESK_ROLES = ("agent", "admin")  # roles that serve members
LAST_MESSAGE_CHARS = 80


def static_priority(*, tier: str | None, emotion: str | None, reason: str | None) -> int:
    """The fixed part of the queue score (tier + emotion + reason weights)."""
    return (
        PRIORITY["tier"].get(tier or "", 0)
        + PRIORITY["emotion"].get(emotion or "", 0)
        + PRIORITY["reason"].get(reason or "", 0)
    )


def waiting_bonus(created_at: datetime, now: datetime) -> int:
    """+1 per whole minute waited, capped at 30."""
    minutes = max(int((now - created_at).total_seconds() // 60), 0)
    return min(minutes * PRIORITY["per_waiting_minute"], PRIORITY["waiting_cap"])


def queue_score(request: HandoffRequest, now: datetime) -> int:
    """The request's score at ``now`` (higher is served first)."""
    return int(request.priority) + waiting_bonus(request.created_at, now)


def _ordered_queue(session: Session, now: datetime) -> list[HandoffRequest]:
    rows = session.scalars(select(HandoffRequest).where(HandoffRequest.status == "queued")).all()
    return sorted(rows, key=lambda r: (-queue_score(r, now), r.created_at, r.id))


def queue_position(session: Session, request: HandoffRequest, now: datetime | None = None) -> int:
    """1 for the next to be served; 0 when the request is not queued."""
    if request.status != "queued":
        return 0
    ids = [r.id for r in _ordered_queue(session, resolve_now(now))]
    return ids.index(request.id) + 1 if request.id in ids else 0


def handoff_key(handoff_id: int | str) -> int | None:
    """The row id from ``12`` or ``"HO000012"``; None for anything else."""
    if isinstance(handoff_id, bool):
        return None
    if isinstance(handoff_id, int):
        return handoff_id
    if isinstance(handoff_id, str):
        digits = handoff_id.strip().upper().removeprefix("HO")
        return int(digits) if digits.isdigit() else None
    return None


def _get(session: Session, handoff_id: int | str) -> HandoffRequest:
    key = handoff_key(handoff_id)
    request = session.get(HandoffRequest, key, populate_existing=True) if key is not None else None
    if request is None:
        raise DeskError("not_found")
    return request


def _agent_name(session: Session, agent_id: int | None) -> str | None:
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent.display_name if agent else None


def handoff_dict(session: Session, request: HandoffRequest, now: datetime | None = None) -> dict[str, Any]:
    """A handoff as the console and the widget see it."""
    now = resolve_now(now)
    waiting_until = request.claimed_at or request.resolved_at or now
    return {
        "handoff_id": request.id,
        "handoff_ref": f"HO{request.id:06d}",
        "conversation_id": request.conversation_id,
        "member_id": request.member_id,
        "status": request.status,
        "reason": request.reason,
        "emotion": request.emotion,
        "tier": request.tier,
        "priority": int(request.priority),
        "score": queue_score(request, now) if request.status == "queued" else int(request.priority),
        "agent_id": request.agent_id,
        "agent_name": _agent_name(session, request.agent_id),
        "created_at": iso(request.created_at),
        "claimed_at": iso(request.claimed_at),
        "resolved_at": iso(request.resolved_at),
        "waiting_seconds": max(int((waiting_until - request.created_at).total_seconds()), 0),
        "queue_position": queue_position(session, request, now) if request.status == "queued" else None,
        "note": request.note,
    }


def _find_active(session: Session, conversation_id: str) -> HandoffRequest | None:
    return session.scalar(
        select(HandoffRequest)
        .where(HandoffRequest.conversation_id == conversation_id, HandoffRequest.status.in_(ACTIVE_STATUSES))
        .order_by(HandoffRequest.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )


def enqueue(
    session: Session,
    conversation_id: str,
    *,
    member_id: str | None,
    reason: str,
    emotion: str | None = None,
    now: datetime | None = None,
) -> tuple[HandoffRequest, bool]:
    """Queue the conversation unless it already has an active handoff; ``(request, created)``.

    Check and insert happen under a lock on the conversation id (SQLite: the write lock;
    PostgreSQL: an advisory lock), and a partial unique index refuses a second active request.

    Raises:
        ValueError: empty ``conversation_id``.
    """
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise ValueError("conversation_id is required")
    conversation_id = conversation_id.strip()
    lock_key(session, conversation_id)
    existing = _find_active(session, conversation_id)
    if existing is not None:
        return existing, False
    member = find_member(session=session, member_id=member_id)
    reason = (reason or "member_request")[:32]
    emotion = emotion[:16] if isinstance(emotion, str) and emotion else None
    tier = member.tier_code if member else None
    request = HandoffRequest(
        conversation_id=conversation_id, member_id=member.member_id if member else None, reason=reason,
        priority=static_priority(tier=tier, emotion=emotion, reason=reason), created_at=resolve_now(now),
        status="queued", emotion=emotion, tier=tier,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:  # a concurrent request won on a database without the lock
        winner = _find_active(session, conversation_id)
        if winner is None:
            raise
        return winner, False
    return request, True


def request_handoff(
    session: Session, conversation_id: str, *, reason: str, emotion: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Queue a web conversation for an agent (or return its active handoff), with ``created``.

    Raises:
        DeskError: ``no_conversation``.
    """
    conversation = session.scalar(select(Conversation).where(Conversation.public_id == conversation_id))
    if conversation is None:
        raise DeskError("no_conversation")
    request, created = enqueue(
        session, conversation_id, member_id=conversation.member_id, reason=reason, emotion=emotion, now=now
    )
    return {**handoff_dict(session, request, now), "created": created}


def active_handoff(session: Session, conversation_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The conversation's queued or assigned handoff, or None."""
    request = _find_active(session, conversation_id) if isinstance(conversation_id, str) else None
    return handoff_dict(session, request, now) if request else None


def get_handoff(session: Session, handoff_id: int | str, now: datetime | None = None) -> dict[str, Any] | None:
    """Any handoff by id (``12`` or ``"HO000012"``), or None."""
    key = handoff_key(handoff_id)
    request = session.get(HandoffRequest, key) if key is not None else None
    return handoff_dict(session, request, now) if request else None


def _preview(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= LAST_MESSAGE_CHARS else text[: LAST_MESSAGE_CHARS - 1] + "…"


def _last_member_texts(session: Session, conversation_ids: list[str]) -> dict[str, str | None]:
    """The newest member message of each conversation, in one query (the queue is pushed often)."""
    if not conversation_ids:
        return {}
    newest = (
        select(ChatMessage.conversation_id, func.max(ChatMessage.seq).label("seq"))
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(Conversation.public_id.in_(conversation_ids), ChatMessage.sender == "member")
        .group_by(ChatMessage.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Conversation.public_id, ChatMessage.text)
        .join(ChatMessage, ChatMessage.conversation_id == Conversation.id)
        .join(newest, (newest.c.conversation_id == ChatMessage.conversation_id) & (newest.c.seq == ChatMessage.seq))
    ).all()
    return {public_id: _preview(text) for public_id, text in rows}


def _last_member_text(session: Session, conversation_id: str) -> str | None:
    return _last_member_texts(session, [conversation_id]).get(conversation_id)


def _queue_item(
    session: Session,
    request: HandoffRequest,
    now: datetime,
    position: int | None,
    last_texts: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    member = session.get(Member, request.member_id) if request.member_id else None
    waiting_until = request.claimed_at or now
    last_message = (
        last_texts.get(request.conversation_id)
        if last_texts is not None
        else _last_member_text(session, request.conversation_id)
    )
    # Every agent sees the queue: the preview hides phones, ID and card numbers, addresses and the
    # member's name until an agent claims the conversation (then the panel shows what they need).
    last_message = mask_text(last_message, names=[member.name] if member else ()) if last_message else last_message
    return {
        "handoff_id": request.id,
        "conversation_id": request.conversation_id,
        "member_id": request.member_id,
        "member_name_masked": mask_name(member.name) if member else None,
        "tier": request.tier,
        "reason": request.reason,
        "emotion": request.emotion,
        "score": queue_score(request, now) if request.status == "queued" else int(request.priority),
        "waiting_seconds": max(int((waiting_until - request.created_at).total_seconds()), 0),
        "last_message": last_message,
        "status": request.status,
        "agent_id": request.agent_id,
        "agent_name": _agent_name(session, request.agent_id),
        "created_at": iso(request.created_at),
        "queue_position": position,
    }


def queue(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Queued handoffs, best score first, then first come."""
    now = resolve_now(now)
    ordered = _ordered_queue(session, now)
    # Members come from the identity map after one query; last messages in one query.
    member_ids = [r.member_id for r in ordered if r.member_id]
    if member_ids:
        session.scalars(select(Member).where(Member.member_id.in_(member_ids))).all()
    last_texts = _last_member_texts(session, [r.conversation_id for r in ordered])
    return [_queue_item(session, r, now, i + 1, last_texts) for i, r in enumerate(ordered)]


def assigned_to(session: Session, agent_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Handoffs assigned to this agent (the console's "my conversations"), oldest claim first."""
    now = resolve_now(now)
    rows = session.scalars(
        select(HandoffRequest)
        .where(HandoffRequest.status == "assigned", HandoffRequest.agent_id == agent_id)
        .order_by(HandoffRequest.claimed_at, HandoffRequest.id)
    ).all()
    return [_queue_item(session, r, now, None) for r in rows]


def _desk_agent(session: Session, agent_id: int) -> Agent:
    """An active agent or admin, else DeskError (``no_agent`` / ``forbidden``)."""
    agent = session.get(Agent, agent_id) if isinstance(agent_id, int) else None
    if agent is None:
        raise DeskError("no_agent")
    if not agent.active or agent.role not in DESK_ROLES:
        raise DeskError("forbidden")
    return agent


def _record(session: Session, agent: Agent, kind: str, request: HandoffRequest, now: datetime, **detail: Any) -> None:
    from personalization.desk.agents import record_action  # agents imports nothing from here; keeps it lazy

    record_action(
        session, agent.id, kind, conversation_id=request.conversation_id, handoff_id=request.id,
        detail=detail or None, now=now,
    )  # fmt: skip


def _conditional_update(session: Session, request_id: int, where: list[Any], **values: Any) -> bool:
    result = session.execute(
        update(HandoffRequest)
        .where(HandoffRequest.id == request_id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim(session: Session, handoff_id: int | str, agent_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Assign a queued handoff to the agent (atomic: ``UPDATE ... WHERE status = 'queued'``).

    Raises:
        DeskError: ``not_found``, ``no_agent``, ``forbidden`` (ops or inactive), ``already_claimed``.
    """
    now = resolve_now(now)
    agent = _desk_agent(session, agent_id)
    request = _get(session, handoff_id)
    if not _conditional_update(
        session, request.id, [HandoffRequest.status == "queued"], status="assigned", agent_id=agent.id, claimed_at=now
    ):
        raise DeskError("already_claimed")
    session.refresh(request)
    _record(session, agent, "claim", request, now)
    session.flush()
    return handoff_dict(session, request, now)


def _assigned_for(session: Session, handoff_id: int | str, agent: Agent) -> HandoffRequest:
    request = _get(session, handoff_id)
    if request.status != "assigned":
        raise DeskError("not_assigned")
    if request.agent_id != agent.id and agent.role != "admin":
        raise DeskError("not_yours")
    return request


def transfer(
    session: Session, handoff_id: int | str, from_agent_id: int, to_agent_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Hand an assigned conversation to another active agent or admin (by its agent or an admin).

    Raises:
        DeskError: ``not_found``, ``no_agent``, ``forbidden``, ``not_assigned``, ``not_yours``,
        ``bad_target`` (unknown, inactive, ops, or the current agent).
    """
    now = resolve_now(now)
    agent = _desk_agent(session, from_agent_id)
    request = _assigned_for(session, handoff_id, agent)
    target = session.get(Agent, to_agent_id) if isinstance(to_agent_id, int) else None
    if target is None or not target.active or target.role not in DESK_ROLES or target.id == request.agent_id:
        raise DeskError("bad_target")
    previous = request.agent_id
    if not _conditional_update(
        session, request.id, [HandoffRequest.status == "assigned", HandoffRequest.agent_id == previous],
        agent_id=target.id,
    ):  # fmt: skip
        raise DeskError("not_yours")
    session.refresh(request)
    _record(session, agent, "transfer", request, now, from_agent_id=previous, to_agent_id=target.id)
    session.flush()
    return handoff_dict(session, request, now)


def resolve(session: Session, handoff_id: int | str, agent_id: int, now: datetime | None = None) -> dict[str, Any]:
    """End the agent's service; the bot takes the conversation back (by its agent or an admin).

    Raises:
        DeskError: ``not_found``, ``no_agent``, ``forbidden``, ``not_assigned``, ``not_yours``.
    """
    now = resolve_now(now)
    agent = _desk_agent(session, agent_id)
    request = _assigned_for(session, handoff_id, agent)
    if not _conditional_update(
        session, request.id, [HandoffRequest.status == "assigned", HandoffRequest.agent_id == request.agent_id],
        status="resolved", resolved_at=now,
    ):  # fmt: skip
        raise DeskError("not_assigned")
    session.refresh(request)
    _record(session, agent, "resolve", request, now)
    session.flush()
    return handoff_dict(session, request, now)


def cancel(session: Session, conversation_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The member leaves: their active handoff (queued, or assigned) becomes ``cancelled``; None if none."""
    now = resolve_now(now)
    request = _find_active(session, conversation_id) if isinstance(conversation_id, str) else None
    if request is None:
        return None
    if not _conditional_update(
        session, request.id, [HandoffRequest.status.in_(ACTIVE_STATUSES)], status="cancelled", resolved_at=now
    ):
        return None
    session.refresh(request)
    return handoff_dict(session, request, now)


def _agent_of(session: Session, agent: Agent | int | dict[str, Any]) -> Agent | None:
    if isinstance(agent, Agent):
        agent = agent.id  # read afresh: a deactivation or role change applies at once
    if isinstance(agent, dict):
        agent = agent.get("id")  # type: ignore[assignment]
    if not isinstance(agent, int) or isinstance(agent, bool):
        return None
    return session.get(Agent, agent, populate_existing=True)


def can_agent_view(session: Session, agent: Agent | int | dict[str, Any], conversation_id: str) -> bool:
    """Whether the agent may read the conversation.

    Admins see every conversation; agents see those queued for anyone and those assigned to
    them; ops staff see no transcripts here (their dashboard is aggregate); inactive accounts nothing.
    """
    desk_agent = _agent_of(session, agent)
    if desk_agent is None or not desk_agent.active or not isinstance(conversation_id, str):
        return False
    if desk_agent.role == "admin":
        return True
    if desk_agent.role != "agent":
        return False
    request = _find_active(session, conversation_id)
    if request is None:
        return False
    return request.status == "queued" or request.agent_id == desk_agent.id
