"""Finding a member's rows in the app database, and turning rows into JSON."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from personalization.analytics.models import AnalyticsConversation
from personalization.models import Complaint, Conversation, CsatRating, HandoffRequest


def jsonable(value: Any) -> Any:
    """Dates as ISO text, money as float, containers recursively; everything else as is."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def row_dict(row: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of an ORM row as JSON-ready values."""
    return {c.key: jsonable(getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip}


def existing_tables(session: Session) -> set[str]:
    """Tables that exist in the session's database (an older database may lack the newer ones)."""
    return set(inspect(session.get_bind()).get_table_names())


def app_senders(session: Session, member_id: str) -> set[str]:
    """Conversation ids (Rasa sender ids) the app's tables tie to the member."""
    senders: set[str] = set()
    for column, owner in (
        (Conversation.public_id, Conversation.member_id),
        (HandoffRequest.conversation_id, HandoffRequest.member_id),
        (CsatRating.conversation_id, CsatRating.member_id),
        (Complaint.conversation_id, Complaint.member_id),
    ):
        senders.update(s for s in session.scalars(select(column).where(owner == member_id)) if s)
    if AnalyticsConversation.__tablename__ in existing_tables(session):
        senders.update(
            s for s in session.scalars(select(AnalyticsConversation.sender_id).where(AnalyticsConversation.member_id == member_id)) if s
        )
    return senders
