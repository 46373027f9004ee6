"""Locks that make check-then-write safe on SQLite and PostgreSQL.

SQLite has one database-wide write lock and no row locks: the first write statement of a
transaction takes it (waiting up to the busy timeout), so a harmless ``UPDATE`` that changes
nothing is how we take it *before* reading what we will decide on. PostgreSQL gets a row lock
(``SELECT ... FOR UPDATE``) or a transaction-scoped advisory lock on a key.
"""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from personalization.models import Conversation, HandoffRequest


def dialect(session: Session) -> str:
    """``sqlite``, ``postgresql``, ..."""
    return session.get_bind().dialect.name


def lock_conversation(session: Session, conversation_pk: int) -> int | None:
    """Lock the conversation row until the transaction ends; its current ``last_seq`` (None if gone)."""
    if dialect(session) == "sqlite":
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_pk)
            .values(last_seq=Conversation.last_seq)
            .execution_options(synchronize_session=False)
        )
        return session.scalar(select(Conversation.last_seq).where(Conversation.id == conversation_pk))
    return session.scalar(select(Conversation.last_seq).where(Conversation.id == conversation_pk).with_for_update())


def lock_key(session: Session, key: str) -> None:
    """Serialise writers that decide on ``key`` (a conversation's public id) until the transaction ends."""
    name = dialect(session)
    if name == "sqlite":
        session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.conversation_id == key)
            .values(conversation_id=HandoffRequest.conversation_id)
            .execution_options(synchronize_session=False)
        )
    elif name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    else:  # other databases: the unique indexes still refuse duplicates
        session.execute(text("SELECT 1"))
