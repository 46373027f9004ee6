"""action_session_start: Rasa's default session start, plus the member's name, tier and language."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import context, runtime
from actions.base import load_member, log_failure

IDENTITY_SLOTS = ("member_id", "member_name", "member_tier")


class ActionSessionStart(Action):
    """Starts a session like Rasa does, then loads the member named in ``metadata.member_id``."""

    def name(self) -> str:
        return "action_session_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        events: list[EventType] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events.extend(SlotSet(name, value) for name, value in tracker.slots.items() if value is not None)
        events.extend(self._member_events(tracker))
        events.append(ActionExecuted("action_listen"))
        return events

    def _member_events(self, tracker: Tracker) -> list[EventType]:
        member_id = context.session_metadata_member_id(tracker)
        if not member_id:
            # No identity in this message: an anonymous visitor, or a member whose slots carry over.
            return []
        try:
            with runtime.session_scope() as session:
                member = load_member(session, member_id)
                if member is None:
                    return [SlotSet(name, None) for name in IDENTITY_SLOTS]
                return [
                    SlotSet("member_id", member.member_id),
                    SlotSet("member_name", member.name),
                    SlotSet("member_tier", member.tier_code),
                    SlotSet("language", _language(member.preferred_language)),
                ]
        except Exception as exc:  # noqa: BLE001 - the session must start even without the database
            log_failure(self.name(), exc)
            if tracker.get_slot("member_id") == member_id:
                return []
            return [SlotSet("member_id", member_id), SlotSet("member_name", None), SlotSet("member_tier", None)]


def _language(preferred: str | None) -> str:
    return preferred if preferred in context.LANGUAGES else context.DEFAULT_LANGUAGE
