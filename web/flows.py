"""The web app's use cases against the desk services, one transaction each (run via Store.call).

Each function takes the session first, calls ``personalization.desk`` and returns what the
caller needs to answer and to fan out. Nothing here touches sockets.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from personalization.desk import agents as desk_agents
from personalization.desk import conversations as desk_conv
from personalization.desk import csat as desk_csat
from personalization.desk import goodwill as desk_goodwill
from personalization.desk import handoff as desk_handoff
from personalization.desk import panel as desk_panel
from personalization.desk import suggestions as desk_suggestions
from personalization.desk.errors import DeskError
from personalization.models import HandoffRequest
from personalization.rights.erase import is_erased
from personalization.settings import Settings
from web.errors import ApiError
from web.rasa_bridge import BOT_RETRY_MARKER
from web.texts import system_text

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# What the member is told when the dialogue could not answer: a custom action failed (the action
# server is down or crashed; see web.rasa_bridge) or the turn came back empty. Stored as a system
# message, so the member is never left in silence and sees it again after a reload.
BOT_RETRY_TEXTS = ("系统繁忙，请稍后再试。", "The system is busy right now; please try again in a moment.")
# A store that cannot take a write right now (SQLite: another connection holds the write lock past
# the busy timeout; PostgreSQL: a lock timeout) or at all (disk, or SQLite's max_page_count, full).
_BUSY = ("storage_busy", "系统繁忙，消息暂未保存，请稍后重试。",
         "We are busy and could not save that; please try again shortly.")
_FULL = ("storage_full", "系统存储空间不足，消息未能保存，请稍后再试。",
         "Our storage is full, so that could not be saved; please try again later.")
_STORAGE_ERRORS = {
    "database is locked": _BUSY,
    "lock timeout": _BUSY,
    "database or disk is full": _FULL,
    "no space left on device": _FULL,
}


def storage_errors(fn: F) -> F:
    """Turn the store's "locked" and "full" errors into a polite 503 (``storage_busy`` / ``storage_full``).

    The transaction is rolled back by :class:`web.store.Store`; nothing half-written stays behind.
    Other database errors propagate unchanged (the app's generic handler answers them).
    """
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            text = str(exc.orig if exc.orig is not None else exc).lower()
            for needle, (code, zh, en) in _STORAGE_ERRORS.items():
                if needle in text:
                    logger.warning("store refused a write in %s: %s", fn.__name__, needle)
                    raise ApiError(code, status=503, message_zh=zh, message_en=en) from None
            raise
    return wrapper  # type: ignore[return-value]


@dataclass
class Outcome:
    """What a use case changed: new messages, the handoff before/after, the conversation state."""

    conversation: dict[str, Any] | None = None
    handoff: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    previous_agent_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _language(conversation: dict[str, Any] | None) -> str:
    return str((conversation or {}).get("language") or "zh")


def _system(session: Session, conversation_id: str, key: str, language: str, *,
            payload_extra: dict[str, Any] | None = None, agent_id: int | None = None, **values: Any) -> dict[str, Any]:
    text, payload = system_text(key, language, **values)
    if payload_extra:
        payload.update(payload_extra)
    message, _ = desk_conv.append_message(session, conversation_id, sender="system", text=text,
                                          payload=payload, agent_id=agent_id)
    return message


# -- member side --------------------------------------------------------------------------------

@storage_errors
def open_for_member(session: Session, *, member_id: str | None, visitor_id: str | None,
                    conversation_id: str | None, after_seq: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The member's conversation (a given one only if theirs) and its messages after ``after_seq``.

    Raises:
        ApiError: ``account_closed`` for a member whose data was erased (their tokens stop working).
    """
    if member_id is not None and is_erased(session, member_id):
        raise ApiError("account_closed")
    if conversation_id is not None:
        if not desk_conv.can_member_access(session, conversation_id, member_id=member_id, visitor_id=visitor_id):
            return None, []
        conversation = desk_conv.get_conversation(session, conversation_id)
    else:
        conversation = desk_conv.open_conversation(session, member_id=member_id, visitor_id=visitor_id)
    if conversation is None:
        return None, []
    return conversation, desk_conv.messages_after(session, conversation["conversation_id"], after_seq)


@storage_errors
def member_message(session: Session, conversation_id: str, *, text: str, payload: str | None,
                   client_id: str) -> tuple[dict[str, Any], bool, dict[str, Any] | None, dict[str, Any] | None]:
    """Store a member message (idempotent by ``client_id``): (message, created, active handoff, conversation)."""
    message, created = desk_conv.append_message(
        session, conversation_id, sender="member", text=text,
        payload={"payload": payload} if payload else None, client_id=client_id,
    )
    return message, created, desk_handoff.active_handoff(session, conversation_id), \
        desk_conv.get_conversation(session, conversation_id)


@storage_errors
def messages_after(session: Session, conversation_id: str, after_seq: int) -> list[dict[str, Any]]:
    return desk_conv.messages_after(session, conversation_id, after_seq)


@storage_errors
def record_nlu(session: Session, conversation_id: str, message_id: int, *, intent: str | None,
               sentiment: dict[str, Any] | None) -> dict[str, Any]:
    """Set the member message's intent and sentiment (what Rasa's NLU made of it)."""
    return desk_conv.update_message_nlu(session, message_id, intent=intent, sentiment=sentiment)


def _bot_item(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(text, payload) of one Rasa REST response item; the payload holds buttons, custom data, image."""
    payload: dict[str, Any] = {}
    buttons = item.get("buttons")
    if isinstance(buttons, list) and buttons:
        payload["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons if isinstance(b, dict)
        ]
    custom = item.get("custom")
    if isinstance(custom, dict):
        payload.update(custom)
    if isinstance(item.get("image"), str):
        payload["image"] = item["image"]
    text = item.get("text") if isinstance(item.get("text"), str) else ""
    return text, payload


def merge_bot_items(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The bot's messages as the member should see them.

    Rasa's REST channel sends one message with text and a custom payload as two items (the text,
    then the payload alone); they are joined again, so the widget shows one bubble with its cards.
    """
    merged: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        text, payload = _bot_item(item)
        if not text and not payload:
            continue
        if not text and merged and merged[-1][0] and "type" not in merged[-1][1] and "type" in payload:
            previous_text, previous_payload = merged[-1]
            merged[-1] = (previous_text, {**previous_payload, **payload})
            continue
        merged.append((text, payload))
    return merged


@storage_errors
def store_bot_items(session: Session, conversation_id: str, items: list[dict[str, Any]]) -> Outcome:
    """Store the bot's response items; notes whether the dialogue queued a handoff."""
    outcome = Outcome()
    retry = any(isinstance(item.get("custom"), dict) and item["custom"].get("type") == BOT_RETRY_MARKER
                for item in items)
    merged = [] if retry else merge_bot_items(items)
    for text, payload in merged:
        if payload.get("type") == "handoff":
            outcome.extra["handoff_requested"] = True
        message, _ = desk_conv.append_message(session, conversation_id, sender="bot", text=text,
                                              payload=payload or None)
        outcome.messages.append(message)
    if not merged:
        # A custom action failed (the action server is down or crashed), or the dialogue said nothing.
        outcome.extra["bot_silent"] = True
        if not retry:
            logger.warning("the dialogue answered nothing; the member is asked to retry")
        outcome.messages.append(_bot_retry(session, conversation_id))
    outcome.handoff = desk_handoff.active_handoff(session, conversation_id)
    outcome.conversation = desk_conv.get_conversation(session, conversation_id)
    return outcome


def _bot_retry(session: Session, conversation_id: str) -> dict[str, Any]:
    """The polite "please try again" system message after an empty bot turn."""
    language = _language(desk_conv.get_conversation(session, conversation_id))
    zh, en = BOT_RETRY_TEXTS
    payload = {"type": "system", "event": "bot_retry", "text_zh": zh, "text_en": en}
    message, _ = desk_conv.append_message(session, conversation_id, sender="system",
                                          text=en if language == "en" else zh, payload=payload)
    return message


@storage_errors
def cancel_handoff(session: Session, conversation_id: str) -> Outcome | None:
    """The member leaves the queue (or the agent chat); None when nothing was active."""
    before = desk_handoff.active_handoff(session, conversation_id)
    cancelled = desk_handoff.cancel(session, conversation_id)
    if cancelled is None:
        return None
    conversation = desk_conv.get_conversation(session, conversation_id)
    message = _system(session, conversation_id, "cancelled", _language(conversation))
    return Outcome(conversation=desk_conv.get_conversation(session, conversation_id), handoff=cancelled,
                   messages=[message], previous_agent_id=(before or {}).get("agent_id"))


@storage_errors
def set_language(session: Session, conversation_id: str, language: str) -> dict[str, Any]:
    """Set the conversation's language (zh/en); returns the conversation."""
    return desk_conv.set_language(session, conversation_id, language)


@storage_errors
def record_csat(session: Session, conversation_id: str, score: Any, *, handoff_id: Any,
                member_id: str | None) -> dict[str, Any]:
    """Store the member's rating of the conversation's latest resolved handoff (or the one named)."""
    query = select(HandoffRequest.id).where(HandoffRequest.conversation_id == conversation_id,
                                            HandoffRequest.status == "resolved")
    if handoff_id is not None:
        if not isinstance(handoff_id, int) or isinstance(handoff_id, bool):
            raise DeskError("no_handoff")
        query = query.where(HandoffRequest.id == handoff_id)
    found = session.scalar(query.order_by(HandoffRequest.id.desc()).limit(1))
    if found is None:
        raise DeskError("no_handoff")
    return desk_csat.record_csat(session, conversation_id, score, handoff_id=found, member_id=member_id,
                                 source="widget")


# -- agent side ---------------------------------------------------------------------------------

def _agent(session: Session, agent_id: int) -> Any:
    agent = desk_agents.get_agent(session, agent_id)
    if agent is None or not agent.active:
        raise DeskError("forbidden")
    return agent


def _assigned_to(session: Session, conversation_id: str, agent_id: int) -> dict[str, Any]:
    handoff = desk_handoff.active_handoff(session, conversation_id)
    if handoff is None or handoff.get("status") != "assigned":
        raise DeskError("not_assigned")
    if handoff.get("agent_id") != agent_id:
        raise DeskError("not_yours")
    return handoff


@storage_errors
def queue(session: Session) -> list[dict[str, Any]]:
    return desk_handoff.queue(session)


@storage_errors
def mine(session: Session, agent_id: int) -> list[dict[str, Any]]:
    """The handoffs assigned to this agent right now."""
    return desk_handoff.assigned_to(session, agent_id)


@storage_errors
def conversation_detail(session: Session, agent_id: int, conversation_id: str, settings: Settings) -> dict[str, Any]:
    """Transcript, handoff, profile panel and suggested replies, if the agent may view it."""
    agent = _agent(session, agent_id)
    conversation = desk_conv.get_conversation(session, conversation_id)
    if conversation is None:
        raise DeskError("no_conversation")
    if not desk_handoff.can_agent_view(session, agent, conversation_id):
        raise DeskError("forbidden")
    messages = desk_conv.messages_after(session, conversation_id, 0)
    member_id = conversation.get("member_id")
    panel = desk_panel.profile_panel(session, member_id, settings) if member_id else {"anonymous": True}
    last_member = next((m for m in reversed(messages) if m["sender"] == "member"), None)
    suggestions = desk_suggestions.suggest_replies(last_member, panel, _language(conversation),
                                                   agent_name=agent.display_name)
    return {"conversation": conversation, "handoff": desk_handoff.active_handoff(session, conversation_id),
            "messages": messages, "panel": panel, "suggestions": suggestions}


@storage_errors
def claim(session: Session, handoff_id: int, agent_id: int) -> Outcome:
    agent = _agent(session, agent_id)
    handoff = desk_handoff.claim(session, handoff_id, agent_id)
    conversation_id = handoff["conversation_id"]
    conversation = desk_conv.get_conversation(session, conversation_id)
    message = _system(session, conversation_id, "agent_joined", _language(conversation),
                      payload_extra={"agent_name": agent.display_name}, agent_id=agent_id, name=agent.display_name)
    return Outcome(conversation=desk_conv.get_conversation(session, conversation_id), handoff=handoff,
                   messages=[message])


@storage_errors
def reply(session: Session, conversation_id: str, agent_id: int, text: str) -> Outcome:
    _agent(session, agent_id)
    handoff = _assigned_to(session, conversation_id, agent_id)
    message, _ = desk_conv.append_message(session, conversation_id, sender="agent", text=text, agent_id=agent_id)
    desk_agents.record_action(session, agent_id, "reply", conversation_id=conversation_id,
                              handoff_id=handoff.get("handoff_id"), detail={"message_id": message["id"]})
    return Outcome(conversation=desk_conv.get_conversation(session, conversation_id), handoff=handoff,
                   messages=[message])


@storage_errors
def transfer(session: Session, handoff_id: int, agent_id: int, to_username: str) -> Outcome:
    _agent(session, agent_id)
    target = desk_agents.get_agent_by_username(session, to_username)
    if target is None:
        raise DeskError("no_agent")
    target_id = int(target.id)
    handoff = desk_handoff.transfer(session, handoff_id, agent_id, target_id)
    conversation_id = handoff["conversation_id"]
    conversation = desk_conv.get_conversation(session, conversation_id)
    name = str(target.display_name)
    message = _system(session, conversation_id, "transferred", _language(conversation),
                      payload_extra={"agent_name": name}, agent_id=target_id, name=name)
    return Outcome(conversation=desk_conv.get_conversation(session, conversation_id), handoff=handoff,
                   messages=[message], previous_agent_id=agent_id)


@storage_errors
def resolve(session: Session, handoff_id: int, agent_id: int) -> Outcome:
    _agent(session, agent_id)
    handoff = desk_handoff.resolve(session, handoff_id, agent_id)
    conversation_id = handoff["conversation_id"]
    conversation = desk_conv.get_conversation(session, conversation_id)
    message = _system(session, conversation_id, "resolved", _language(conversation), payload_extra={
        "type": "csat_request", "handoff_id": handoff_id, "scale": [1, 2, 3, 4, 5]})
    return Outcome(conversation=desk_conv.get_conversation(session, conversation_id), handoff=handoff,
                   messages=[message], previous_agent_id=agent_id)


@storage_errors
def goodwill(session: Session, conversation_id: str, agent_id: int, amount: Decimal) -> Outcome:
    _agent(session, agent_id)
    handoff = _assigned_to(session, conversation_id, agent_id)
    conversation = desk_conv.get_conversation(session, conversation_id)
    member_id = (conversation or {}).get("member_id")
    if not member_id:
        raise DeskError("no_member")
    coupon = desk_goodwill.issue_goodwill_coupon(session, agent_id, member_id, amount, conversation_id)
    shown = format(amount.normalize(), "f")
    text, payload = system_text("goodwill", _language(conversation), amount=shown)
    message, _ = desk_conv.append_message(session, conversation_id, sender="agent", text=text, agent_id=agent_id,
                                          payload={"type": "coupon_cards", "items": [coupon],
                                                   "text_zh": payload["text_zh"], "text_en": payload["text_en"]})
    return Outcome(conversation=conversation, handoff=handoff, messages=[message], extra={"coupon": coupon})


@storage_errors
def agents_for_transfer(session: Session) -> list[dict[str, Any]]:
    """Active agents/admins a conversation can be transferred to (no secrets)."""
    return [{"username": a["username"], "display_name": a["display_name"], "role": a["role"]}
            for a in desk_agents.list_agents(session, active_only=True) if a["role"] in ("agent", "admin")]
