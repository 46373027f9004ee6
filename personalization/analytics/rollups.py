"""A per-day rollup of the analytics tables, so the dashboard reads a few hundred rows, not every conversation.

``analytics_daily`` holds, per (conversation start day, tier, segment), the additive counts the
metrics need (:func:`conversation_counts`, :func:`turn_counts`). It is never updated by deltas:
the pipeline calls :func:`refresh_days` for the start days of every conversation it created or
changed, in the same transaction as those changes, and the rows of those days are recomputed from
``analytics_conversations`` / ``analytics_turns``. So the rollup is exactly what a full recompute
would give, re-running the pipeline changes nothing, and a crash rolls back the rollup with the
batch. :func:`ensure_rollup` builds it from scratch for a database whose conversations predate it
(or whose rollup format, :data:`VERSION`, is older than the code's).

Not additive, so kept as sets or candidates per row: the distinct members and the newest
conversations that ended negative (at most :data:`NEGATIVE_KEEP` per row). Not in the rollup:
coupon redemption (``coupons.status`` changes without events; the claimed codes are kept here so
only those are looked up) and agent times (the desk's tables).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from personalization.analytics.models import AnalyticsConversation as AC
from personalization.analytics.models import AnalyticsDaily as AD
from personalization.analytics.models import AnalyticsRollupState
from personalization.analytics.models import AnalyticsTurn as AT

ROLLUP = "daily"
VERSION = 1  # bump when the counts change meaning: the next pipeline run (or read) rebuilds
POLARITIES = ("negative", "neutral", "positive")
_DAYS_PER_QUERY = 31
NEGATIVE_KEEP = 50

_CONVERSATION_COLUMNS = (
    AC.id, AC.started_day, AC.tier, AC.segment, AC.turns, AC.fallbacks, AC.resolved_by, AC.handoff_requested,
    AC.handoff_reason, AC.first_polarity, AC.last_polarity, AC.csat, AC.rec_shown, AC.rec_engaged,
    AC.coupon_offers_shown, AC.coupons_claimed, AC.claimed_codes, AC.member_id, AC.ended_at,
)


def conversation_counts(c: Any) -> Counter[str]:
    """The additive counts one conversation contributes (``c``: a row with the columns above)."""
    counts: Counter[str] = Counter(turns=int(c.turns or 0), fallback_turns=int(c.fallbacks or 0))
    counts[f"resolved:{c.resolved_by}"] += 1
    if c.fallbacks:
        counts["with_fallback"] += 1
    if c.handoff_requested:
        counts["handoffs"] += 1
        counts[f"reason:{c.handoff_reason or 'unknown'}"] += 1
    if c.first_polarity in POLARITIES and c.last_polarity in POLARITIES:
        counts[f"change:{c.first_polarity}:{c.last_polarity}"] += 1
    if c.last_polarity == "negative":
        counts["ended_negative"] += 1
    if c.csat is not None:
        counts[f"csat:{c.resolved_by}:{int(c.csat)}"] += 1
    if c.rec_shown and c.rec_shown > 0:
        counts["rec_conversations"] += 1
        counts["rec_cards"] += int(c.rec_shown)
        if c.rec_engaged:
            counts["rec_engaged"] += 1
    if c.coupon_offers_shown and c.coupon_offers_shown > 0:
        counts["coupon_offered"] += 1
        if c.coupons_claimed and c.coupons_claimed > 0:
            counts["coupon_offered_claimed"] += 1
    if c.coupons_claimed and c.coupons_claimed > 0:
        counts["coupon_claims"] += int(c.coupons_claimed)
    return +counts  # no zero entries


def turn_counts(intent: str | None, polarity: str | None, emotion: str | None) -> list[str]:
    """The count keys one member message adds to its day."""
    keys = [f"intent:{intent or 'unknown'}"]
    if polarity is not None:
        keys += [f"polarity:{polarity}", f"emotion:{emotion or 'neutral'}"]
    return keys


def _claimed_codes(c: Any) -> list[str]:
    if not (c.coupons_claimed and c.coupons_claimed > 0):
        return []
    return [code for code in (c.claimed_codes or []) if isinstance(code, str)]


def _chunks(items: Sequence[date]) -> Iterator[Sequence[date]]:
    for start in range(0, len(items), _DAYS_PER_QUERY):
        yield items[start : start + _DAYS_PER_QUERY]


@dataclass
class _Group:
    conversations: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    turns: dict[str, Counter[str]] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    members: set[str] = field(default_factory=set)
    negatives: list[tuple[str, int]] = field(default_factory=list)


def ended_key(ended_at: datetime) -> str:
    """``ended_at`` as text that sorts like the time (fixed width)."""
    return ended_at.strftime("%Y-%m-%d %H:%M:%S.%f")


def refresh_days(session: Session, days: Iterable[date]) -> int:
    """Recompute the rollup rows of ``days`` from the conversations that started on them.

    Runs in the caller's transaction (flushing its pending changes first) and bumps the
    generation. Returns the number of rollup rows written.
    """
    ordered = sorted(set(days))
    if not ordered:
        return 0
    session.flush()
    written = 0
    for chunk in _chunks(ordered):
        groups: dict[tuple[date, str | None, str | None], _Group] = {}
        owner: dict[int, _Group] = {}
        for c in session.execute(select(*_CONVERSATION_COLUMNS).where(AC.started_day.in_(chunk))):
            group = groups.setdefault((c.started_day, c.tier, c.segment), _Group())
            group.conversations += 1
            group.counts.update(conversation_counts(c))
            group.codes.extend(_claimed_codes(c))
            if c.member_id:
                group.members.add(c.member_id)
            if c.last_polarity == "negative":
                group.negatives.append((ended_key(c.ended_at), c.id))
            owner[c.id] = group
        turns = (
            select(AT.conversation_id, AT.day, AT.intent, AT.polarity, AT.emotion, func.count(AT.id))
            .join(AC, AC.id == AT.conversation_id)
            .where(AC.started_day.in_(chunk))
            .group_by(AT.conversation_id, AT.day, AT.intent, AT.polarity, AT.emotion)
        )
        for conversation_id, day, intent, polarity, emotion, n in session.execute(turns):
            group = owner.get(conversation_id)
            if group is None:
                continue
            bucket = group.turns.setdefault(_iso(day), Counter())
            for key in turn_counts(intent, polarity, emotion):
                bucket[key] += int(n)
        session.execute(delete(AD).where(AD.day.in_(chunk)))
        rows = [
            {"day": day, "tier": tier, "segment": segment, "conversations": g.conversations,
             "counts": dict(g.counts), "turn_counts": {d: dict(c) for d, c in sorted(g.turns.items())},
             "coupon_codes": g.codes, "members": sorted(g.members),
             "negatives": [list(n) for n in sorted(g.negatives, reverse=True)[:NEGATIVE_KEEP]]}
            for (day, tier, segment), g in groups.items()
        ]
        if rows:
            session.execute(insert(AD), rows)
        written += len(rows)
    _bump(session)
    return written


def _iso(day: Any) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)


def _bump(session: Session, *, version: int | None = None) -> AnalyticsRollupState:
    state = session.get(AnalyticsRollupState, ROLLUP)
    if state is None:
        state = AnalyticsRollupState(name=ROLLUP, version=0, generation=0)
        session.add(state)
    # Unique even if a transaction that bumped it rolled back (a reader may have cached that number).
    state.generation = max((state.generation or 0) + 1, time.time_ns() // 1000)
    if version is not None:
        state.version = version
    state.updated_at = datetime.now().replace(microsecond=0)
    session.flush()
    return state


def ensure_rollup(session: Session, *, progress: bool = False) -> bool:
    """Build the whole rollup when it was never built (or has an older format); True if it did.

    Cheap when the rollup is current (one primary-key read). Runs in the caller's transaction.
    """
    state = session.get(AnalyticsRollupState, ROLLUP)
    if state is not None and state.version == VERSION:
        return False
    days = sorted(d for d in session.scalars(select(AC.started_day).distinct()) if d is not None)
    session.execute(delete(AD))
    bar = None
    if progress and days:
        from tqdm import tqdm

        bar = tqdm(total=len(days), unit="day", desc="analytics rollup", leave=False)
    for chunk in _chunks(days):
        refresh_days(session, chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    _bump(session, version=VERSION)
    return True


def generation(session: Session) -> int:
    """Changes whenever the rollup changes (a cache key); 0 before it is built."""
    return int(session.scalar(select(AnalyticsRollupState.generation).where(AnalyticsRollupState.name == ROLLUP)) or 0)


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class Totals:
    """The rollup summed over one filter."""

    counts: Counter[str] = field(default_factory=Counter)  # conversation-level, whole range
    per_day: dict[date, Counter[str]] = field(default_factory=dict)  # "conversations", "turns" per start day
    turn_days: dict[str, Counter[str]] = field(default_factory=dict)  # per message day (ISO)
    members: dict[date, set[str]] = field(default_factory=dict)  # distinct members per start day
    negatives: list[tuple[str, int]] = field(default_factory=list)  # (ended_at key, id): candidates, unordered
    coupon_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    day: date
    tier: str | None
    segment: str | None
    conversations: int
    counts: dict[str, int]
    turns: dict[str, dict[str, int]]
    members: frozenset[str]
    negatives: list[tuple[str, int]]
    coupon_codes: list[str]


class _Snapshot:
    """The whole rollup of one database, decoded, for one generation (a few rows per day)."""

    def __init__(self, generation: int, rows: list[_Row]) -> None:
        self.generation = generation
        self.rows = sorted(rows, key=lambda r: r.day)
        self.days = [r.day for r in self.rows]


_snapshots: dict[str, _Snapshot] = {}
_snapshots_lock = threading.Lock()


def _snapshot(session: Session) -> _Snapshot:
    """The decoded rollup, re-read only when its generation changed (any process may change it)."""
    current = generation(session)
    key = str(session.get_bind().engine.url)
    with _snapshots_lock:
        found = _snapshots.get(key)
    if found is not None and found.generation == current:
        return found
    rows = [
        _Row(_as_date(day), tier, segment, int(n), counts or {}, turns or {}, frozenset(members or ()),
             [(str(k), int(i)) for k, i in negatives or ()], list(codes or ()))
        for day, tier, segment, n, counts, turns, members, negatives, codes in session.execute(
            select(AD.day, AD.tier, AD.segment, AD.conversations, AD.counts, AD.turn_counts, AD.members, AD.negatives,
                   AD.coupon_codes)
        )
    ]
    found = _Snapshot(current, rows)
    with _snapshots_lock:
        _snapshots[key] = found
    return found


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _matches(value: str | None, wanted: str | None, none_value: str) -> bool:
    if not wanted:
        return True
    return value is None if wanted == none_value else value == wanted


def load(session: Session, start: date, end: date, tier: str | None, segment: str | None,
         *, anonymous: str, no_segment: str) -> Totals:
    """Sum the rollup rows of conversations started in ``start..end`` with the tier/segment filter.

    Reads a decoded copy of the rollup kept per generation (see :func:`generation`), so repeated
    dashboard calls decode no JSON; the first call after the pipeline changed the rollup re-reads it.
    """
    ensure_rollup(session)
    snapshot = _snapshot(session)
    totals = Totals()
    counts = totals.counts
    for index in range(bisect_left(snapshot.days, start), bisect_right(snapshot.days, end)):
        row = snapshot.rows[index]
        if not (_matches(row.tier, tier, anonymous) and _matches(row.segment, segment, no_segment)):
            continue
        day, conversations, row_counts, row_turns = row.day, row.conversations, row.counts, row.turns
        if row.members:
            totals.members.setdefault(day, set()).update(row.members)
        totals.negatives.extend(row.negatives)
        totals.coupon_codes.extend(row.coupon_codes)
        per_day = totals.per_day.setdefault(day, Counter())
        per_day["conversations"] += conversations
        per_day["turns"] += row_counts.get("turns", 0)
        counts["conversations"] += conversations
        for key, n in row_counts.items():
            counts[key] += n
        for turn_day, turn_counts_ in row_turns.items():
            bucket = totals.turn_days.get(turn_day)
            if bucket is None:
                bucket = totals.turn_days[turn_day] = Counter()
            for key, n in turn_counts_.items():
                bucket[key] += n
    return totals
