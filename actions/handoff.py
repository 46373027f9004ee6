"""action_handoff_to_human: queue the conversation for a human agent and tell the position."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType

from actions import context
from actions.base import MemberServiceAction, Turn
from personalization.services import requests

# The reaction that led here (components.reaction_policy) → the hand-off reason.
_REACTION_REASONS = {"utter_apologize_anger": "negative_emotion", "utter_fallback_handoff": "repeated_fallback"}


def _reason(tracker: Tracker) -> str:
    """Why the member is handed over.

    "negative_emotion" / "repeated_fallback" when a mood reaction just led here, "complaint" when
    this session already recorded a complaint, else "member_request".
    """
    actions = [
        event.get("name")
        for event in tracker.events
        if event.get("event") == "action" and event.get("name") not in ("action_listen", "action_extract_slots")
    ]
    # The tracker an action gets ends with the action before it (this action is not logged yet).
    previous = actions[-1] if actions else None
    if previous in _REACTION_REASONS:
        return _REACTION_REASONS[previous]
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "action" and event.get("name") == "action_file_complaint":
            return "complaint"
    return "member_request"


class ActionHandoffToHuman(MemberServiceAction):
    def name(self) -> str:
        return "action_handoff_to_human"

    def respond(self, turn: Turn) -> list[EventType]:
        reason = _reason(turn.tracker)
        result = requests.record_handoff(
            session=turn.session,
            conversation_id=turn.tracker.sender_id,
            member_id=turn.member_id,
            reason=reason,
            emotion=context.emotion(turn.tracker),
        )
        payload = {
            "type": "handoff",
            "handoff_id": result.get("handoff_id"),
            "reason": reason,
            "priority": result.get("priority"),
            "position": result.get("position_in_queue"),
        }
        turn.say("utter_handoff_queued", position=result.get("position_in_queue"), payload=payload)
        return []
