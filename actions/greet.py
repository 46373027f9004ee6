"""action_greet: greets members by name, visitors with the general welcome."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions.base import MemberServiceAction, Turn


class ActionGreet(MemberServiceAction):
    def name(self) -> str:
        return "action_greet"

    def respond(self, turn: Turn) -> list[EventType]:
        if turn.member is None:
            turn.say("utter_greet")
        else:
            turn.say("utter_greet_member", name=turn.member.name)
        return []
