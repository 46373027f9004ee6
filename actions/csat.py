"""action_record_csat: store the member's 1-5 rating of the conversation (CSAT)."""

from __future__ import annotations

import re

from rasa_sdk.events import EventType

from actions import context
from actions.base import MemberServiceAction, Turn
from personalization.desk import csat

# "5", "5分", "五星", "five" ... → 1-5.
_WORDS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_DIGIT = re.compile(r"(?<!\d)([1-5])(?!\d)")
# Scores at or below this get an apology and the offer of a human follow-up.
LOW_SCORE = 2


def parse_score(value: object) -> int | None:
    """The rating in ``value`` (an entity value or the message text), or None if there is none."""
    if value is None:
        return None
    text = str(value).strip().lower()
    match = _DIGIT.search(text)
    if match:
        return int(match.group(1))
    for word, score in _WORDS.items():
        if word in text:
            return score
    return None


class ActionRecordCsat(MemberServiceAction):
    def name(self) -> str:
        return "action_record_csat"

    def respond(self, turn: Turn) -> list[EventType]:
        values = list(turn.tracker.get_latest_entity_values("csat_score"))
        score = next((s for s in map(parse_score, values) if s is not None), None)
        if score is None:
            score = parse_score(context.latest_text(turn.tracker))
        if score is None:
            turn.say("utter_csat_ask_score")
            return []
        csat.record_csat(
            turn.session,
            turn.tracker.sender_id,
            score,
            member_id=turn.member_id,
            source="chat",
        )
        turn.say("utter_csat_sorry" if score <= LOW_SCORE else "utter_csat_thanks", score=score)
        return []
