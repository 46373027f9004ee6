"""profiles: the member profile (RFM, affinities, price, lifecycle, churn risk) and the batch job."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization import profiles
from personalization.models import Member, MemberProfileRow, Order, OrderItem, Product
from personalization.services import members

from .conftest import NOW, SeededDb
from .test_personalization_cli import _cli, _ok

PURCHASE = Order.status.not_in(("cancelled", "pending_payment"))


def _new_member(session: Session, member_id: str, registered_at: datetime, *, consent: bool = True) -> str:
    session.add(
        Member(
            member_id=member_id,
            name="新会员",
            gender="U",
            birthday=None,
            city="杭州",
            phone="13900000000",
            registered_at=registered_at,
            consent_personalization=consent,
            preferred_language="en",
            tier_code="normal",
            growth_value=0,
        )
    )
    session.flush()
    return member_id


def _copy(seeded_db: SeededDb, tmp_path: Path) -> str:
    """A private copy of the seeded database (WAL included), for commands that commit."""
    target = tmp_path / "copy.db"
    with sqlite3.connect(seeded_db.path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


def test_rfm_matches_the_members_orders(session: Session, active_member_id: str) -> None:
    profile = profiles.build_profile(session=session, member_id=active_member_id, now=NOW)
    last = session.scalar(select(func.max(Order.created_at)).where(Order.member_id == active_member_id, PURCHASE))
    in_year = (Order.member_id == active_member_id, PURCHASE, Order.created_at > NOW - timedelta(days=365))
    frequency = session.scalar(select(func.count()).select_from(Order).where(*in_year))
    monetary = session.scalar(
        select(func.sum(Order.total_amount)).where(*in_year, Order.status != "returned")
    ) or Decimal(0)
    assert profile is not None and profile.rfm is not None
    assert profile.rfm.recency_days == int((NOW - last).total_seconds() // 86400)
    assert profile.rfm.frequency == frequency > 0
    assert profile.rfm.monetary == pytest.approx(float(monetary), abs=0.01)
    assert all(1 <= s <= 5 for s in (profile.rfm.r_score, profile.rfm.f_score, profile.rfm.m_score))


def test_rfm_scores_split_the_base_into_quintiles(seeded_db: SeededDb, session: Session) -> None:
    profiles.compute_profiles(session=session, now=NOW, progress=False, full=True)
    scores = [row["rfm"]["m_score"] for row in session.scalars(select(MemberProfileRow.data)) if row.get("rfm")]
    top = sum(1 for s in scores if s == 5) / len(scores)
    bottom_four = sum(1 for s in scores if s <= 4) / len(scores)
    assert 0.15 <= top <= 0.25 and bottom_four >= 0.75


def test_category_affinities_agree_with_the_existing_top_categories(session: Session, active_member_id: str) -> None:
    profile = profiles.build_profile(session=session, member_id=active_member_id, now=NOW)
    top = members.member_profile(session=session, member_id=active_member_id, now=NOW)["top_categories"]
    assert [a.key for a in profile.category_affinities[: len(top)]] == [c["key"] for c in top]
    assert [a.score for a in profile.category_affinities[:3]] == pytest.approx([c["score"] for c in top], abs=1e-3)
    for affinities in (profile.category_affinities, profile.brand_affinities):
        assert 1 <= len(affinities) <= profiles.TOP_N
        assert [a.score for a in affinities] == sorted((a.score for a in affinities), reverse=True)
        assert sum(a.score for a in affinities) <= 1.0 + 1e-6
        assert affinities[0].name_zh and affinities[0].name_en


def test_price_sensitivity_comes_from_prices_paid_and_coupon_use(session: Session, active_member_id: str) -> None:
    price = profiles.build_profile(session=session, member_id=active_member_id, now=NOW).price_sensitivity
    paid = session.scalars(
        select(OrderItem.unit_price)
        .join(Order, Order.order_id == OrderItem.order_id)
        .where(Order.member_id == active_member_id, Order.status != "cancelled", Order.created_at <= NOW)
    ).all()
    purchases = session.scalars(select(Order).where(Order.member_id == active_member_id, PURCHASE)).all()
    with_coupon = sum(1 for o in purchases if o.coupon_code)
    assert price is not None
    assert price.p25_item_price <= price.median_item_price <= price.p75_item_price
    assert min(paid) <= price.median_item_price <= max(paid)
    assert price.coupon_use_rate == round(with_coupon / len(purchases), 3)
    assert price.label == profiles.price_label(
        coupon_use_rate=with_coupon / len(purchases), price_index=price.price_index
    )


@pytest.mark.parametrize(
    ("coupon_rate", "index", "label"),
    [(0.5, 1.0, "high"), (0.0, 0.5, "high"), (0.05, 1.5, "low"), (0.2, 1.5, "medium"), (0.0, 1.0, "medium")],
)
def test_price_label_rules(coupon_rate: float, index: float, label: str) -> None:
    assert profiles.price_label(coupon_use_rate=coupon_rate, price_index=index) == label


def test_new_member_without_history_gets_an_empty_but_sensible_profile(session: Session) -> None:
    member_id = _new_member(session, "M900010", NOW - timedelta(days=3))
    profile = profiles.build_profile(session=session, member_id=member_id, now=NOW)
    assert profile is not None and profile.lifecycle == "new" and profile.orders_count == 0
    assert profile.category_affinities == [] and profile.brand_affinities == []
    assert profile.price_sensitivity is None
    assert profile.rfm is not None and profile.rfm.recency_days is None and profile.rfm.code == "111"
    assert profile.churn_risk is not None and profile.churn_risk.score < 0.1
    assert profile.segment == "new"
    assert profile.language == "en" and profile.tier == "normal"


def test_member_who_never_ordered_in_a_year_is_churned_with_high_risk(session: Session) -> None:
    member_id = _new_member(session, "M900011", NOW - timedelta(days=400))
    profile = profiles.build_profile(session=session, member_id=member_id, now=NOW)
    assert profile.lifecycle == "churned"
    assert profile.churn_risk.score > 0.9
    assert "400" in profile.churn_risk.explanation_zh and "400" in profile.churn_risk.explanation_en


@pytest.mark.parametrize(
    ("registered_days_ago", "last_order_days_ago", "stage"),
    [
        (10, 2, "new"),
        (29, None, "new"),
        (31, 179, "active"),
        (400, 5, "active"),
        (400, 181, "dormant"),
        (400, 364, "dormant"),
        (400, 366, "churned"),
        (40, None, "dormant"),
        (179, None, "dormant"),
        (181, None, "churned"),
    ],
)
def test_lifecycle_rules(registered_days_ago: int, last_order_days_ago: int | None, stage: str) -> None:
    now = datetime(2026, 10, 15, 12, 0)
    last = now - timedelta(days=last_order_days_ago) if last_order_days_ago is not None else None
    registered = now - timedelta(days=registered_days_ago)
    assert profiles.lifecycle_stage(registered_at=registered, last_order_at=last, now=now) == stage


def test_lifecycle_refines_the_three_stage_lifecycle(session: Session) -> None:
    last_orders = dict(
        session.execute(select(Order.member_id, func.max(Order.created_at)).group_by(Order.member_id)).tuples().all()
    )
    refines = {"new": {"new"}, "active": {"active"}, "dormant": {"dormant", "churned"}}
    for member in session.scalars(select(Member)):
        kwargs = {"registered_at": member.registered_at, "last_order_at": last_orders.get(member.member_id), "now": NOW}
        assert profiles.lifecycle_stage(**kwargs) in refines[members.lifecycle_stage(**kwargs)]


def test_churn_risk_is_half_at_twice_the_usual_gap_and_grows_with_recency() -> None:
    # 11 purchases 30 days apart: expected gap (10*30 + 2*30) / 12 = 30 days.
    at_twice = profiles.churn_risk(recency_days=60, purchases=11, mean_gap_days=30, prior_gap_days=30)
    assert at_twice.score == pytest.approx(0.5) and at_twice.expected_gap_days == 30
    scores = [
        profiles.churn_risk(recency_days=d, purchases=11, mean_gap_days=30, prior_gap_days=30).score
        for d in (0, 15, 30, 90, 180)
    ]
    assert scores == sorted(scores) and scores[0] < 0.1 and scores[-1] > 0.95


def test_churn_risk_follows_the_members_own_rhythm() -> None:
    weekly = profiles.churn_risk(recency_days=40, purchases=30, mean_gap_days=7, prior_gap_days=40)
    quarterly = profiles.churn_risk(recency_days=40, purchases=30, mean_gap_days=90, prior_gap_days=40)
    assert weekly.score > 0.9
    assert quarterly.score < 0.1


def test_churn_risk_separates_active_from_dormant_members(session: Session) -> None:
    profiles.compute_profiles(session=session, now=NOW, progress=False, full=True)
    risk: dict[str, list[float]] = {}
    for lifecycle, score in session.execute(select(MemberProfileRow.lifecycle, MemberProfileRow.churn_risk)):
        if score is not None:
            risk.setdefault(lifecycle, []).append(score)
    median = {k: sorted(v)[len(v) // 2] for k, v in risk.items()}
    assert median["active"] < 0.3
    assert median["dormant"] > 0.7


@pytest.mark.parametrize("bad", ["M999999", "abc", "", None, 42])
def test_unknown_member_has_no_profile(session: Session, bad: object) -> None:
    assert profiles.build_profile(session=session, member_id=bad, now=NOW) is None
    assert profiles.get_profile(session=session, member_id=bad, now=NOW) is None
    assert profiles.profile_unavailable_reason(session=session, member_id=bad, now=NOW)["code"] == "unknown_member"


def test_now_before_registration_is_a_clear_answer(session: Session, active_member_id: str) -> None:
    registered = session.get(Member, active_member_id).registered_at
    before = registered - timedelta(days=1)
    assert profiles.build_profile(session=session, member_id=active_member_id, now=before) is None
    reason = profiles.profile_unavailable_reason(session=session, member_id=active_member_id, now=before)
    assert reason["code"] == "not_registered_yet" and reason["registered_at"] == registered.isoformat()
    assert members.member_profile(session=session, member_id=active_member_id, now=before)["profile"] is None


def test_opted_out_member_is_not_profiled(session: Session, active_member_id: str) -> None:
    session.get(Member, active_member_id).consent_personalization = False
    profile = profiles.build_profile(session=session, member_id=active_member_id, now=NOW)
    assert profile.profiled is False and profile.consent is False
    assert profile.rfm is None and profile.category_affinities == [] and profile.segment is None
    assert profile.churn_risk is None and profile.price_sensitivity is None
    assert profile.lifecycle == "active"


def test_batch_stores_every_member_and_matches_the_live_profile(session: Session, seeded_db: SeededDb) -> None:
    result = profiles.compute_profiles(session=session, now=NOW, progress=False)
    assert result["computed"] == result["members"] == seeded_db.counts["members"]
    assert sum(result["segments"].values()) == result["members"]
    for member_id in ("M100001", "M100050", "M100150"):
        stored = session.get(MemberProfileRow, member_id)
        live = profiles.build_profile(session=session, member_id=member_id, now=NOW)
        assert stored.data == json.loads(json.dumps(live.to_dict(), ensure_ascii=False))
        assert stored.segment == live.segment and stored.lifecycle == live.lifecycle
        assert profiles.get_profile(session=session, member_id=member_id, now=NOW) == live


def test_incremental_batch_recomputes_only_members_with_new_activity(session: Session, active_member_id: str) -> None:
    profiles.compute_profiles(session=session, now=NOW, progress=False)
    sku = session.scalars(select(Product.sku).limit(1)).one()
    order = Order(
        order_id="DD209912310001",
        member_id=active_member_id,
        created_at=NOW + timedelta(hours=1),
        status="paid",
        total_amount=Decimal("88.00"),
        shipping_city="上海",
    )
    order.items.append(OrderItem(sku=sku, quantity=1, unit_price=Decimal("88.00")))
    session.add(order)
    session.flush()
    later = NOW + timedelta(hours=2)
    before = session.get(MemberProfileRow, active_member_id).data["orders_count"]

    result = profiles.compute_profiles(session=session, now=later, progress=False)

    assert result["mode"] == "incremental" and result["computed"] == 1
    session.expire_all()
    row = session.get(MemberProfileRow, active_member_id)
    assert row.computed_at == later and row.data["orders_count"] == before + 1
    assert session.get(MemberProfileRow, "M100001" if active_member_id != "M100001" else "M100002").computed_at == NOW


def test_stored_profile_is_not_served_after_the_member_opts_out(session: Session, active_member_id: str) -> None:
    profiles.compute_profiles(session=session, now=NOW, progress=False)
    session.get(Member, active_member_id).consent_personalization = False
    session.flush()
    profile = profiles.get_profile(session=session, member_id=active_member_id, now=NOW)
    assert profile.profiled is False and profile.category_affinities == []


def test_profile_round_trips_through_its_dict(session: Session, active_member_id: str) -> None:
    profile = profiles.build_profile(session=session, member_id=active_member_id, now=NOW)
    assert profiles.MemberProfile.from_dict(profile.to_dict()) == profile


def test_profiles_and_profile_commands(seeded_db: SeededDb, tmp_path: Path, active_member_id: str) -> None:
    url = _copy(seeded_db, tmp_path)
    at = ["--now", NOW.isoformat()]
    first = _ok(url, "profiles", "--quiet", *at)
    again = _ok(url, "profiles", "--quiet", *at)
    assert first["computed"] == seeded_db.counts["members"] and again["computed"] == 0
    shown = _ok(url, "profile", active_member_id, *at)
    assert {"member_id", "name", "tier", "points", "top_categories"} <= set(shown)
    assert shown["profile"]["segment"] == shown["segment"]["code"]
    assert shown["profile"]["rfm"]["code"] and shown["profile"]["churn_risk"]["explanation_zh"]
    done = _cli(url, "profile", active_member_id, "--now", "2000-01-01")
    assert done.returncode == 2 and json.loads(done.stderr)["code"] == "not_registered_yet"
