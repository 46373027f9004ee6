"""Rasa's SQL tracker store and SQL event broker, made fit for a chat server.

Two changes to Rasa 3.6's behaviour, neither to what is stored:

1. SQLite setup (below). 2. One read per save: Rasa's ``save`` first re-reads and deserialises
the whole stored conversation to find which events the event broker has not seen, then counts
the stored events again to find which to insert. Both are the same set: the events after the
stored count. :meth:`SQLiteTunedTrackerStore.save` counts once, stores those events, and hands
them to the broker in one transaction. 3. Reads fetch only the JSON column of each event, not
whole ORM objects (that was ~13% of the server's time on long conversations).

Rasa opens SQLite in its default rollback-journal mode with ``synchronous=FULL``: every commit
waits for several disk syncs, and Rasa commits once per tracker save and once per published
event (about eight times per chat turn), on the event loop that serves every member. Here each
new SQLite connection switches to write-ahead logging with ``synchronous=NORMAL`` (a commit
survives a crash of the process; after a power cut the database is intact but may lack the
last transactions) and waits up to 5 s for a lock instead of failing. Other databases
(PostgreSQL) are left exactly as Rasa configures them.

``endpoints.yml`` selects them with ``type: rasa_ext.sql_stores.SQLiteTunedTrackerStore`` and
``type: rasa_ext.sql_stores.SQLiteTunedEventBroker``; every other option is Rasa's own.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000")


def tune_sqlite(engine: Engine) -> None:
    """Apply :data:`SQLITE_PRAGMAS` to every connection the engine opens from now on."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _apply_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    # Connections opened while Rasa created the tables predate the listener.
    engine.dispose()


class SQLiteTunedTrackerStore(SQLTrackerStore):
    """:class:`SQLTrackerStore` with :func:`tune_sqlite` applied to its engine."""

    def __init__(self, *args: Any, host: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(*args, host=host, **kwargs)
        tune_sqlite(self.engine)

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            events = [json.loads(data) for (data,) in query.with_entities(self.SQLEvent.data)]
        if not self.domain or not events:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events not stored yet, then publish exactly those to the event broker."""
        with self.session_scope() as session:
            stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            new_events = list(tracker.events)[stored:]
            for event in new_events:
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def _stream_new_events(self, event_broker: EventBroker, new_events: List[Event], sender_id: Text) -> None:
        bodies = [{"sender_id": sender_id, **event.as_dict()} for event in new_events]
        if isinstance(event_broker, SQLiteTunedEventBroker):
            event_broker.publish_many(bodies)
        else:
            for body in bodies:
                event_broker.publish(body)


class SQLiteTunedEventBroker(SQLEventBroker):
    """:class:`SQLEventBroker` with :func:`tune_sqlite` applied to its engine."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tune_sqlite(self.engine)

    def publish_many(self, events: List[Dict[Text, Any]]) -> None:
        """Publish several events in one transaction (all or none)."""
        if not events:
            return
        with self.session_scope() as session:
            session.add_all(
                self.SQLBrokerEvent(sender_id=event.get("sender_id"), data=json.dumps(event)) for event in events
            )
            session.commit()
