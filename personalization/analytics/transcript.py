"""A conversation's transcript for drill-down, with personal data masked.

Member and bot messages come from the event stream (the conversation's events, by the ids the
pipeline stored); agent messages from the web app's ``chat_messages`` in the same time window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.analytics.masking import mask_text
from personalization.analytics.models import AnalyticsConversation
from personalization.models import ChatMessage, Conversation, Member


class ConversationReader(Protocol):
    """What a source needs for drill-down (``SqlEventSource`` has it)."""

    def read_sender(self, sender_id: str, first_id: int, last_id: int) -> list[tuple[int, str, dict[str, Any]]]: ...


def masked_transcript(session: Session, reader: ConversationReader, conversation_key: str) -> dict[str, Any] | None:
    """``{"conversation_key", "sender_id", "member_id", "messages": [{"at", "speaker", "text_masked", ...}]}``.

    ``speaker`` is ``member``, ``bot`` or ``agent``; member messages carry ``intent``, ``polarity``
    and ``emotion``, bot messages the ``payload_type`` of a structured reply. None if unknown.
    """
    conversation = session.scalar(select(AnalyticsConversation).where(AnalyticsConversation.conversation_key == conversation_key))
    if conversation is None:
        return None
    names: list[str | None] = []
    if conversation.member_id:
        names.append(session.scalar(select(Member.name).where(Member.member_id == conversation.member_id)))
    events = reader.read_sender(conversation.sender_id, conversation.start_event_id, conversation.last_event_id)
    names += [e.get("value") for _, _, e in events if e.get("event") == "slot" and e.get("name") == "member_name"]
    messages: list[dict[str, Any]] = []
    for _, _, event in events:
        kind, stamp = event.get("event"), event.get("timestamp")
        if kind not in ("user", "bot") or not isinstance(stamp, (int, float)):
            continue
        item: dict[str, Any] = {
            "at": datetime.fromtimestamp(stamp).isoformat(timespec="seconds"),
            "speaker": "member" if kind == "user" else "bot",
            "text_masked": mask_text(str(event.get("text") or ""), names=names),
        }
        if kind == "user":
            parse = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
            sentiment = parse.get("sentiment") if isinstance(parse.get("sentiment"), dict) else {}
            item.update(intent=(parse.get("intent") or {}).get("name"), polarity=sentiment.get("polarity"), emotion=sentiment.get("emotion"))
        else:
            custom = (event.get("data") or {}).get("custom") if isinstance(event.get("data"), dict) else None
            item["payload_type"] = custom.get("type") if isinstance(custom, dict) else None
        messages.append(item)
    agent_rows = session.execute(
        select(ChatMessage.created_at, ChatMessage.text)
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(
            Conversation.public_id == conversation.sender_id,
            ChatMessage.sender == "agent",
            ChatMessage.created_at >= conversation.started_at.replace(microsecond=0),
        )
    )
    for created_at, body in agent_rows:
        if conversation.resolved_at is None or created_at <= conversation.resolved_at:
            messages.append({"at": created_at.isoformat(timespec="seconds"), "speaker": "agent", "text_masked": mask_text(body, names=names)})
    messages.sort(key=lambda m: m["at"])
    return {
        "conversation_key": conversation.conversation_key,
        "sender_id": conversation.sender_id,
        "member_id": conversation.member_id,
        "started_at": conversation.started_at.isoformat(timespec="seconds"),
        "resolved_by": conversation.resolved_by,
        "messages": messages,
    }
