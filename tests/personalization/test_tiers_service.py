"""tiers: benefits, progress to the next tier, growth thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Member, Order, Tier
from personalization.services import tiers

from .conftest import NOW

THRESHOLDS = [("normal", 0), ("silver", 2000), ("gold", 8000), ("diamond", 20000)]


def test_all_tiers_lowest_first_with_bilingual_benefits(session: Session) -> None:
    result = tiers.all_tiers(session=session)
    assert [(t["code"], t["threshold"]) for t in result] == THRESHOLDS
    assert [t["name_zh"] for t in result] == ["普通会员", "银卡会员", "金卡会员", "钻石会员"]
    multipliers = [t["points_multiplier"] for t in result]
    assert multipliers == sorted(multipliers) and multipliers[0] == 1.0
    for tier in result:
        assert len(tier["benefits_zh"]) == len(tier["benefits_en"]) >= 4


def test_tier_status_gives_gap_and_progress_to_the_next_tier(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    member_id = segments[("silver", "active")][0]
    growth = session.get(Member, member_id).growth_value
    status = tiers.tier_status(session=session, member_id=member_id)
    assert status["tier"]["code"] == "silver"
    assert status["next_tier"]["code"] == "gold"
    assert status["growth_value"] == growth
    assert status["gap_to_next"] == 8000 - growth
    assert status["progress"] == pytest.approx((growth - 2000) / 6000, abs=1e-4)


def test_top_tier_has_no_next_tier_and_full_progress(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    status = tiers.tier_status(session=session, member_id=segments[("diamond", "active")][0])
    assert status["tier"]["code"] == "diamond"
    assert status["next_tier"] is None and status["gap_to_next"] is None
    assert status["progress"] == 1.0


def test_tier_status_of_unknown_member_is_none(session: Session) -> None:
    assert tiers.tier_status(session=session, member_id="M999999") is None


@pytest.mark.parametrize(
    ("growth", "code"),
    [(0, "normal"), (1999, "normal"), (2000, "silver"), (7999, "silver"), (8000, "gold"), (20000, "diamond")],
)
def test_tier_for_growth_uses_the_thresholds(growth: int, code: str) -> None:
    assert tiers.tier_for_growth(growth, THRESHOLDS) == code


# --- rolling 12-month spend, thresholds from the tiers table, progress texts -------------------


def test_spend_12m_is_completed_orders_of_the_last_year(session: Session, active_member_id: str) -> None:
    expected = session.scalar(
        select(func.sum(Order.total_amount)).where(
            Order.member_id == active_member_id,
            Order.status == "completed",
            Order.created_at > NOW - timedelta(days=365),
            Order.created_at <= NOW,
        )
    )
    status = tiers.tier_status(session=session, member_id=active_member_id, now=NOW)
    assert status["spend_12m"] == pytest.approx(float(expected), abs=0.01)
    assert status["growth_value"] == session.get(Member, active_member_id).growth_value == int(float(expected))


def test_progress_texts_name_the_amount_and_the_next_tier(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    status = tiers.tier_status(session=session, member_id=segments[("silver", "active")][0], now=NOW)
    amount = status["amount_to_next"]
    assert amount == pytest.approx(8000 - status["spend_12m"], abs=0.01) and amount > 0
    amount_text = f"{amount:.0f}" if amount == int(amount) else f"{amount:.2f}"
    assert status["progress_zh"] == f"再消费¥{amount_text}升级为金卡会员"
    assert status["progress_en"] == f"Spend ¥{amount_text} more to reach Gold"


def test_top_tier_progress_text_says_so(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    status = tiers.tier_status(session=session, member_id=segments[("diamond", "active")][0], now=NOW)
    assert status["amount_to_next"] is None
    assert "最高等级" in status["progress_zh"] and "top tier" in status["progress_en"]


def test_thresholds_come_from_the_tiers_table(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    member_id = segments[("silver", "active")][0]
    spend = tiers.tier_status(session=session, member_id=member_id, now=NOW)["spend_12m"]
    session.get(Tier, "gold").threshold = int(spend) - 1
    session.flush()
    status = tiers.tier_status(session=session, member_id=member_id, now=NOW)
    assert status["tier"]["code"] == "gold" and status["recorded_tier"] == "silver"


def test_tier_drops_when_the_spend_leaves_the_window(session: Session, active_member_id: str) -> None:
    status = tiers.tier_status(session=session, member_id=active_member_id, now=NOW + timedelta(days=400))
    assert status["spend_12m"] == 0 and status["tier"]["code"] == "normal"
    assert status["next_tier"]["code"] == "silver" and status["amount_to_next"] == 2000


def test_reassess_tiers_stores_the_computed_tiers(session: Session, active_member_id: str) -> None:
    assert tiers.reassess_tiers(session=session, now=NOW)["changed"] == []  # the seed is consistent
    result = tiers.reassess_tiers(session=session, now=NOW + timedelta(days=400))
    assert {c["to"] for c in result["changed"]} == {"normal"}
    member = session.get(Member, active_member_id)
    assert member.tier_code == "normal" and member.growth_value == 0


def test_every_tier_has_structured_perks(session: Session) -> None:
    perks = {t["code"]: t["perks"] for t in tiers.all_tiers(session=session)}
    assert perks["diamond"]["free_shipping_min_spend"] == 0 and perks["normal"]["free_shipping_min_spend"] == 99
    assert perks["gold"]["priority_service"] and not perks["normal"]["priority_service"]
    assert [p["points_multiplier"] for p in perks.values()] == [1.0, 1.2, 1.5, 2.0]
    assert all(p["birthday_gift_zh"] and p["birthday_gift_en"] for p in perks.values())
