"""Points: balance and expiring lots, replayed first-in-first-out from the ledger.

Each positive entry is a lot that expires at its ``expires_at`` (earned points: the end of
the year after they were earned; None: never). Redemptions and negative adjustments use the
lots that expire soonest first; an ``expire`` entry removes what is left of the lots that
have lapsed. A lot that has lapsed counts for nothing even before its ``expire`` entry is
written, so the balance is what the member can spend at ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import PointsEntry
from personalization.services._common import find_member, iso, resolve_now
from personalization.settings import Settings

RECENT_ENTRIES = 5
DEFAULT_WARNING_DAYS: int = Settings.points_expiry_warning_days
_NEVER = datetime.max


@dataclass
class Lot:
    """Points earned at one time, and how many of them are left."""

    earned_at: datetime
    expires_at: datetime | None
    remaining: int

    def live_at(self, at: datetime) -> bool:
        """Whether the lot can still be spent at ``at``."""
        return self.remaining > 0 and (self.expires_at is None or self.expires_at > at)


@dataclass(frozen=True)
class LedgerLine:
    """The fields of a ledger entry that the replay needs."""

    at: datetime
    amount: int
    kind: str
    expires_at: datetime | None = None


def end_of_next_year(at: datetime) -> datetime:
    """When points earned at ``at`` expire: 23:59:59 on 31 December of the following year."""
    return datetime(at.year + 1, 12, 31, 23, 59, 59)


def _consume(lots: list[Lot], amount: int, at: datetime, *, lapsed_too: bool) -> None:
    for lot in lots:  # already ordered soonest expiry first
        if amount <= 0:
            return
        if lot.remaining <= 0 or (not lapsed_too and not lot.live_at(at)):
            continue
        used = min(lot.remaining, amount)
        lot.remaining -= used
        amount -= used


def replay_ledger(entries: Iterable[LedgerLine], *, now: datetime) -> list[Lot]:
    """Replay ledger entries up to ``now`` and return every lot with what is left of it.

    Entries are applied in time order (at equal times, credits before debits). Debits use lots
    soonest-expiring first; ``expire`` entries may also use lots that have already lapsed,
    redemptions only live ones.

    Args:
        entries: ledger entries in any order; those after ``now`` are ignored.
        now: the instant to replay to.

    Returns:
        Lots ordered soonest expiry first (never-expiring last).
    """
    lots: list[Lot] = []
    ordered = sorted((e for e in entries if e.at <= now), key=lambda e: (e.at, 0 if e.amount > 0 else 1))
    for entry in ordered:
        if entry.amount > 0:
            lots.append(Lot(earned_at=entry.at, expires_at=entry.expires_at, remaining=entry.amount))
            lots.sort(key=lambda lot: (lot.expires_at or _NEVER, lot.earned_at))
        elif entry.amount < 0:
            _consume(lots, -entry.amount, entry.at, lapsed_too=entry.kind == "expire")
    return lots


def balance_of(lots: Iterable[Lot], *, now: datetime) -> int:
    """Points that can be spent at ``now``."""
    return sum(lot.remaining for lot in lots if lot.live_at(now))


def _grouped_by_expiry(lots: Iterable[Lot]) -> list[dict[str, Any]]:
    totals: dict[datetime, int] = {}
    for lot in lots:
        if lot.expires_at is not None:
            totals[lot.expires_at] = totals.get(lot.expires_at, 0) + lot.remaining
    return [{"points": pts, "expires_at": iso(at)} for at, pts in sorted(totals.items())]


def points_summary(
    *,
    session: Session,
    member_id: str | None,
    now: datetime | None = None,
    warning_days: int = DEFAULT_WARNING_DAYS,
) -> dict[str, Any] | None:
    """The member's points balance, what expires soon and the latest ledger entries.

    Args:
        session: the caller's session.
        member_id: the member's id.
        now: reference instant (default: now).
        warning_days: lots expiring within this many days count as ``expiring``
            (``Settings.points_expiry_warning_days``).

    Returns:
        ``{"balance", "expiring": [{"points", "expires_at"}], "next_expiry", "recent"}``
        (``expiring`` soonest first; ``recent`` newest first, at most 5), or None for an
        unknown member.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    now = resolve_now(now)
    rows = session.scalars(
        select(PointsEntry)
        .where(PointsEntry.member_id == member.member_id, PointsEntry.at <= now)
        .order_by(PointsEntry.at, PointsEntry.id)
    ).all()
    lots = replay_ledger(
        (LedgerLine(at=r.at, amount=r.amount, kind=r.kind, expires_at=r.expires_at) for r in rows), now=now
    )
    live = [lot for lot in lots if lot.live_at(now)]
    horizon = now + timedelta(days=warning_days)
    expiring = _grouped_by_expiry(lot for lot in live if lot.expires_at is not None and lot.expires_at <= horizon)
    upcoming = _grouped_by_expiry(live)
    recent = [
        {"at": iso(r.at), "amount": int(r.amount), "kind": r.kind, "reason": r.reason}
        for r in reversed(rows[-RECENT_ENTRIES:])
    ]
    return {
        "balance": balance_of(lots, now=now),
        "expiring": expiring,
        "next_expiry": upcoming[0] if upcoming else None,
        "recent": recent,
    }
