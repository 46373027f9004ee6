"""Rasa's stores as the members' rights see them: the SQL tracker store and the SQL event broker copy.

Both are an ``events`` table keyed by ``sender_id`` with Rasa's event JSON in ``data`` (the tracker
store adds ``type_name``, ``timestamp``, ``intent_name``, ``action_name``). A store is a SQLite file
(``Settings.rasa_tracker_db`` / ``rasa_events_db``) or any SQLAlchemy URL (PostgreSQL in a scale-out).
A SQLite file that does not exist is *absent* (Rasa never wrote it): nothing to export or erase, and
it is not created here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, create_engine, func, inspect, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from personalization.settings import Settings

TRACKER = "rasa_tracker"
BROKER = "rasa_broker"
TOMBSTONE_SENDER = ""
_CHUNK = 500


class StoreUnavailable(Exception):
    """The store cannot be opened or read (a broken file, a server that does not answer)."""


def store_url(location: str) -> str:
    """A SQLAlchemy URL for a settings value that is either a URL or a SQLite file path."""
    return location if "://" in location else f"sqlite:///{Path(location)}"


def member_id_pattern(member_id: str) -> re.Pattern[str]:
    """The member id as a whole token (``M100001`` but not ``M1000012``)."""
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(member_id)}(?![0-9])")


def search_variants(term: str) -> list[str]:
    """``term`` as it may be stored: verbatim, and JSON-escaped (Rasa writes ``json.dumps`` with ASCII escapes)."""
    escaped = json.dumps(term)[1:-1]
    return [term] if escaped == term else [term, escaped]


def mentions_member(event: Any, member_id: str) -> bool:
    """Whether a Rasa event ties its conversation to the member: the ``member_id`` slot, the session's
    metadata, or the message metadata (web and REST channels)."""
    if not isinstance(event, dict):
        return False
    metadata = event.get("metadata")
    if isinstance(metadata, dict) and metadata.get("member_id") == member_id:
        return True
    parse = event.get("parse_data")
    if isinstance(parse, dict) and isinstance(parse.get("metadata"), dict) and parse["metadata"].get("member_id") == member_id:
        return True
    if event.get("event") == "slot":
        value = event.get("value")
        if event.get("name") == "member_id" and value == member_id:
            return True
        if event.get("name") == "session_started_metadata" and isinstance(value, dict):
            return value.get("member_id") == member_id
    return False


def decode(data: Any) -> dict[str, Any]:
    try:
        event = json.loads(data) if isinstance(data, (str, bytes)) else data
    except (TypeError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


@dataclass
class RasaEventStore:
    """One ``events`` table of Rasa (tracker store or broker copy)."""

    name: str
    url: str

    def __post_init__(self) -> None:
        self._engine: Engine | None = None
        self._table: Table | None = None

    @property
    def absent(self) -> bool:
        """A SQLite file that does not exist, or a database without an ``events`` table."""
        return self.table() is None

    def _missing_file(self) -> bool:
        url = make_url(self.url)
        return (
            url.get_backend_name() == "sqlite"
            and url.database not in (None, "", ":memory:")
            and not Path(url.database).is_file()
        )

    def engine(self) -> Engine:
        if self._engine is None:
            url = make_url(self.url)
            kwargs: dict[str, Any] = {"connect_args": {"timeout": 15}} if url.get_backend_name() == "sqlite" else {"pool_pre_ping": True}
            self._engine = create_engine(url, **kwargs)
        return self._engine

    def table(self) -> Table | None:
        """The ``events`` table as it exists (columns reflected), or None."""
        if self._table is None:
            if self._missing_file():
                return None  # never create Rasa's file here
            try:
                engine = self.engine()
                if not inspect(engine).has_table("events"):
                    return None
                columns = {c["name"] for c in inspect(engine).get_columns("events")}
            except SQLAlchemyError as exc:
                raise StoreUnavailable(_short(exc)) from None
            if not {"id", "sender_id", "data"} <= columns:
                raise StoreUnavailable("the events table lacks id / sender_id / data")
            extra = [Column(name, String) for name in ("type_name", "intent_name", "action_name") if name in columns]
            self._table = Table(
                "events", MetaData(), Column("id", Integer, primary_key=True), Column("sender_id", String(255)),
                Column("data", Text), *extra,
            )
        return self._table

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreUnavailable(_short(exc)) from None

    # -- reading ------------------------------------------------------------------------------------
    def senders_of(self, member_id: str) -> set[str]:
        """Senders whose events tie them to the member (slot, session or message metadata)."""
        table = self.table()
        if table is None:
            return set()
        query = select(table.c.sender_id, table.c.data).where(table.c.data.like(f"%{member_id}%"))
        found: set[str] = set()
        with self._errors(), self.engine().connect() as connection:
            for sender, data in connection.execute(query):
                if sender and mentions_member(decode(data), member_id):
                    found.add(str(sender))
        return found

    def events_of(self, senders: Iterable[str]) -> list[dict[str, Any]]:
        """``[{"id", "sender_id", "event"}]`` of these senders, in id order."""
        table = self.table()
        senders = sorted(set(senders))
        if table is None or not senders:
            return []
        rows: list[dict[str, Any]] = []
        with self._errors(), self.engine().connect() as connection:
            for chunk in chunks(senders):
                query = select(table.c.id, table.c.sender_id, table.c.data).where(table.c.sender_id.in_(chunk))
                rows.extend({"id": int(i), "sender_id": s, "event": decode(d)} for i, s, d in connection.execute(query))
        return sorted(rows, key=lambda row: row["id"])

    def count_of(self, senders: Iterable[str]) -> int:
        table = self.table()
        senders = sorted(set(senders))
        if table is None or not senders:
            return 0
        total = 0
        with self._errors(), self.engine().connect() as connection:
            for chunk in chunks(senders):
                total += int(connection.scalar(select(func.count()).select_from(table).where(table.c.sender_id.in_(chunk))) or 0)
        return total

    # -- erasing ------------------------------------------------------------------------------------
    def delete_senders(self, senders: Iterable[str], *, keep_max_id: bool) -> dict[str, int]:
        """Delete every event of ``senders`` in one transaction.

        ``keep_max_id`` (the broker copy): SQLite reuses the highest rowid of a table without
        AUTOINCREMENT, and the analytics pipeline reads ``id > cursor``; deleting the newest rows
        would let the next events reuse ids the cursor has passed, and they would never be read. So
        when the deleted rows include the highest id, an empty tombstone row (``sender_id ''``,
        ``data '{}'``: the pipeline skips it as invalid) keeps that id taken.

        Returns ``{"found", "deleted", "tombstones"}``.
        """
        table = self.table()
        senders = sorted(set(senders))
        result = {"found": 0, "deleted": 0, "tombstones": 0}
        if table is None or not senders:
            return result
        with self._errors(), self.engine().begin() as connection:
            top = connection.scalar(select(func.max(table.c.id)))
            for chunk in chunks(senders):
                where = table.c.sender_id.in_(chunk)
                result["found"] += int(connection.scalar(select(func.count()).select_from(table).where(where)) or 0)
                result["deleted"] += connection.execute(table.delete().where(where)).rowcount or 0
            if keep_max_id and top is not None and result["deleted"]:
                remaining = connection.scalar(select(func.max(table.c.id)))
                if remaining is None or remaining < top:
                    values: dict[str, Any] = {"id": top, "sender_id": TOMBSTONE_SENDER, "data": "{}"}
                    if "type_name" in table.c:
                        values["type_name"] = "erased"
                    connection.execute(table.insert().values(**values))
                    result["tombstones"] = 1
        return result

    # -- verification -------------------------------------------------------------------------------
    def scan(self, terms: dict[str, str], member_id: str) -> dict[str, int]:
        """Rows whose ``sender_id`` or ``data`` contain each term (label -> hits); the member id as a whole token."""
        table = self.table()
        hits = {label: 0 for label in terms}
        if table is None:
            return hits
        id_pattern = member_id_pattern(member_id)
        with self._errors(), self.engine().connect() as connection:
            for label, term in terms.items():
                clauses = [col.like(f"%{variant}%") for variant in search_variants(term) for col in (table.c.sender_id, table.c.data)]
                for sender, data in connection.execute(select(table.c.sender_id, table.c.data).where(or_(*clauses))):
                    text = f"{sender or ''}\n{data or ''}"
                    if label == "member_id" and not id_pattern.search(text):
                        continue
                    hits[label] += 1
        return hits


@dataclass
class RasaStores:
    """The tracker store and the broker copy of one deployment."""

    tracker: RasaEventStore
    broker: RasaEventStore

    @classmethod
    def from_settings(cls, settings: Settings) -> "RasaStores":
        return cls(
            tracker=RasaEventStore(TRACKER, store_url(settings.rasa_tracker_db)),
            broker=RasaEventStore(BROKER, store_url(settings.rasa_events_db)),
        )

    def all(self) -> tuple[RasaEventStore, RasaEventStore]:
        return (self.tracker, self.broker)

    def close(self) -> None:
        for store in self.all():
            store.close()


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
