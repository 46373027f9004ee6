"""claim_coupon under concurrency, on SQLite and on a throwaway PostgreSQL cluster.

Many threads claim at the same instant (a barrier releases them together); the stored rows must
never exceed a template's stock or a member's per-period limit, and every thread gets a clear status.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import sessionmaker

from personalization.coupon_offers import offers_for_member
from personalization.db import create_schema, make_engine, session_factory
from personalization.models import Base, Coupon, CouponTemplate, Member, Tier
from personalization.services.coupons import claim_coupon
from personalization.settings import Settings

NOW = datetime(2026, 10, 15, 12, 0, 0)
N_MEMBERS = 60
MEMBER_IDS = [f"M{700001 + i}" for i in range(N_MEMBERS)]


def _fill(engine: Engine) -> None:
    """A tier, members and templates: stock 10 / limit 1; unlimited / 2 a month; a yearly birthday gift."""
    Base.metadata.drop_all(engine)
    create_schema(engine)
    template = {
        "kind": "amount_off",
        "value": Decimal(20),
        "min_spend": Decimal(100),
        "category": None,
        "valid_days": 30,
        "audience": "all",
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=10),
        "issued_count": 0,
        "active": True,
    }
    with engine.begin() as conn:
        conn.execute(
            insert(Tier),
            [
                {
                    "code": "normal",
                    "rank": 0,
                    "name_zh": "普通会员",
                    "name_en": "Member",
                    "threshold": 0,
                    "points_multiplier": Decimal("1.00"),
                    "benefits_zh": [],
                    "benefits_en": [],
                }
            ],
        )
        conn.execute(
            insert(Member),
            [
                {
                    "member_id": member_id,
                    "name": f"会员{i}",
                    "gender": "U",
                    "birthday": None,
                    "city": "上海",
                    "phone": f"1380000{i:04d}",
                    "registered_at": NOW - timedelta(days=400),
                    "consent_personalization": True,
                    "preferred_language": "zh",
                    "tier_code": "normal",
                    "growth_value": 0,
                }
                for i, member_id in enumerate(MEMBER_IDS)
            ],
        )
        conn.execute(
            insert(CouponTemplate),
            [
                {
                    **template,
                    "template_id": "LIMITED_10",
                    "title_zh": "限量券",
                    "title_en": "Limited coupon",
                    "per_member_limit": 1,
                    "limit_period": "campaign",
                    "total_stock": 10,
                },
                {
                    **template,
                    "template_id": "BIRTHDAY_GIFT",
                    "title_zh": "生日礼券",
                    "title_en": "Birthday coupon",
                    "audience": "birthday",
                    "per_member_limit": 1,
                    "limit_period": "year",
                    "total_stock": None,
                },
                {
                    **template,
                    "template_id": "TWICE_MONTHLY",
                    "title_zh": "每月两张",
                    "title_en": "Twice a month",
                    "per_member_limit": 2,
                    "limit_period": "month",
                    "total_stock": None,
                },
            ],
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def claims_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'claims.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(Settings(database_url=url))
    _fill(engine)
    yield engine
    engine.dispose()


def _race(engine: Engine, claims: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Run the claims in parallel threads released together; returns their results in order."""
    factory = session_factory(engine)
    barrier = threading.Barrier(len(claims))

    def claim(member_and_template: tuple[str, str]) -> dict[str, Any]:
        member_id, template_id = member_and_template
        barrier.wait(timeout=30)
        return claim_coupon(bind=factory, member_id=member_id, template_id=template_id, now=NOW)

    with ThreadPoolExecutor(max_workers=len(claims)) as pool:
        return list(pool.map(claim, claims))


def _stored(factory: sessionmaker, template_id: str) -> tuple[list[str], int]:  # type: ignore[type-arg]
    """(member ids of the stored coupons, the template's issued_count)."""
    with factory() as session:
        holders = session.scalars(select(Coupon.member_id).where(Coupon.template_id == template_id)).all()
        issued = session.scalar(select(CouponTemplate.issued_count).where(CouponTemplate.template_id == template_id))
    return list(holders), int(issued or 0)


def test_twenty_parallel_claims_by_one_member_issue_one_coupon(claims_engine: Engine) -> None:
    results = _race(claims_engine, [(MEMBER_IDS[0], "LIMITED_10")] * 20)
    assert Counter(r["status"] for r in results) == {"claimed": 1, "already_claimed": 19}
    holders, issued = _stored(session_factory(claims_engine), "LIMITED_10")
    assert holders == [MEMBER_IDS[0]] and issued == 1


def test_fifty_members_racing_for_ten_coupons_get_exactly_ten(claims_engine: Engine) -> None:
    results = _race(claims_engine, [(member_id, "LIMITED_10") for member_id in MEMBER_IDS[:50]])
    assert Counter(r["status"] for r in results) == {"claimed": 10, "out_of_stock": 40}
    winners = sorted(r["member_id"] for r in results if r["status"] == "claimed")
    holders, issued = _stored(session_factory(claims_engine), "LIMITED_10")
    assert sorted(holders) == winners and len(set(winners)) == 10 and issued == 10
    codes = [r["coupon"]["code"] for r in results if r["status"] == "claimed"]
    assert len(set(codes)) == 10


def test_parallel_claims_stop_at_a_per_member_limit_of_two(claims_engine: Engine) -> None:
    results = _race(claims_engine, [(MEMBER_IDS[1], "TWICE_MONTHLY")] * 20)
    assert Counter(r["status"] for r in results) == {"claimed": 2, "already_claimed": 18}
    holders, issued = _stored(session_factory(claims_engine), "TWICE_MONTHLY")
    assert holders == [MEMBER_IDS[1]] * 2 and issued == 2
    with session_factory(claims_engine)() as session:
        keys = session.scalars(select(Coupon.claim_key).where(Coupon.template_id == "TWICE_MONTHLY")).all()
    assert sorted(keys) == ["2026-10#1", "2026-10#2"]


def test_mixed_race_keeps_stock_and_limits_together(claims_engine: Engine) -> None:
    """Thirty members each try three times at once for ten coupons: ten distinct winners, no doubles."""
    claims = [(member_id, "LIMITED_10") for member_id in MEMBER_IDS[:30] for _ in range(3)]
    results = _race(claims_engine, claims)
    statuses = Counter(r["status"] for r in results)
    assert statuses["claimed"] == 10 and set(statuses) <= {"claimed", "already_claimed", "out_of_stock"}
    holders, issued = _stored(session_factory(claims_engine), "LIMITED_10")
    assert len(holders) == len(set(holders)) == 10 and issued == 10
    with session_factory(claims_engine)() as session:
        assert session.scalar(select(func.count()).select_from(Coupon)) == 10


def test_offers_and_claims_agree(claims_engine: Engine) -> None:
    """The birth month is read in SQL on either database; a claimed gift is no longer offered."""
    factory = session_factory(claims_engine)
    born_this_month, member_id = MEMBER_IDS[-1], MEMBER_IDS[-2]
    with factory() as session:
        session.get(Member, born_this_month).birthday = date(1990, NOW.month, 30)
        session.commit()
        gifts = offers_for_member(session=session, member_id=born_this_month, now=NOW, limit=5)
        assert [o["template_id"] for o in gifts][:1] == ["BIRTHDAY_GIFT"] and gifts[0]["reason_zh"] == "生日月专享"
        others = offers_for_member(session=session, member_id=member_id, now=NOW, limit=5)
        assert "BIRTHDAY_GIFT" not in [o["template_id"] for o in others]
    claimed = claim_coupon(bind=factory, member_id=born_this_month, template_id="BIRTHDAY_GIFT", now=NOW)
    assert claimed["status"] == "claimed"
    refused = claim_coupon(bind=factory, member_id=member_id, template_id="BIRTHDAY_GIFT", now=NOW)
    assert (refused["status"], refused["reason"]) == ("not_eligible", "audience")
    with factory() as session:
        again = offers_for_member(session=session, member_id=born_this_month, now=NOW, limit=5)
        assert "BIRTHDAY_GIFT" not in [o["template_id"] for o in again]


def test_the_postgresql_url_works_with_make_engine(postgres_url: str) -> None:
    engine = make_engine(Settings(database_url=postgres_url))
    try:
        assert engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("select 1").scalar() == 1
    finally:
        engine.dispose()
