"""Web conversations and their messages: numbered, idempotent by the widget's ``client_id``.

A conversation belongs to one member (``member_id``) or one anonymous visitor (``visitor_id``).
Its messages are numbered 1, 2, 3... (``seq``) under the conversation row's lock, so concurrent
appends never share or skip a number; a resend with the same ``client_id`` returns the stored
message instead of a second copy. The widget reconnects with the highest ``seq`` it has seen and
asks for :func:`messages_after`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from personalization.desk import handoff as handoff_service
from personalization.desk._locks import lock_conversation, lock_key
from personalization.desk.errors import DeskError
from personalization.models import Agent, ChatMessage, Conversation
from personalization.services._common import find_member, iso, resolve_now

LANGUAGES = ("zh", "en")
SENDERS = ("member", "bot", "agent", "system")
MAX_MEMBER_TEXT = 2000  # what a member may type in one message
MAX_TEXT = 20000  # bot / agent / system texts (product lists are long, not endless)
MAX_CLIENT_ID = 64
MAX_PAGE = 500


def new_public_id() -> str:
    """``"C"`` + 20 hex characters: unguessable, and usable as the Rasa sender id."""
    return "C" + secrets.token_hex(10)


def _find(session: Session, conversation_id: str) -> Conversation | None:
    if not isinstance(conversation_id, str) or not conversation_id:
        return None
    return session.scalar(select(Conversation).where(Conversation.public_id == conversation_id))


def _require(session: Session, conversation_id: str) -> Conversation:
    conversation = _find(session, conversation_id)
    if conversation is None:
        raise DeskError("no_conversation")
    return conversation


def conversation_dict(session: Session, conversation: Conversation, now: datetime | None = None) -> dict[str, Any]:
    """The conversation as the widget's ``hello`` frame needs it, with its handoff state.

    ``state`` is ``bot`` (no active handoff), ``queued`` (``queue_position`` 1 = next) or
    ``assigned`` (``agent_name`` is the agent's display name).
    """
    active = handoff_service.active_handoff(session, conversation.public_id, now=now)
    state = active["status"] if active else "bot"
    return {
        "conversation_id": conversation.public_id,
        "member_id": conversation.member_id,
        "visitor_id": conversation.visitor_id,
        "language": conversation.language,
        "status": conversation.status,
        "last_seq": int(conversation.last_seq),
        "state": state,
        "agent_name": active["agent_name"] if active else None,
        "handoff_id": active["handoff_id"] if active else None,
        "queue_position": active["queue_position"] if active and state == "queued" else None,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
    }


def open_conversation(
    session: Session,
    *,
    member_id: str | None,
    visitor_id: str | None,
    language: str = "zh",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The member's (else the visitor's) latest open conversation, or a new one.

    Raises:
        DeskError: ``no_identity`` (neither id), ``no_member`` (unknown member id).
    """
    now = resolve_now(now)
    language = language if language in LANGUAGES else "zh"
    query = select(Conversation).where(Conversation.status == "open")
    if member_id:
        member = find_member(session=session, member_id=member_id)
        if member is None:
            raise DeskError("no_member")
        query = query.where(Conversation.member_id == member.member_id)
        owner = {"member_id": member.member_id, "visitor_id": visitor_id[:40] if visitor_id else None}
    elif visitor_id and isinstance(visitor_id, str):
        query = query.where(Conversation.member_id.is_(None), Conversation.visitor_id == visitor_id[:40])
        owner = {"member_id": None, "visitor_id": visitor_id[:40]}
    else:
        raise DeskError("no_identity")
    latest = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(1)
    conversation = session.scalar(latest)
    if conversation is None:
        # Two tabs opening at once must not start two conversations: look again under a lock.
        lock_key(session, f"open:{owner['member_id'] or 'visitor:' + str(owner['visitor_id'])}")
        conversation = session.scalar(latest)
    if conversation is None:
        conversation = Conversation(
            public_id=new_public_id(),
            language=language,
            status="open",
            created_at=now,
            updated_at=now,
            last_seq=0,
            **owner,
        )
        session.add(conversation)
        session.flush()
    return conversation_dict(session, conversation, now=now)


def get_conversation(session: Session, conversation_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The conversation (same shape as :func:`open_conversation`), or None for an unknown id."""
    conversation = _find(session, conversation_id)
    if conversation is None:
        return None
    session.refresh(conversation)
    return conversation_dict(session, conversation, now=now)


def set_language(session: Session, conversation_id: str, language: str) -> dict[str, Any]:
    """Switch the conversation's language (``zh``/``en``); what the gateway sends Rasa as metadata.

    Raises:
        DeskError: ``no_conversation``, ``bad_language``.
    """
    if language not in LANGUAGES:
        raise DeskError("bad_language")
    conversation = _require(session, conversation_id)
    conversation.language = language
    session.flush()
    return conversation_dict(session, conversation)


def can_member_access(session: Session, conversation_id: str, *, member_id: str | None, visitor_id: str | None) -> bool:
    """Whether this member (or, without a member id, this visitor) owns the conversation."""
    conversation = _find(session, conversation_id)
    if conversation is None:
        return False
    if member_id:
        member = find_member(session=session, member_id=member_id)
        return member is not None and conversation.member_id == member.member_id
    return conversation.member_id is None and bool(visitor_id) and conversation.visitor_id == visitor_id


def message_dict(message: ChatMessage, conversation_id: str, agent_name: str | None = None) -> dict[str, Any]:
    """A stored message as the widget and the console render it."""
    return {
        "id": message.id,
        "seq": int(message.seq),
        "conversation_id": conversation_id,
        "sender": message.sender,
        "text": message.text,
        "payload": message.payload,
        "agent_name": agent_name,
        "intent": message.intent,
        "sentiment": message.sentiment,
        "client_id": message.client_id,
        "created_at": iso(message.created_at),
    }


def _agent_name(session: Session, agent_id: int | None) -> str | None:
    if agent_id is None:
        return None
    agent = session.get(Agent, agent_id)
    return agent.display_name if agent else None


def _checked_text(sender: str, text: object, payload: object) -> str:
    if sender not in SENDERS:
        raise DeskError("bad_sender")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise DeskError("empty")
    limit = MAX_MEMBER_TEXT if sender == "member" else MAX_TEXT
    if len(text) > limit:
        raise DeskError("too_long")
    if not text.strip() and not payload:
        raise DeskError("empty")
    return text


def _by_client_id(session: Session, conversation_pk: int, client_id: str) -> ChatMessage | None:
    return session.scalar(
        select(ChatMessage).where(ChatMessage.conversation_id == conversation_pk, ChatMessage.client_id == client_id)
    )


def append_message(
    session: Session,
    conversation_id: str,
    *,
    sender: str,
    text: str,
    payload: dict[str, Any] | None = None,
    client_id: str | None = None,
    agent_id: int | None = None,
    intent: str | None = None,
    sentiment: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a message with the next ``seq``; a repeated ``client_id`` returns the stored one.

    The conversation row is locked first (SQLite: the write lock; PostgreSQL: ``FOR UPDATE``),
    then the ``client_id`` is looked up and ``last_seq`` raised, all in the caller's transaction:
    concurrent appends get distinct, gapless numbers and a resend never makes a second copy.

    Returns:
        ``(message dict, created)``.

    Raises:
        DeskError: ``no_conversation``, ``bad_sender``, ``empty``, ``too_long``, ``bad_client_id``,
        ``no_agent`` (sender ``agent`` without a known ``agent_id``).
    """
    text = _checked_text(sender, text, payload)
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID):
        raise DeskError("bad_client_id")
    if sender == "agent" and (agent_id is None or session.get(Agent, agent_id) is None):
        raise DeskError("no_agent")
    conversation = _require(session, conversation_id)
    last_seq = lock_conversation(session, conversation.id)
    if last_seq is None:
        raise DeskError("no_conversation")
    if client_id is not None and (stored := _by_client_id(session, conversation.id, client_id)) is not None:
        return message_dict(stored, conversation.public_id, _agent_name(session, stored.agent_id)), False
    now = resolve_now(now)
    seq = int(last_seq) + 1
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(last_seq=seq, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    message = ChatMessage(
        conversation_id=conversation.id, seq=seq, client_id=client_id, sender=sender,
        agent_id=agent_id if sender == "agent" else None, text=text, payload=payload,
        intent=intent, sentiment=sentiment, created_at=now,
    )  # fmt: skip
    session.add(message)
    session.flush()
    session.expire(conversation, ["last_seq", "updated_at"])
    return message_dict(message, conversation.public_id, _agent_name(session, message.agent_id)), True


def messages_after(
    session: Session, conversation_id: str, after_seq: int = 0, limit: int = MAX_PAGE
) -> list[dict[str, Any]]:
    """Messages with ``seq > after_seq``, oldest first, at most ``limit`` (capped at 500).

    Raises:
        DeskError: ``no_conversation``.
    """
    conversation = _require(session, conversation_id)
    after = max(int(after_seq or 0), 0)
    limit = min(max(int(limit), 1), MAX_PAGE)
    rows = session.execute(
        select(ChatMessage, Agent.display_name)
        .outerjoin(Agent, Agent.id == ChatMessage.agent_id)
        .where(ChatMessage.conversation_id == conversation.id, ChatMessage.seq > after)
        .order_by(ChatMessage.seq)
        .limit(limit)
    ).all()
    return [message_dict(message, conversation.public_id, name) for message, name in rows]


def update_message_nlu(
    session: Session, message_id: int, *, intent: str | None, sentiment: dict[str, Any] | None
) -> dict[str, Any]:
    """Store what Rasa understood of a member message (intent name and sentiment).

    Raises:
        DeskError: ``no_message``.
    """
    message = session.get(ChatMessage, message_id) if isinstance(message_id, int) else None
    if message is None:
        raise DeskError("no_message")
    message.intent = intent[:64] if isinstance(intent, str) else None
    message.sentiment = sentiment if isinstance(sentiment, dict) else None
    session.flush()
    conversation = session.get(Conversation, message.conversation_id)
    assert conversation is not None  # foreign key
    return message_dict(message, conversation.public_id, _agent_name(session, message.agent_id))


def last_member_message(session: Session, conversation_id: str) -> dict[str, Any] | None:
    """The newest message the member sent (for suggested replies), or None."""
    conversation = _find(session, conversation_id)
    if conversation is None:
        return None
    message = session.scalar(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation.id, ChatMessage.sender == "member")
        .order_by(ChatMessage.seq.desc())
        .limit(1)
    )
    return message_dict(message, conversation.public_id) if message else None
