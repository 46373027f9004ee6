"""points: FIFO balance and expiry on hand-built ledgers."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from personalization.models import Member, PointsEntry
from personalization.services import points

END_2025 = datetime(2025, 12, 31, 23, 59, 59)
END_2026 = datetime(2026, 12, 31, 23, 59, 59)
END_2027 = datetime(2027, 12, 31, 23, 59, 59)


@pytest.fixture()
def ledger_member(session: Session) -> str:
    session.add(
        Member(
            member_id="M900001",
            name="测试",
            gender="U",
            birthday=None,
            city="上海",
            phone="13800000000",
            registered_at=datetime(2024, 1, 1),
            consent_personalization=True,
            preferred_language="zh",
            tier_code="normal",
            growth_value=0,
        )
    )
    session.flush()
    return "M900001"


def _add(session: Session, member_id: str, *entries: tuple[datetime, int, str, datetime | None]) -> None:
    for at, amount, kind, expires_at in entries:
        session.add(
            PointsEntry(member_id=member_id, at=at, amount=amount, kind=kind, reason=kind, expires_at=expires_at)
        )
    session.flush()


def test_redemption_uses_the_soonest_expiring_points_first(session: Session, ledger_member: str) -> None:
    _add(
        session,
        ledger_member,
        (datetime(2024, 3, 1), 100, "earn", END_2025),
        (datetime(2025, 6, 1), 300, "earn", END_2026),
        (datetime(2025, 9, 1), -150, "redeem", None),
        (datetime(2026, 2, 1), 200, "earn", END_2027),
    )
    summary = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 11, 15))
    # FIFO: the redemption used all 100 of the 2024 lot and 50 of the 2025 lot, so nothing lapsed.
    assert summary["balance"] == 450
    assert summary["expiring"] == [{"points": 250, "expires_at": "2026-12-31T23:59:59"}]
    assert summary["next_expiry"] == {"points": 250, "expires_at": "2026-12-31T23:59:59"}


def test_points_expiring_beyond_the_warning_window_are_not_listed(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2026, 2, 1), 200, "earn", END_2027))
    summary = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 11, 15))
    assert summary["expiring"] == []
    assert summary["next_expiry"] == {"points": 200, "expires_at": "2027-12-31T23:59:59"}


def test_lapsed_points_do_not_count_even_before_the_expiry_entry(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2024, 3, 1), 100, "earn", END_2025))
    summary = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 3, 1))
    assert summary["balance"] == 0
    assert summary["next_expiry"] is None


def test_expiry_entry_removes_the_lapsed_lot_only(session: Session, ledger_member: str) -> None:
    _add(
        session,
        ledger_member,
        (datetime(2024, 3, 1), 100, "earn", END_2025),
        (datetime(2025, 3, 1), 50, "earn", END_2026),
        (END_2025, -100, "expire", None),
    )
    summary = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 3, 1))
    assert summary["balance"] == 50


def test_recent_lists_the_last_five_entries_newest_first(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, *((datetime(2026, 1, day), day, "earn", END_2027) for day in range(1, 8)))
    recent = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 3, 1))["recent"]
    assert [r["amount"] for r in recent] == [7, 6, 5, 4, 3]
    assert recent[0] == {"at": "2026-01-07T00:00:00", "amount": 7, "kind": "earn", "reason": "earn"}


def test_entries_after_now_are_ignored(session: Session, ledger_member: str) -> None:
    _add(
        session,
        ledger_member,
        (datetime(2026, 1, 1), 80, "earn", END_2027),
        (datetime(2026, 5, 1), 20, "earn", END_2027),
    )
    assert points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 3, 1))["balance"] == 80


def test_points_summary_of_unknown_member_is_none(session: Session) -> None:
    assert points.points_summary(session=session, member_id="nobody") is None


def test_end_of_next_year() -> None:
    assert points.end_of_next_year(datetime(2025, 1, 1, 8, 0)) == END_2026
