"""The erasure report: what was found, deleted, anonymized and kept in each store, and the re-scan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STORE_OK = "ok"
STORE_ABSENT = "absent"  # e.g. Rasa never wrote its SQLite file: nothing to erase
STORE_FAILED = "failed"


@dataclass
class TableResult:
    found: int = 0
    deleted: int = 0
    anonymized: int = 0
    kept: int = 0


@dataclass
class StoreResult:
    status: str = STORE_OK
    error: str | None = None
    tables: dict[str, TableResult] = field(default_factory=dict)

    def table(self, name: str) -> TableResult:
        return self.tables.setdefault(name, TableResult())


@dataclass
class Verification:
    """The re-scan of every store for the member id, name and phone after the erasure.

    ``hits`` must be empty for ``ok``. ``retained`` counts the member id where the policy keeps it
    (the anonymized account row, orders kept for accounting, the privacy requests and reports, the
    audit trail of this erasure). ``shared`` counts a name or phone that other members also have
    (their own rows are not the erased member's data; text hits of such a term are listed as
    ``ambiguous`` instead of failing).
    """

    ok: bool = False
    checked: list[str] = field(default_factory=list)
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class ErasureReport:
    member_id: str
    requested_by: str
    started_at: str
    finished_at: str | None = None
    report_id: int | None = None
    request_id: str | None = None
    status: str = "failed"  # completed / failed
    senders: int = 0
    stores: dict[str, StoreResult] = field(default_factory=dict)
    verification: Verification = field(default_factory=Verification)
    policy: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def store(self, name: str) -> StoreResult:
        return self.stores.setdefault(name, StoreResult())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
