"""action_file_complaint: apologise, record the complaint, offer a human agent."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions import context
from actions.base import MemberServiceAction, Turn
from personalization.services import requests

# Plain texts that go back through NLU (request_human / deny).
HUMAN_BUTTONS = {
    "zh": [{"title": "转人工客服", "payload": "转人工客服"}, {"title": "不用了", "payload": "不用了"}],
    "en": [
        {"title": "Talk to a human", "payload": "talk to a human agent"},
        {"title": "No thanks", "payload": "no thanks"},
    ],
}


class ActionFileComplaint(MemberServiceAction):
    def name(self) -> str:
        return "action_file_complaint"

    def respond(self, turn: Turn) -> list[EventType]:
        result = requests.record_complaint(
            session=turn.session,
            conversation_id=turn.tracker.sender_id,
            member_id=turn.member_id,
            text=context.latest_text(turn.tracker),
        )
        apology = "utter_complaint_apology_angry" if context.is_angry(turn.tracker) else "utter_complaint_apology"
        turn.say(
            apology,
            complaint_id=result.get("complaint_id"),
            rows=[turn.text("utter_offer_human")],
            buttons=HUMAN_BUTTONS[turn.lang],
        )
        return []
