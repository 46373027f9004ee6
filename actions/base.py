"""The shape every feature action shares: load the member, answer, never crash.

A feature action subclasses :class:`MemberServiceAction` and implements ``respond(turn)``:
read the tracker, call one or two ``personalization.services`` functions with ``turn.session``,
and ``turn.say(...)`` the answer. Messages are buffered and sent only when the whole run
(including the commit) succeeded; any exception becomes one polite apology instead.
"""

from __future__ import annotations

import logging
import traceback
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import context, runtime, texts
from personalization.services import members

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from personalization.models import Member
    from personalization.settings import Settings

logger = logging.getLogger(__name__)

Button = dict[str, str]

# Used only if even the apology response cannot be rendered.
_LAST_RESORT = {"zh": "抱歉，系统开小差了，请稍后再试～", "en": "Sorry, something went wrong. Please try again later."}


@dataclass
class Reply:
    """Messages of one action run, rendered in one language and sent together at the end."""

    domain: DomainDict
    lang: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def say(
        self,
        response: str,
        /,
        *,
        rows: Sequence[str] = (),
        payload: dict[str, Any] | None = None,
        buttons: list[Button] | None = None,
        **values: Any,
    ) -> None:
        """Queue response ``response`` with ``{values}`` filled, followed by ``rows`` (one per line).

        Args:
            response: Name of a response in the domain.
            rows: List lines composed by ``actions.texts`` (products, coupons, ...).
            payload: Structured data for the widget, sent as the message's ``custom`` payload.
            buttons: Rasa buttons; each payload is plain text that goes back through NLU.
            **values: Template variables.
        """
        text = texts.lines(texts.render(self.domain, response, self.lang, **values), rows)
        if buttons is None:
            buttons = list(texts.variation(self.domain, response, self.lang).get("buttons") or []) or None
        message: dict[str, Any] = {"text": text, "utter_action": response}
        if payload is not None:
            message["json_message"] = payload
        if buttons:
            message["buttons"] = buttons
            if payload is None:
                # Widgets that render only custom payloads get the buttons there too.
                message["json_message"] = {"type": "buttons", "buttons": buttons}
        self.messages.append(message)

    def send(self, dispatcher: CollectingDispatcher) -> None:
        """Hand every queued message to the dispatcher."""
        for message in self.messages:
            dispatcher.utter_message(**message)


@dataclass
class Turn:
    """Everything a feature action needs for one run."""

    tracker: Tracker
    domain: DomainDict
    session: Session
    member: Member | None
    reply: Reply

    @property
    def member_id(self) -> str | None:
        """The identified member's id; None for anonymous visitors and unknown ids."""
        return self.member.member_id if self.member is not None else None

    @property
    def lang(self) -> str:
        """The language of the answer (zh / en)."""
        return self.reply.lang

    @property
    def settings(self) -> Settings:
        """The action server's settings."""
        return runtime.get_settings()

    def say(self, response: str, /, **kwargs: Any) -> None:
        """Queue a response; see :meth:`Reply.say`."""
        self.reply.say(response, **kwargs)

    def text(self, response: str, /, **values: Any) -> str:
        """Render a response without queueing it (to compose several sentences in one message)."""
        return texts.render(self.domain, response, self.lang, **values)

    def invite_login(self) -> None:
        """Queue the invitation to log in (anonymous visitors)."""
        self.reply.say("utter_login_invite")


def log_failure(action_name: str, exc: BaseException) -> None:
    """Log a failed action without personal data: the exception type and the stack frames only.

    Exception messages are left out on purpose: database errors quote the bound parameters
    (member ids, phone numbers, message texts).
    """
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("action %s failed with %s\n%s", action_name, type(exc).__name__, frames)


def apologize(dispatcher: CollectingDispatcher, domain: DomainDict, lang: str) -> None:
    """Send the polite "something went wrong" message."""
    try:
        text = texts.render(domain, "utter_service_error", lang)
    except Exception:  # the domain itself is broken: still answer
        text = _LAST_RESORT.get(lang, _LAST_RESORT["zh"])
    dispatcher.utter_message(text=text, utter_action="utter_service_error")


def identity_events(tracker: Tracker, member: Member | None) -> list[EventType]:
    """SlotSet events that bring the identity slots in line with ``member`` (None: anonymous)."""
    wanted = {
        "member_id": member.member_id if member else None,
        "member_name": member.name if member else None,
        "member_tier": member.tier_code if member else None,
    }
    return [SlotSet(name, value) for name, value in wanted.items() if tracker.get_slot(name) != value]


def load_member(session: Session, member_id: str | None) -> Member | None:
    """The member with ``member_id``; None when anonymous or unknown."""
    if not member_id:
        return None
    return members.get_member(session=session, member_id=member_id)


class MemberServiceAction(Action, ABC):
    """Base class of the feature actions: one database session, buffered replies, no crashes."""

    @abstractmethod
    def name(self) -> str:
        """The action name in the domain."""

    @abstractmethod
    def respond(self, turn: Turn) -> list[EventType]:
        """Answer the member; returns extra events (the identity slots are handled here)."""

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        """Runs ``respond`` in a session scope and sends its replies, or an apology on any error."""
        lang = context.language(tracker)
        try:
            with runtime.session_scope() as session:
                member = load_member(session, context.member_id(tracker))
                lang = context.language(tracker, preferred=member.preferred_language if member else None)
                turn = Turn(tracker=tracker, domain=domain, session=session, member=member, reply=Reply(domain, lang))
                events = identity_events(tracker, member) + list(self.respond(turn) or [])
        except Exception as exc:  # noqa: BLE001 - a member must never see a crash
            log_failure(self.name(), exc)
            apologize(dispatcher, domain, lang)
            return []
        turn.reply.send(dispatcher)
        return events
