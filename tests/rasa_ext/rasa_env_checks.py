"""Run by ``test_rasa_ext.py`` with ``.venv-rasa``'s Python (Rasa lives only there).

Plays the same conversation through Rasa's own SQL tracker store + SQL event broker and through
``rasa_ext``'s, and checks the speed-ups against Rasa's originals. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rasa.core.actions.action import RemoteAction
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
    deserialise_events,
)
from rasa.shared.utils.common import all_subclasses

from rasa_ext.speedups import ValidationError, install
from rasa_ext.sql_stores import SQLiteTunedEventBroker, SQLiteTunedTrackerStore

DOMAIN = Domain.from_yaml(
    """
intents: [greet, ask_points]
slots:
  member_name: {type: text, influence_conversation: false, mappings: [{type: custom}]}
responses:
  utter_greet: [{text: hi}]
"""
)


def _turns() -> list[list[Event]]:
    """Three saves: a first session, one more turn, then a new session."""
    return [
        [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=2.0),
         SlotSet("member_name", "张三", timestamp=3.0), ActionExecuted("action_listen", timestamp=4.0),
         UserUttered("你好", {"name": "greet", "confidence": 0.9}, timestamp=5.0),
         ActionExecuted("utter_greet", timestamp=6.0), ActionExecuted("action_listen", timestamp=7.0)],
        [UserUttered("积分", {"name": "ask_points", "confidence": 0.8}, timestamp=8.0),
         ActionExecuted("action_listen", timestamp=9.0)],
        [ActionExecuted("action_session_start", timestamp=10.0), SessionStarted(timestamp=11.0),
         ActionExecuted("action_listen", timestamp=12.0)],
    ]


def _stable(value: Any) -> Any:
    """Wall-clock timestamps (Rasa stamps some events itself) become "now" so two runs compare."""
    if isinstance(value, dict):
        return {k: ("now" if k == "timestamp" and isinstance(v, float) and v > 1e6 else _stable(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


async def _play(store: SQLTrackerStore, broker: SQLEventBroker) -> dict[str, Any]:
    retrieved = []
    for turn in _turns():
        tracker = await store.get_or_create_tracker("member-1", append_action_listen=False)
        tracker.update_with_events(turn, DOMAIN)
        await store.save(tracker)
        again = await store.retrieve("member-1")
        retrieved.append([e.as_dict() for e in again.events])
    with store.session_scope() as session:
        rows = [(r.type_name, r.intent_name, r.action_name, json.loads(r.data))
                for r in session.query(store.SQLEvent).order_by(store.SQLEvent.id)]
    with broker.session_scope() as session:
        published = [json.loads(r.data) for r in session.query(broker.SQLBrokerEvent).order_by(broker.SQLBrokerEvent.id)]
    full = await store.retrieve_full_tracker("member-1")
    return _stable({"rows": rows, "published": published, "retrieved": retrieved,
                    "full": [e.as_dict() for e in full.events], "missing": await store.retrieve("nobody")})


def _stores(directory: Path) -> dict[str, Any]:
    rasa_broker = SQLEventBroker(db=str(directory / "rasa-events.db"))
    rasa_store = SQLTrackerStore(DOMAIN, db=str(directory / "rasa-tracker.db"), event_broker=rasa_broker)
    tuned_broker = SQLiteTunedEventBroker(db=str(directory / "tuned-events.db"))
    tuned_store = SQLiteTunedTrackerStore(DOMAIN, db=str(directory / "tuned-tracker.db"), event_broker=tuned_broker)
    rasa, tuned = asyncio.run(_play(rasa_store, rasa_broker)), asyncio.run(_play(tuned_store, tuned_broker))
    with tuned_store.engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    return {"rasa": rasa, "tuned": tuned, "journal_mode": journal}


def _speedups() -> dict[str, Any]:
    action = RemoteAction("action_check", None)
    responses = [
        {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]},
        {"events": [{"event": "slot", "value": 1, "name": 3}], "responses": "not a list"},
        {"events": "nope"},
    ]
    names = sorted({cls.type_name for cls in all_subclasses(Event)}) + ["topic"]

    def outcomes() -> list[str]:
        results = []
        for response in responses:
            try:
                results.append(str(action._validate_action_result(response)))
            except ValidationError as error:
                results.append(error.message)
        return results

    serialised = [e.as_dict() for turn in _turns() for e in turn]
    before = {"validation": outcomes(), "types": {n: repr(Event.resolve_by_type(n)) for n in names},
              "events": [e.as_dict() for e in deserialise_events(serialised)]}
    install()
    after = {"validation": outcomes(), "types": {n: repr(Event.resolve_by_type(n)) for n in names},
             "events": [e.as_dict() for e in deserialise_events(serialised)]}
    try:
        Event.resolve_by_type("no-such-event")
        unknown = "accepted"
    except ValueError:
        unknown = "ValueError"
    return {"before": before, "after": after, "unknown": unknown}


def _payload_sentiment() -> dict[str, Any]:
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
    from rasa.shared.nlu.training_data.message import Message

    from rasa_ext import payload_sentiment

    tag = {"polarity": "neutral", "emotion": "neutral", "score": 1.0}

    def handle() -> list[dict[str, Any]]:
        messages = []
        for text in ('/rate_service{"csat_score": "5"}', "普通的一句话"):
            message = Message(data={"text": text})
            message.set("sentiment", tag, add_to_output=True)
            messages.append(message)
        handled = RegexMessageHandler().process(messages)
        return [{"intent": (m.get("intent") or {}).get("name"), "entities": m.get("entities"),
                 "sentiment": m.get("sentiment")} for m in handled]

    before = handle()
    payload_sentiment.install()
    return {"before": before, "after": handle()}


if __name__ == "__main__":
    print(json.dumps({"stores": _stores(Path(sys.argv[1])), "speedups": _speedups(),
                      "payload_sentiment": _payload_sentiment()}, ensure_ascii=False, default=str))
