"""The verification pass of an erasure: re-scan every store for the member id, name and phone."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from personalization.models import Base, Member
from personalization.rights.report import STORE_FAILED, STORE_OK, Verification
from personalization.rights.stores import RasaStores, StoreUnavailable, member_id_pattern, search_variants

APP = "app"
# (table, column) where the member id stays by design; see personalization.rights.erase.POLICY.
RETAINED_ID_COLUMNS = frozenset({
    ("members", "member_id"),
    ("orders", "member_id"),
    ("coupons", "member_id"),
    ("return_requests", "member_id"),
    ("privacy_requests", "member_id"),
    ("privacy_reports", "member_id"),
    ("privacy_reports", "report"),
})
AUDIT_KIND_PREFIX = "privacy_"  # agent_actions of the rights API itself (who exported / erased whom)


def verify_erasure(
    factory: sessionmaker[Session], rasa: RasaStores | None, *, member_id: str, name: str | None, phone: str | None
) -> Verification:
    """Scan the app database and Rasa's stores; ``ok`` when no store holds the member's identifiers
    outside the retained places and every store could be read."""
    terms = {"member_id": member_id}
    if name:
        terms["name"] = name
    if phone:
        terms["phone"] = phone
    result = Verification(checked=list(terms))
    result.stores[APP] = _scan_app(factory, terms, member_id)
    shared_labels = set(result.stores[APP].get("shared") or {})
    for store in rasa.all() if rasa is not None else ():
        try:
            if store.absent:
                result.stores[store.name] = {"status": "absent", "hits": {}}
                continue
            counted = {label: n for label, n in store.scan(terms, member_id).items() if n}
            hits = {label: n for label, n in counted.items() if label not in shared_labels}
            ambiguous = {label: n for label, n in counted.items() if label in shared_labels}
            result.stores[store.name] = {"status": STORE_OK, "hits": {"events": hits} if hits else {},
                                         "ambiguous": {"events": ambiguous} if ambiguous else {}}
        except StoreUnavailable as exc:
            result.stores[store.name] = {"status": STORE_FAILED, "error": str(exc), "hits": {}}
    for store_name, scan in result.stores.items():
        if scan["status"] == STORE_FAILED:
            result.problems.append(f"{store_name}: could not be scanned ({scan.get('error')})")
        for place, labels in scan.get("hits", {}).items():
            for label, count in labels.items():
                result.problems.append(f"{store_name}: {place} still holds the member's {label} ({count} rows)")
    result.ok = not result.problems
    return result


def _opaque(column: Any) -> bool:
    """A column whose stored form differs from its value (e.g. encrypted at rest)."""
    return isinstance(column.type, TypeDecorator)


def _text_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, (String, Text, JSON)) or _opaque(c)]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _scan_app(factory: sessionmaker[Session], terms: dict[str, str], member_id: str) -> dict[str, Any]:
    hits: dict[str, dict[str, int]] = defaultdict(dict)
    retained: dict[str, int] = defaultdict(int)
    shared: dict[str, int] = defaultdict(int)
    ambiguous: dict[str, dict[str, int]] = defaultdict(dict)
    id_pattern = member_id_pattern(member_id)
    try:
        with factory() as session:
            present = set(inspect(session.get_bind()).get_table_names())
            tables = [t for t in Base.metadata.sorted_tables if t.name in present]
            for label, term in terms.items():
                if label in ("name", "phone") and "members" in present:
                    # In Python: the columns may be encrypted at rest (no SQL comparison possible).
                    others = sum(
                        1 for mid, value in session.execute(select(Member.member_id, getattr(Member, label)))
                        if mid != member_id and value == term
                    )
                    if others:
                        shared[label] = others
                found: dict[str, int] = defaultdict(int)
                for table in tables:
                    columns = _text_columns(table)
                    if not columns:
                        continue
                    query = select(table)
                    if not any(_opaque(c) for c in columns):
                        # Plain text: let the database find candidate rows. A table with encrypted
                        # (opaque) columns is read whole and checked after decryption.
                        query = query.where(or_(*(cast(c, Text).like(f"%{v}%") for v in search_variants(term) for c in columns)))
                    for row in session.execute(query).mappings():
                        for column in columns:
                            text = _as_text(row[column.key])
                            if label == "member_id":
                                matched = bool(id_pattern.search(text))
                            else:
                                matched = term in text
                            if not matched:
                                continue
                            place = f"{table.name}.{column.key}"
                            if label == "member_id" and _retained(table.name, column.key, row):
                                retained[place] += 1
                            elif table.name == "members" and row["member_id"] != member_id and text == term:
                                continue  # another member's own name / phone (counted in ``shared``)
                            else:
                                found[place] += 1
                for place, count in found.items():
                    if label != "member_id" and shared.get(label):
                        ambiguous[place][label] = count
                    else:
                        hits[place][label] = count
            session.rollback()
    except SQLAlchemyError as exc:
        return {"status": STORE_FAILED, "error": str(getattr(exc, "orig", exc)).splitlines()[0][:300], "hits": {}}
    return {"status": STORE_OK, "hits": dict(hits), "retained": dict(retained), "shared": dict(shared),
            "ambiguous": dict(ambiguous)}


def _retained(table: str, column: str, row: Any) -> bool:
    if (table, column) in RETAINED_ID_COLUMNS:
        return True
    return table == "agent_actions" and str(row.get("kind") or "").startswith(AUDIT_KIND_PREFIX)
