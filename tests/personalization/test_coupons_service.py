"""coupons: only what can be used now, soonest expiry first, with readable terms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import Coupon
from personalization.services import coupons

from .conftest import NOW


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
