"""CSAT: the member's 1-5 rating after an agent's service (one per handoff; the first answer counts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.desk._locks import lock_key
from personalization.desk.errors import DeskError
from personalization.desk.handoff import handoff_key
from personalization.models import Conversation, CsatRating, HandoffRequest
from personalization.services._common import find_member, iso, resolve_now

SCORES = range(1, 6)
SOURCES = ("widget", "chat")
THANKS = ("感谢您的评价！", "Thank you for your rating!")


def rating_dict(rating: CsatRating, *, created: bool) -> dict[str, Any]:
    """A stored rating, ``created`` False when it had been given before."""
    return {
        "rating_id": rating.id,
        "conversation_id": rating.conversation_id,
        "handoff_id": rating.handoff_id,
        "member_id": rating.member_id,
        "score": int(rating.score),
        "source": rating.source,
        "created_at": iso(rating.created_at),
        "created": created,
        "message_zh": THANKS[0],
        "message_en": THANKS[1],
    }


def _valid_score(score: object) -> int:
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise DeskError("bad_score")
    return score


def record_csat(
    session: Session,
    conversation_id: str,
    score: int,
    *,
    handoff_id: int | str | None = None,
    member_id: str | None = None,
    source: str = "widget",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store the rating of a conversation (of one handoff when ``handoff_id`` is given).

    A second rating for the same (conversation, handoff) stores nothing and returns the first,
    with ``created`` False: the first answer counts. ``member_id`` defaults to the conversation's.

    Raises:
        DeskError: ``bad_score`` (anything but an int 1..5), ``bad_source``, ``no_conversation``,
        ``no_handoff`` (not a handoff of this conversation).
    """
    score = _valid_score(score)
    if source not in SOURCES:
        raise DeskError("bad_source")
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise DeskError("no_conversation")
    conversation_id = conversation_id.strip()
    key = None
    if handoff_id is not None:
        key = handoff_key(handoff_id)
        request = session.get(HandoffRequest, key) if key is not None else None
        if request is None or request.conversation_id != conversation_id:
            raise DeskError("no_handoff")
    lock_key(session, conversation_id)
    existing = session.scalar(
        select(CsatRating).where(
            CsatRating.conversation_id == conversation_id,
            CsatRating.handoff_id.is_(None) if key is None else CsatRating.handoff_id == key,
        )
    )
    if existing is not None:
        return rating_dict(existing, created=False)
    if member_id is None:
        member_id = session.scalar(select(Conversation.member_id).where(Conversation.public_id == conversation_id))
    member = find_member(session=session, member_id=member_id)
    rating = CsatRating(
        conversation_id=conversation_id, handoff_id=key, member_id=member.member_id if member else None,
        score=score, source=source, created_at=resolve_now(now),
    )  # fmt: skip
    session.add(rating)
    session.flush()
    return rating_dict(rating, created=True)
