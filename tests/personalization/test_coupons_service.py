"""coupons: what can be used now (soonest expiry first, readable terms), claiming and redeeming."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from personalization import cli
from personalization.db import make_engine, session_factory
from personalization.models import Coupon, CouponTemplate, Member, Order
from personalization.services import coupons
from personalization.settings import Settings

from .conftest import NOW, SeededDb

Segments = dict[tuple[str, str], list[str]]


def _issue(
    session: Session, member_id: str, code: str, *, status: str, starts: int, ends: int, template: str = "SHOP_300_50"
) -> None:
    """A coupon valid from NOW + ``starts`` days to NOW + ``ends`` days."""
    session.add(
        Coupon(
            code=code,
            member_id=member_id,
            template_id=template,
            issued_at=NOW + timedelta(days=min(starts, 0) - 1),
            valid_from=NOW + timedelta(days=starts),
            valid_until=NOW + timedelta(days=ends),
            status=status,
        )
    )


def test_only_usable_coupons_are_listed_soonest_expiry_first(session: Session, active_member_id: str) -> None:
    for coupon in session.scalars(select(Coupon).where(Coupon.member_id == active_member_id)):
        session.delete(coupon)
    _issue(session, active_member_id, "CPLATER001", status="available", starts=-5, ends=20)
    _issue(session, active_member_id, "CPSOON0001", status="available", starts=-5, ends=2, template="CAT_BEAUTY")
    _issue(session, active_member_id, "CPLAPSED01", status="available", starts=-40, ends=-1)
    _issue(session, active_member_id, "CPNOTYET01", status="available", starts=3, ends=30)
    _issue(session, active_member_id, "CPUSED0001", status="used", starts=-5, ends=20)
    _issue(session, active_member_id, "CPEXPIRED1", status="expired", starts=-5, ends=20)
    session.flush()
    result = coupons.usable_coupons(session=session, member_id=active_member_id, now=NOW)
    assert [c["code"] for c in result] == ["CPSOON0001", "CPLATER001"]


def test_coupon_card_carries_terms_and_category(session: Session, active_member_id: str) -> None:
    _issue(session, active_member_id, "CPBEAUTY01", status="available", starts=-1, ends=1, template="CAT_BEAUTY")
    session.flush()
    card = coupons.usable_coupons(session=session, member_id=active_member_id, now=NOW)[0]
    assert card == {
        "code": "CPBEAUTY01",
        "template_id": "CAT_BEAUTY",
        "title_zh": "美妆护肤专享券",
        "title_en": "Beauty & Skincare coupon",
        "kind": "amount_off",
        "value": 30.0,
        "min_spend": 200.0,
        "category": "beauty",
        "category_zh": "美妆护肤",
        "category_en": "Beauty & Skincare",
        "valid_until": (NOW + timedelta(days=1)).isoformat(timespec="seconds"),
        "summary_zh": "满200减30",
        "summary_en": "¥30 off orders over ¥200",
    }


def test_seeded_usable_coupons_are_available_and_valid_now(session: Session, segments) -> None:  # type: ignore[no-untyped-def]
    member_id = segments[("gold", "active")][0]  # gold members get a monthly coupon
    result = coupons.usable_coupons(session=session, member_id=member_id, now=NOW)
    assert result
    for card in result:
        coupon = session.get(Coupon, card["code"])
        assert coupon.member_id == member_id and coupon.status == "available"
        assert coupon.valid_from <= NOW <= coupon.valid_until


@pytest.mark.parametrize(
    ("kind", "value", "min_spend", "summary"),
    [
        ("amount_off", 50, 300, ("满300减50", "¥50 off orders over ¥300")),
        ("amount_off", 20, 0, ("无门槛减20", "¥20 off, no minimum spend")),
        ("percent_off", 5, 199, ("满199享95折", "5% off orders over ¥199")),
        ("percent_off", 10, 299, ("满299享9折", "10% off orders over ¥299")),
    ],
)
def test_coupon_summary_reads_like_the_shop_writes_it(
    kind: str, value: int, min_spend: int, summary: tuple[str, str]
) -> None:
    assert coupons.coupon_summary(kind, value, min_spend) == summary


def test_unknown_member_has_no_coupons(session: Session) -> None:
    assert coupons.usable_coupons(session=session, member_id="abc", now=NOW) == []


# ---------------------------------------------------------------------------------------------
# claiming (each test on its own copy of the seeded database: claims commit)


@pytest.fixture()
def claims_db(seeded_db: SeededDb, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A private copy of the seeded database (SQLite's backup API, so WAL content comes along)."""
    copy = tmp_path / "claims.db"
    source, target = sqlite3.connect(seeded_db.path), sqlite3.connect(copy)
    with target:
        source.backup(target)
    source.close()
    target.close()
    engine = make_engine(Settings(database_url=f"sqlite:///{copy}"))
    yield session_factory(engine)
    engine.dispose()


def _not_holding(factory: sessionmaker[Session], template_id: str, *, tier: str | None = None, n: int = 1) -> list[str]:
    """Members (of a tier) who never claimed ``template_id``."""
    with factory() as s:
        query = select(Member.member_id).where(
            ~Member.member_id.in_(select(Coupon.member_id).where(Coupon.template_id == template_id))
        )
        if tier is not None:
            query = query.where(Member.tier_code == tier)
        return list(s.scalars(query.order_by(Member.member_id).limit(n)))


def _issued(factory: sessionmaker[Session], template_id: str) -> int:
    with factory() as s:
        return s.get(CouponTemplate, template_id).issued_count


def test_claim_issues_a_usable_coupon_and_uses_up_stock(claims_db: sessionmaker[Session]) -> None:
    (member_id,) = _not_holding(claims_db, "FESTIVAL_400_60")
    issued_before = _issued(claims_db, "FESTIVAL_400_60")
    result = coupons.claim_coupon(bind=claims_db, member_id=member_id, template_id="festival_400_60", now=NOW)
    assert result["status"] == "claimed" and result["message_zh"] == "领取成功"
    card = result["coupon"]
    assert card["template_id"] == "FESTIVAL_400_60" and card["summary_zh"] == "满400减60"
    assert card["valid_until"] == (NOW + timedelta(days=20, seconds=-1)).isoformat()  # 20 days, within the campaign
    assert _issued(claims_db, "FESTIVAL_400_60") == issued_before + 1
    with claims_db() as s:
        assert card["code"] in [c["code"] for c in coupons.usable_coupons(session=s, member_id=member_id, now=NOW)]
        stored = s.get(Coupon, card["code"])
        assert (stored.member_id, stored.issued_at, stored.status, stored.claim_key) == (
            member_id,
            NOW,
            "available",
            "all#1",
        )


def test_claims_stop_at_the_per_member_limit(claims_db: sessionmaker[Session]) -> None:
    (member_id,) = _not_holding(claims_db, "FESTIVAL_400_60")  # two per member
    statuses = [
        coupons.claim_coupon(bind=claims_db, member_id=member_id, template_id="FESTIVAL_400_60", now=NOW)["status"]
        for _ in range(3)
    ]
    assert statuses == ["claimed", "claimed", "already_claimed"]
    with claims_db() as s:
        held = s.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.member_id == member_id, Coupon.template_id == "FESTIVAL_400_60")
        )
    assert held == 2


def test_a_monthly_limit_opens_again_next_month(claims_db: sessionmaker[Session]) -> None:
    (member_id,) = _not_holding(claims_db, "CAT_PETS")

    def claim(at: datetime) -> dict[str, Any]:
        return coupons.claim_coupon(bind=claims_db, member_id=member_id, template_id="CAT_PETS", now=at)

    assert claim(NOW)["status"] == "claimed"
    assert claim(NOW + timedelta(days=10))["status"] == "already_claimed"
    assert claim(NOW + timedelta(days=20))["status"] == "claimed"  # November


def test_near_exhausted_stock_runs_out(claims_db: sessionmaker[Session]) -> None:
    with claims_db() as s:
        flash = s.get(CouponTemplate, "FLASH_DIGITAL_999_120")
        left = flash.total_stock - flash.issued_count
    assert 0 < left <= 5  # the demo data's nearly-exhausted campaign
    members = _not_holding(claims_db, "FLASH_DIGITAL_999_120", n=left + 1)
    results = [
        coupons.claim_coupon(bind=claims_db, member_id=m, template_id="FLASH_DIGITAL_999_120", now=NOW) for m in members
    ]
    assert [r["status"] for r in results] == ["claimed"] * left + ["out_of_stock"]
    assert results[-1]["coupon"] is None and results[-1]["message_en"] == "Sorry, this coupon has run out"
    assert _issued(claims_db, "FLASH_DIGITAL_999_120") == flash.total_stock


@pytest.mark.parametrize(
    ("template_id", "now", "status", "reason"),
    [
        ("SUMMER_200_25", NOW, "expired", None),  # the campaign ended
        ("BOOKFAIR_100_25", NOW, "not_eligible", "inactive"),  # paused
        ("FESTIVAL_400_60", NOW - timedelta(days=10), "not_eligible", "not_started"),
        ("TIER_DIAMOND_800_150", NOW, "not_eligible", "audience"),  # not a diamond member
    ],
)
def test_claims_outside_the_rules_are_refused(
    claims_db: sessionmaker[Session], template_id: str, now: datetime, status: str, reason: str | None
) -> None:
    (member_id,) = _not_holding(claims_db, template_id, tier="normal")
    issued_before = _issued(claims_db, template_id)
    result = coupons.claim_coupon(bind=claims_db, member_id=member_id, template_id=template_id, now=now)
    assert (result["status"], result["reason"], result["coupon"]) == (status, reason, None)
    assert result["message_zh"] and result["message_en"]
    assert _issued(claims_db, template_id) == issued_before
    assert _not_holding(claims_db, template_id, tier="normal")[0] == member_id  # nothing stored


@pytest.mark.parametrize(
    ("member_id", "template_id", "status"),
    [
        ("M999999", "SHOP_300_50", "unknown_member"),
        ("abc", "SHOP_300_50", "unknown_member"),
        (None, "SHOP_300_50", "unknown_member"),
        (42, "SHOP_300_50", "unknown_member"),
        ("M100001", "NO_SUCH_TEMPLATE", "unknown_template"),
        ("M100001", "", "unknown_template"),
        ("M100001", None, "unknown_template"),
        ("M100001", "X" * 300, "unknown_template"),
    ],
)
def test_claims_with_unknown_ids_get_a_clear_status(
    claims_db: sessionmaker[Session], member_id: object, template_id: object, status: str
) -> None:
    with claims_db() as s:
        before = s.scalar(select(func.count()).select_from(Coupon))
    result = coupons.claim_coupon(bind=claims_db, member_id=member_id, template_id=template_id, now=NOW)
    assert result["status"] == status and result["coupon"] is None
    with claims_db() as s:
        assert s.scalar(select(func.count()).select_from(Coupon)) == before


def test_claim_accepts_an_engine(claims_db: sessionmaker[Session]) -> None:
    (member_id,) = _not_holding(claims_db, "CAT_BOOKS")
    engine = claims_db.kw["bind"]
    result = coupons.claim_coupon(bind=engine, member_id=member_id, template_id="CAT_BOOKS", now=NOW)
    assert result["status"] == "claimed"


# ---------------------------------------------------------------------------------------------
# redeeming (the session fixture rolls everything back)


def _redeem(session: Session, member_id: str, code: str, total: object, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("order_id", "DDTEST000001")
    kwargs.setdefault("now", NOW)
    return coupons.redeem_coupon(session=session, member_id=member_id, code=code, order_total=total, **kwargs)


def test_redeeming_marks_the_coupon_used_with_the_discount(session: Session, active_member_id: str) -> None:
    _issue(session, active_member_id, "CPREDEEM01", status="available", starts=-1, ends=10)  # 满300减50
    result = _redeem(session, active_member_id, "cpredeem01", 350)
    assert result["status"] == "redeemed"
    assert (result["discount"], result["pay"], result["order_id"]) == (50.0, 300.0, "DDTEST000001")
    stored = session.get(Coupon, "CPREDEEM01")
    session.refresh(stored)
    assert (stored.status, stored.used_at, stored.order_id) == ("used", NOW, "DDTEST000001")
    usable = coupons.usable_coupons(session=session, member_id=active_member_id, now=NOW)
    assert "CPREDEEM01" not in [c["code"] for c in usable]
    again = _redeem(session, active_member_id, "CPREDEEM01", 350, order_id="DDTEST000002")
    assert again["status"] == "already_used"


def test_percent_coupon_takes_its_share_of_the_total(session: Session, active_member_id: str) -> None:
    _issue(session, active_member_id, "CPPERCENT1", status="available", starts=-1, ends=10, template="SHOP_199_95")
    result = _redeem(session, active_member_id, "CPPERCENT1", "415.50")
    assert (result["status"], result["discount"], result["pay"]) == ("redeemed", 20.78, 394.72)


def test_another_members_code_is_refused_like_a_made_up_one(session: Session, segments: Segments) -> None:
    owner, other = segments[("gold", "active")][:2]
    _issue(session, owner, "CPOWNER001", status="available", starts=-1, ends=10)
    theirs = _redeem(session, other, "CPOWNER001", 500)
    made_up = _redeem(session, other, "CPNOSUCH01", 500)
    assert theirs == made_up and theirs["status"] == "unknown_coupon"
    assert "CPOWNER001" not in str(theirs)
    assert session.get(Coupon, "CPOWNER001").status == "available"


def test_minimum_spend_and_category_are_checked(session: Session, active_member_id: str) -> None:
    _issue(session, active_member_id, "CPBEAUTY02", status="available", starts=-1, ends=10, template="CAT_BEAUTY")
    assert _redeem(session, active_member_id, "CPBEAUTY02", 199.99, order_category="beauty")["status"] == (
        "below_min_spend"
    )
    assert _redeem(session, active_member_id, "CPBEAUTY02", 260, order_category="数码电子")["status"] == (
        "category_mismatch"
    )
    assert _redeem(session, active_member_id, "CPBEAUTY02", 260)["status"] == "category_mismatch"
    assert session.get(Coupon, "CPBEAUTY02").status == "available"
    assert _redeem(session, active_member_id, "CPBEAUTY02", 260, order_category="美妆护肤")["status"] == "redeemed"


def test_expired_and_not_yet_valid_coupons_are_refused(session: Session, active_member_id: str) -> None:
    _issue(session, active_member_id, "CPLAPSED02", status="available", starts=-40, ends=-1)
    _issue(session, active_member_id, "CPNOTYET02", status="available", starts=3, ends=30)
    assert _redeem(session, active_member_id, "CPLAPSED02", 500)["status"] == "expired"
    stored = session.get(Coupon, "CPLAPSED02")
    session.refresh(stored)
    assert stored.status == "expired"
    assert _redeem(session, active_member_id, "CPNOTYET02", 500)["status"] == "not_started"


@pytest.mark.parametrize("total", ["abc", -5, 0, float("nan"), float("inf"), True, "1.234", None])
def test_bad_order_totals_are_refused(session: Session, active_member_id: str, total: object) -> None:
    _issue(session, active_member_id, "CPBADTOTAL", status="available", starts=-1, ends=10)
    assert _redeem(session, active_member_id, "CPBADTOTAL", total)["status"] == "invalid_order"
    assert session.get(Coupon, "CPBADTOTAL").status == "available"


def test_redeem_refuses_unknown_members_and_other_members_orders(session: Session, segments: Segments) -> None:
    owner, other = segments[("gold", "active")][:2]
    _issue(session, owner, "CPORDER001", status="available", starts=-1, ends=10)
    assert _redeem(session, "M999999", "CPORDER001", 500)["status"] == "unknown_member"
    assert _redeem(session, owner, "CPORDER001", 500, order_id="")["status"] == "invalid_order"
    others_order = session.scalars(select(Order.order_id).where(Order.member_id == other)).first()
    assert _redeem(session, owner, "CPORDER001", 500, order_id=others_order)["status"] == "invalid_order"
    own_order = session.scalars(
        select(Order.order_id).where(Order.member_id == owner, Order.coupon_code.is_(None))
    ).first()
    assert _redeem(session, owner, "CPORDER001", 500, order_id=own_order)["status"] == "redeemed"
    assert session.get(Order, own_order).coupon_code == "CPORDER001"


def test_claim_command_prints_the_result(claims_db: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    (member_id,) = _not_holding(claims_db, "CAT_FOOD")
    url = claims_db.kw["bind"].url.render_as_string(hide_password=False)

    def settings() -> Settings:
        return Settings(database_url=url)

    argv = ["claim", member_id, "CAT_FOOD", "--now", NOW.isoformat()]
    assert cli.main(argv, settings_factory=settings) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "claimed" and first["coupon"]["template_id"] == "CAT_FOOD"
    assert cli.main(argv, settings_factory=settings) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "already_claimed"
    assert cli.main(["coupons", member_id, "--now", NOW.isoformat()], settings_factory=settings) == 0
    assert first["coupon"]["code"] in [c["code"] for c in json.loads(capsys.readouterr().out)]
    assert cli.main(["claim", member_id, "NOPE"], settings_factory=settings) == 2
    assert json.loads(capsys.readouterr().err) == {"error": "coupon template not found", "template_id": "NOPE"}
