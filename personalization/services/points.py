"""Points: balance and expiring lots, replayed first-in-first-out from the ledger.

Each positive entry is a lot that expires at its ``expires_at`` (earned points: the end of
the year after they were earned; None: never). Redemptions and negative adjustments use the
lots that expire soonest first; an ``expire`` entry removes what is left of the lots that
have lapsed. A lot that has lapsed counts for nothing even before its ``expire`` entry is
written, so the balance is what the member can spend at ``now``.

Writers (:func:`earn_points`, :func:`redeem_points`) lock the member's row first, so two
concurrent redemptions cannot both spend the same points; they flush and the caller commits.
Bad input raises :class:`PointsError` with a machine code and Chinese and English messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from personalization.models import Member, PointsEntry
from personalization.services import tiers
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
        ``{"balance", "expiring": [{"points", "expires_at"}], "expiring_points",
        "expiring_first_at", "warning_days", "expiry_reminder_zh", "expiry_reminder_en",
        "next_expiry", "recent"}`` (``expiring`` soonest first; the reminders are None when
        nothing expires within ``warning_days``; ``recent`` newest first, at most 5), or None
        for an unknown member.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return None
    now = resolve_now(now)
    rows = _ledger_rows(session, member.member_id, now)
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
    reminder_zh, reminder_en = expiry_reminder_texts(expiring, warning_days=warning_days)
    return {
        "balance": balance_of(lots, now=now),
        "expiring": expiring,
        "expiring_points": sum(int(lot["points"]) for lot in expiring),
        "expiring_first_at": expiring[0]["expires_at"] if expiring else None,
        "warning_days": warning_days,
        "expiry_reminder_zh": reminder_zh,
        "expiry_reminder_en": reminder_en,
        "next_expiry": upcoming[0] if upcoming else None,
        "recent": recent,
    }


def _ledger_rows(session: Session, member_id: str, now: datetime) -> list[PointsEntry]:
    return list(
        session.scalars(
            select(PointsEntry)
            .where(PointsEntry.member_id == member_id, PointsEntry.at <= now)
            .order_by(PointsEntry.at, PointsEntry.id)
        )
    )


def _date_texts(at: str) -> tuple[str, str]:
    day = datetime.fromisoformat(at)
    return f"{day.year}年{day.month}月{day.day}日", day.strftime("%d %b %Y").lstrip("0")


def expiry_reminder_texts(expiring: list[dict[str, Any]], *, warning_days: int) -> tuple[str | None, str | None]:
    """Ready-made reminders for points expiring soon, soonest date named; (None, None) if none expire soon.

    Args:
        expiring: ``[{"points", "expires_at"}]`` soonest first, as in :func:`points_summary`.
        warning_days: the warning window, named when several dates fall in it.
    """
    if not expiring:
        return None, None
    total = sum(int(lot["points"]) for lot in expiring)
    first_zh, first_en = _date_texts(expiring[0]["expires_at"])
    if len(expiring) == 1:
        return (
            f"您有{total}积分将于{first_zh}到期，请尽快使用哦。",
            f"{total} of your points expire on {first_en}; use them before then.",
        )
    first = int(expiring[0]["points"])
    return (
        f"您有{total}积分将在{warning_days}天内到期，其中{first}积分最早于{first_zh}到期，请尽快使用哦。",
        f"{total} of your points expire within {warning_days} days, the first {first} on {first_en}.",
    )


class PointsError(ValueError):
    """A points write that cannot be done; ``code`` for programs, ``message_zh``/``message_en`` for people."""

    def __init__(self, code: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details


class InsufficientPoints(PointsError):
    """A redemption larger than the spendable balance (no overdraft)."""


def _member_for_write(session: Session, member_id: object) -> str:
    member = find_member(session=session, member_id=member_id)
    if member is None:
        raise PointsError("unknown_member", "没有找到这个会员。", "No such member.", member_id=member_id)
    # A no-op UPDATE takes the row lock (PostgreSQL) or the database write lock (SQLite) before the
    # balance is read, so a concurrent writer waits until this transaction ends.
    session.execute(update(Member).where(Member.member_id == member.member_id).values(growth_value=Member.growth_value))
    return member.member_id


def _positive_points(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PointsError(
            "invalid_amount", "积分数必须是正整数。", "Points must be a positive whole number.", value=value
        )
    return value


def _non_negative_yuan(value: object) -> Decimal:
    try:
        yuan = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except (InvalidOperation, ValueError):
        yuan = Decimal("NaN")
    if not yuan.is_finite() or yuan < 0:
        raise PointsError(
            "invalid_amount", "消费金额必须是不小于0的数字。", "Spend must be a number of at least 0.", value=value
        )
    return yuan


def _balance_now(session: Session, member_id: str, now: datetime) -> int:
    rows = _ledger_rows(session, member_id, now)
    lines = (LedgerLine(at=r.at, amount=r.amount, kind=r.kind, expires_at=r.expires_at) for r in rows)
    return balance_of(replay_ledger(lines, now=now), now=now)


def earn_points(
    *,
    session: Session,
    member_id: str,
    spend: Decimal | float | str,
    now: datetime | None = None,
    order_id: str | None = None,
    reason: str = "购物奖励",
) -> dict[str, Any]:
    """Credit points for a purchase: 1 point per whole yuan times the member's tier multiplier.

    The multiplier is the tier the member's rolling 12-month spend reaches at ``now`` (the
    ``tiers`` table). The lot expires at the end of the following year. Flushes; the caller commits.

    Args:
        session: the caller's session.
        member_id: the member's id.
        spend: yuan paid (>= 0).
        now: when the points are earned (default: now).
        order_id: the order the points are for, if any.
        reason: ledger text.

    Returns:
        ``{"member_id", "earned", "multiplier", "tier", "expires_at", "balance", "entry_id"}``.

    Raises:
        PointsError: unknown member (``unknown_member``) or a spend that is not a non-negative
            amount (``invalid_amount``).
    """
    now = resolve_now(now)
    yuan = _non_negative_yuan(spend)
    member_key = _member_for_write(session, member_id)
    spend_12m = tiers.spend_12m(session=session, member_id=member_key, now=now)
    status = tiers.status_from_spend(spend=spend_12m, tiers=tiers.load_tiers(session=session))
    multiplier = Decimal(str(status["tier"]["points_multiplier"]))
    earned = int((yuan * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    entry = None
    if earned > 0:
        entry = PointsEntry(
            member_id=member_key,
            at=now,
            amount=earned,
            kind="earn",
            reason=reason[:64],
            order_id=order_id,
            expires_at=end_of_next_year(now),
        )
        session.add(entry)
        session.flush()
    return {
        "member_id": member_key,
        "earned": earned,
        "multiplier": float(multiplier),
        "tier": status["tier"]["code"],
        "expires_at": iso(entry.expires_at) if entry else None,
        "balance": _balance_now(session, member_key, now),
        "entry_id": entry.id if entry else None,
    }


def redeem_points(
    *,
    session: Session,
    member_id: str,
    points: int,
    now: datetime | None = None,
    reason: str = "积分兑换",
    order_id: str | None = None,
) -> dict[str, Any]:
    """Spend points, soonest-expiring first; refuses to go below zero. Flushes; the caller commits.

    Args:
        session: the caller's session.
        member_id: the member's id.
        points: how many points (a positive whole number).
        now: when (default: now).
        reason: ledger text.
        order_id: the order the points pay towards, if any.

    Returns:
        ``{"member_id", "redeemed", "balance", "entry_id"}`` (balance after the redemption).

    Raises:
        InsufficientPoints: more points than the member can spend at ``now`` (``details`` has
            ``balance`` and ``requested``); nothing is written.
        PointsError: unknown member or an amount that is not a positive whole number.
    """
    now = resolve_now(now)
    amount = _positive_points(points)
    member_key = _member_for_write(session, member_id)
    balance = _balance_now(session, member_key, now)
    if amount > balance:
        raise InsufficientPoints(
            "insufficient_points",
            f"积分不足：可用{balance}分，本次需要{amount}分。",
            f"Not enough points: {balance} available, {amount} requested.",
            balance=balance,
            requested=amount,
        )
    entry = PointsEntry(
        member_id=member_key, at=now, amount=-amount, kind="redeem", reason=reason[:64], order_id=order_id
    )
    session.add(entry)
    session.flush()
    return {"member_id": member_key, "redeemed": amount, "balance": balance - amount, "entry_id": entry.id}
