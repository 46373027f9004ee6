"""points: FIFO balance and expiry on hand-built ledgers."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.db import make_engine, session_factory
from personalization.models import Member, PointsEntry
from personalization.services import points
from personalization.settings import Settings

from .conftest import NOW, SeededDb

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


# --- expiry reminders, earning and redeeming ---------------------------------------------------


def _ledger_count(session: Session, member_id: str) -> int:
    return session.scalar(select(func.count()).select_from(PointsEntry).where(PointsEntry.member_id == member_id))


def test_expiry_reminder_names_the_points_and_the_date(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2025, 6, 1), 250, "earn", END_2026))
    summary = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 11, 15))
    assert summary["expiring_points"] == 250 and summary["expiring_first_at"] == "2026-12-31T23:59:59"
    assert summary["expiry_reminder_zh"] == "您有250积分将于2026年12月31日到期，请尽快使用哦。"
    assert summary["expiry_reminder_en"] == "250 of your points expire on 31 Dec 2026; use them before then."


def test_no_reminder_when_nothing_expires_soon(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2026, 2, 1), 200, "earn", END_2027))
    summary = points.points_summary(session=session, member_id=ledger_member, now=datetime(2026, 11, 15))
    assert summary["expiring_points"] == 0
    assert summary["expiry_reminder_zh"] is None and summary["expiry_reminder_en"] is None


def test_earning_applies_the_tier_multiplier(session: Session, active_member_id: str) -> None:
    before = points.points_summary(session=session, member_id=active_member_id, now=NOW)["balance"]
    earned = points.earn_points(session=session, member_id=active_member_id, spend="100.80", now=NOW, order_id="DD1")
    assert earned["tier"] == "gold" and earned["multiplier"] == 1.5
    assert earned["earned"] == 151  # floor(100.80 x 1.5)
    assert earned["expires_at"] == "2027-12-31T23:59:59"
    assert earned["balance"] == before + 151
    assert points.points_summary(session=session, member_id=active_member_id, now=NOW)["balance"] == before + 151


def test_earning_for_a_normal_member_is_one_point_per_yuan(session: Session, ledger_member: str) -> None:
    assert points.earn_points(session=session, member_id=ledger_member, spend=99.9, now=NOW)["earned"] == 99
    assert points.earn_points(session=session, member_id=ledger_member, spend=0, now=NOW)["earned"] == 0
    assert _ledger_count(session, ledger_member) == 1  # zero points write no line


def test_redeeming_records_a_ledger_line_and_lowers_the_balance(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2026, 1, 1), 300, "earn", END_2027))
    result = points.redeem_points(session=session, member_id=ledger_member, points=120, now=NOW, reason="兑换礼品")
    assert result == {"member_id": ledger_member, "redeemed": 120, "balance": 180, "entry_id": result["entry_id"]}
    line = session.get(PointsEntry, result["entry_id"])
    assert (line.amount, line.kind, line.reason) == (-120, "redeem", "兑换礼品")
    assert points.points_summary(session=session, member_id=ledger_member, now=NOW)["balance"] == 180


def test_overdraft_is_refused_and_writes_nothing(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2026, 1, 1), 100, "earn", END_2027))
    with pytest.raises(points.InsufficientPoints) as refused:
        points.redeem_points(session=session, member_id=ledger_member, points=101, now=NOW)
    assert refused.value.code == "insufficient_points"
    assert refused.value.details == {"balance": 100, "requested": 101}
    assert "积分不足" in refused.value.message_zh and "Not enough points" in refused.value.message_en
    assert _ledger_count(session, ledger_member) == 1


def test_lapsed_points_cannot_be_redeemed(session: Session, ledger_member: str) -> None:
    _add(session, ledger_member, (datetime(2024, 3, 1), 100, "earn", END_2025))
    with pytest.raises(points.InsufficientPoints):
        points.redeem_points(session=session, member_id=ledger_member, points=50, now=datetime(2026, 3, 1))


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "10", None])
def test_redeeming_a_bad_amount_is_a_clear_error(session: Session, ledger_member: str, bad: object) -> None:
    with pytest.raises(points.PointsError) as refused:
        points.redeem_points(session=session, member_id=ledger_member, points=bad, now=NOW)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_amount"


@pytest.mark.parametrize("bad", [-1, "abc", float("nan"), None, True])
def test_earning_a_bad_spend_is_a_clear_error(session: Session, ledger_member: str, bad: object) -> None:
    with pytest.raises(points.PointsError) as refused:
        points.earn_points(session=session, member_id=ledger_member, spend=bad, now=NOW)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_amount"


def test_writes_for_an_unknown_member_are_refused(session: Session) -> None:
    for write in (
        lambda: points.earn_points(session=session, member_id="M999999", spend=10, now=NOW),
        lambda: points.redeem_points(session=session, member_id="nobody", points=10, now=NOW),
    ):
        with pytest.raises(points.PointsError) as refused:
            write()
        assert refused.value.code == "unknown_member"


def test_concurrent_redemptions_cannot_both_spend_the_same_points(seeded_db: SeededDb, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    with sqlite3.connect(seeded_db.path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    engine = make_engine(Settings(database_url=f"sqlite:///{target}"))
    factory = session_factory(engine)
    member_id = "M100001"
    with factory() as s:
        balance = points.points_summary(session=s, member_id=member_id, now=NOW)["balance"]
    assert balance > 0
    outcome: dict[str, object] = {}
    first = factory()
    points.redeem_points(session=first, member_id=member_id, points=balance, now=NOW)  # holds the write lock

    def second_redemption() -> None:
        with factory() as s:
            try:
                points.redeem_points(session=s, member_id=member_id, points=balance, now=NOW)
                s.commit()
                outcome["second"] = "redeemed"
            except points.InsufficientPoints as exc:
                outcome["second"] = exc.details

    thread = threading.Thread(target=second_redemption)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive()  # waiting for the first transaction
    first.commit()
    first.close()
    thread.join(timeout=20)
    assert outcome["second"] == {"balance": 0, "requested": balance}
    with factory() as s:
        assert points.points_summary(session=s, member_id=member_id, now=NOW)["balance"] == 0
    engine.dispose()
