"""action_handoff_to_human: queue the conversation for a human agent and tell the position."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType

from actions.base import MemberServiceAction, Turn
from personalization.services import requests


def _reason(tracker: Tracker) -> str:
    """ "complaint" when this session already recorded a complaint, else "member_request"."""
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
        result = requests.record_handoff(
            session=turn.session,
            conversation_id=turn.tracker.sender_id,
            member_id=turn.member_id,
            reason=_reason(turn.tracker),
        )
        turn.say("utter_handoff_queued", position=result.get("position_in_queue"))
        return []
