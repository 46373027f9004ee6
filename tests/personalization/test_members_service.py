"""members: look-up, lifecycle and the profile."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Member, Order
from personalization.services import members, points

from .conftest import NOW


@pytest.mark.parametrize(
    "bad", ["abc", "", "   ", None, 100001, "M999999", "M1", "100001", "M100001; DROP TABLE members"]
)
def test_unknown_or_malformed_member_ids_give_none(session: Session, bad: object) -> None:
    assert members.get_member(session=session, member_id=bad) is None  # type: ignore[arg-type]
    assert members.member_profile(session=session, member_id=bad, now=NOW) is None  # type: ignore[arg-type]


def test_member_id_is_matched_ignoring_case_and_spaces(session: Session) -> None:
    member = members.get_member(session=session, member_id="  m100001 ")
    assert member is not None and member.member_id == "M100001"


def test_profile_points_equal_the_points_balance(session: Session, active_member_id: str) -> None:
    profile = members.member_profile(session=session, member_id=active_member_id, now=NOW)
    summary = points.points_summary(session=session, member_id=active_member_id, now=NOW)
    assert profile["points"] == summary["balance"] > 0


def test_profile_shows_the_stored_tier_and_growth_value(session: Session, active_member_id: str) -> None:
    member = session.get(Member, active_member_id)
    profile = members.member_profile(session=session, member_id=active_member_id, now=NOW)
    assert profile["tier"] == {"code": "gold", "name_zh": "金卡会员", "name_en": "Gold"}
    assert profile["growth_value"] == member.growth_value
    assert profile["orders_count"] == session.scalar(
        select(func.count()).select_from(Order).where(Order.member_id == active_member_id)
    )


def test_profile_masks_the_phone_number(session: Session, active_member_id: str) -> None:
    member = session.get(Member, active_member_id)
    masked = members.member_profile(session=session, member_id=active_member_id, now=NOW)["masked_phone"]
    assert re.fullmatch(r"1\d{2}\*{4}\d{4}", masked)
    assert masked == member.phone[:3] + "****" + member.phone[-4:]
    assert member.phone not in str(members.member_profile(session=session, member_id=active_member_id, now=NOW))


def test_profile_top_categories_are_at_most_three_best_first(session: Session, active_member_id: str) -> None:
    top = members.member_profile(session=session, member_id=active_member_id, now=NOW)["top_categories"]
    assert 1 <= len(top) <= 3
    scores = [c["score"] for c in top]
    assert scores == sorted(scores, reverse=True)
    assert top[0]["name_zh"] and top[0]["name_en"]


def test_profile_lifecycle_matches_the_members_history(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    for stage in ("new", "active", "dormant"):
        member_id = segments[("normal", stage)][0]
        assert members.member_profile(session=session, member_id=member_id, now=NOW)["lifecycle"] == stage


def test_opted_out_member_is_not_profiled(session: Session, active_member_id: str) -> None:
    session.get(Member, active_member_id).consent_personalization = False
    profile = members.member_profile(session=session, member_id=active_member_id, now=NOW)
    assert profile["consent_personalization"] is False
    assert profile["top_categories"] == []


@pytest.mark.parametrize(
    ("registered_days_ago", "last_order_days_ago", "stage"),
    [
        (10, 2, "new"),
        (29, None, "new"),
        (31, 179, "active"),
        (400, 5, "active"),
        (400, 181, "dormant"),
        (40, None, "dormant"),
    ],
)
def test_lifecycle_stage_boundaries(registered_days_ago: int, last_order_days_ago: int | None, stage: str) -> None:
    now = datetime(2026, 10, 15, 12, 0)
    last = now - timedelta(days=last_order_days_ago) if last_order_days_ago is not None else None
    assert (
        members.lifecycle_stage(registered_at=now - timedelta(days=registered_days_ago), last_order_at=last, now=now)
        == stage
    )


def test_list_members_filters_by_tier_and_lifecycle(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    listed = members.list_members(session=session, limit=100, tier="silver", lifecycle="dormant", now=NOW)
    assert [m["member_id"] for m in listed] == segments[("silver", "dormant")][:100]
    assert all(m["tier"] == "silver" and m["lifecycle"] == "dormant" for m in listed)


def test_profile_includes_the_full_profile_and_tier_progress(session: Session, active_member_id: str) -> None:
    from personalization.services import tiers

    profile = members.member_profile(session=session, member_id=active_member_id, now=NOW)
    status = tiers.tier_status(session=session, member_id=active_member_id, now=NOW)
    assert profile["tier_progress_zh"] == status["progress_zh"] and profile["spend_12m"] == status["spend_12m"]
    full = profile["profile"]
    assert full["member_id"] == active_member_id and full["tier"] == profile["tier"]["code"]
    assert full["lifecycle"] == "active" and full["rfm"]["frequency"] > 0
    assert profile["segment"] == full["segment_label"] and profile["segment"]["name_zh"]
    assert profile["profile_unavailable"] is None
