"""tiers: benefits, progress to the next tier, growth thresholds."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from personalization.models import Member
from personalization.services import tiers

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
