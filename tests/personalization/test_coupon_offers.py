"""coupon_offers: which templates a member is offered, why, and what is never offered."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from personalization import cli
from personalization.coupon_offers import offers_for_member
from personalization.coupon_rules import load_member_facts
from personalization.models import BrowseEvent, Coupon, CouponTemplate, Member, Order, OrderItem, Product
from personalization.settings import Settings

from .conftest import NOW, SeededDb

_orders_made = 0


def _member(
    session: Session,
    member_id: str,
    *,
    tier: str = "normal",
    registered: datetime = NOW - timedelta(days=400),
    consent: bool = True,
    gender: str = "F",
    birthday: date | None = None,
) -> str:
    session.add(
        Member(
            member_id=member_id,
            name="测试会员",
            gender=gender,
            birthday=birthday,
            city="上海",
            phone="13800001111",
            registered_at=registered,
            consent_personalization=consent,
            preferred_language="zh",
            tier_code=tier,
            growth_value=0,
        )
    )
    session.flush()
    return member_id


def _order(
    session: Session,
    member_id: str,
    category: str,
    *,
    days_ago: float,
    cheapest: bool = True,
    coupon: str | None = None,
) -> str:
    """A completed order of one product of ``category`` (the cheapest, or the dearest)."""
    global _orders_made
    _orders_made += 1
    price = Product.price if cheapest else Product.price.desc()
    product = session.scalars(select(Product).where(Product.category == category).order_by(price, Product.sku)).first()
    order_id = f"DDT{_orders_made:011d}"
    session.add(
        Order(
            order_id=order_id,
            member_id=member_id,
            created_at=NOW - timedelta(days=days_ago),
            status="completed",
            total_amount=product.price,
            shipping_city="上海",
            coupon_code=coupon,
            items=[OrderItem(sku=product.sku, quantity=1, unit_price=product.price)],
        )
    )
    session.flush()
    return order_id


def _held(session: Session, member_id: str, template_id: str, *, at: datetime, key: str) -> None:
    """The member claimed a coupon of ``template_id`` at ``at``."""
    session.add(
        Coupon(
            code=f"CPT{key.replace('-', '').replace('#', '')}{member_id[-4:]}",
            member_id=member_id,
            template_id=template_id,
            issued_at=at,
            valid_from=at,
            valid_until=at + timedelta(days=30),
            status="available",
            claim_key=key,
        )
    )
    session.flush()


def _ids(offers: Sequence[dict[str, Any]]) -> list[str]:
    return [o["template_id"] for o in offers]


def _clone(session: Session, source_id: str, member_id: str, *, gender: str, birthday: date) -> str:
    """A new member with the source's tier, registration, orders and browsing, but their own gender and birthday."""
    source = session.get(Member, source_id)
    _member(
        session,
        member_id,
        tier=source.tier_code,
        registered=source.registered_at,
        consent=True,
        gender=gender,
        birthday=birthday,
    )
    for order in session.scalars(select(Order).where(Order.member_id == source_id)):
        session.add(
            Order(
                order_id=f"{order.order_id}{member_id[-1]}",
                member_id=member_id,
                created_at=order.created_at,
                status=order.status,
                total_amount=order.total_amount,
                shipping_city=order.shipping_city,
                coupon_code=order.coupon_code,
                items=[OrderItem(sku=i.sku, quantity=i.quantity, unit_price=i.unit_price) for i in order.items],
            )
        )
    for browse in session.scalars(select(BrowseEvent).where(BrowseEvent.member_id == source_id)):
        session.add(BrowseEvent(member_id=member_id, sku=browse.sku, at=browse.at, kind=browse.kind))
    session.flush()
    return member_id


# ---------------------------------------------------------------------------------------------
# who gets what, and why


def test_new_member_gets_the_welcome_gift_first(session: Session) -> None:
    member_id = _member(session, "M900101", registered=NOW - timedelta(days=3))
    offers = offers_for_member(session=session, member_id=member_id, now=NOW, limit=3)
    assert offers[0]["template_id"] == "WELCOME_99_20"
    assert (offers[0]["reason_zh"], offers[0]["reason_en"]) == ("新会员礼", "New-member gift")
    assert offers[0]["personalized"] is True


def test_welcome_gift_ends_thirty_days_after_registration(session: Session) -> None:
    member_id = _member(session, "M900102", registered=NOW - timedelta(days=31))
    assert "WELCOME_99_20" not in _ids(offers_for_member(session=session, member_id=member_id, now=NOW, limit=20))


def test_birthday_month_brings_the_birthday_coupon(session: Session) -> None:
    member_id = _member(session, "M900103", birthday=date(1990, NOW.month, 28))
    _order(session, member_id, "food", days_ago=10)
    offers = offers_for_member(session=session, member_id=member_id, now=NOW, limit=3)
    birthday = [o for o in offers if o["template_id"] == "BIRTHDAY_200_50"]
    assert birthday and birthday[0]["reason_zh"] == "生日月专享"
    next_month = NOW.replace(month=NOW.month % 12 + 1)
    later = offers_for_member(session=session, member_id=member_id, now=next_month, limit=20)
    assert "BIRTHDAY_200_50" not in _ids(later)


def test_lapsed_member_gets_a_welcome_back_gift_and_a_recent_buyer_does_not(session: Session) -> None:
    lapsed = _member(session, "M900104")
    _order(session, lapsed, "beauty", days_ago=120)
    recent = _member(session, "M900105")
    _order(session, recent, "beauty", days_ago=20)
    lapsed_offers = offers_for_member(session=session, member_id=lapsed, now=NOW, limit=3)
    assert lapsed_offers[0]["template_id"] == "WINBACK_150_40"
    assert (lapsed_offers[0]["reason_zh"], lapsed_offers[0]["reason_en"]) == (
        "好久不见回归礼",
        "Welcome back — we missed you",
    )
    assert "WINBACK_150_40" not in _ids(offers_for_member(session=session, member_id=recent, now=NOW, limit=20))


def test_tier_coupon_goes_to_its_tier_only(session: Session) -> None:
    gold = _member(session, "M900106", tier="gold")
    _order(session, gold, "home", days_ago=5)
    silver = _member(session, "M900107", tier="silver")
    _order(session, silver, "home", days_ago=5)
    gold_offers = offers_for_member(session=session, member_id=gold, now=NOW, limit=20)
    tier_offer = next(o for o in gold_offers if o["template_id"] == "TIER_GOLD_500_80")
    assert (tier_offer["reason_zh"], tier_offer["reason_en"]) == ("金卡会员专享", "Exclusive to Gold members")
    silver_ids = _ids(offers_for_member(session=session, member_id=silver, now=NOW, limit=20))
    assert "TIER_SILVER_300_30" in silver_ids and "TIER_GOLD_500_80" not in silver_ids


def test_category_coupon_follows_what_the_member_buys(session: Session) -> None:
    member_id = _member(session, "M900108")
    for days in (3, 9, 20, 40):
        _order(session, member_id, "beauty", days_ago=days)
    offers = offers_for_member(session=session, member_id=member_id, now=NOW, limit=3)
    assert offers[0]["template_id"] == "CAT_BEAUTY"
    assert offers[0]["reason_zh"] == "为你推荐：你常买美妆护肤"
    assert offers[0]["reason_en"] == "Picked for you: you often buy Beauty & Skincare"
    assert offers[0]["category"] == "beauty" and offers[0]["summary_zh"] == "满200减30"
    assert "CAT_PETS" not in _ids(offers_for_member(session=session, member_id=member_id, now=NOW, limit=20))


def test_price_sensitive_member_is_steered_to_the_bigger_saving(session: Session) -> None:
    """满300减50 saves 16.7%, 满199享95折 5%: a coupon user gets the bigger saving first; others the lower threshold."""
    saver = _member(session, "M900109")
    spender = _member(session, "M900110")
    for days in (5, 15, 25, 35):
        _order(session, saver, "food", days_ago=days, coupon="CPUSED")
        _order(session, spender, "food", days_ago=days, cheapest=False)
    saver_offers = offers_for_member(session=session, member_id=saver, now=NOW, limit=20)
    spender_offers = offers_for_member(session=session, member_id=spender, now=NOW, limit=20)
    saver_ids, spender_ids = _ids(saver_offers), _ids(spender_offers)
    assert saver_ids.index("SHOP_300_50") < saver_ids.index("SHOP_199_95")
    assert spender_ids.index("SHOP_199_95") < spender_ids.index("SHOP_300_50")
    assert next(o for o in saver_offers if o["template_id"] == "SHOP_300_50")["reason"] == "deal"
    assert next(o for o in spender_offers if o["template_id"] == "SHOP_300_50")["reason"] == "store_wide"


def test_a_minimum_spend_far_above_the_typical_order_counts_less(session: Session) -> None:
    small = _member(session, "M900111")
    big = _member(session, "M900112")
    for days in (5, 15, 25):
        _order(session, small, "appliances", days_ago=days)
        _order(session, big, "appliances", days_ago=days, cheapest=False)

    def appliance_score(member_id: str) -> float:
        offers = offers_for_member(session=session, member_id=member_id, now=NOW, limit=20)
        return next(o["score"] for o in offers if o["template_id"] == "CAT_APPLIANCES")

    assert appliance_score(small) < appliance_score(big)


def test_offer_carries_terms_validity_stock_and_reason(session: Session) -> None:
    member_id = _member(session, "M900113")
    for days in (2, 4):
        _order(session, member_id, "digital", days_ago=days, cheapest=False)
    offers = offers_for_member(session=session, member_id=member_id, now=NOW, limit=20)
    flash = next(o for o in offers if o["template_id"] == "FLASH_DIGITAL_999_120")
    template = session.get(CouponTemplate, "FLASH_DIGITAL_999_120")
    assert flash["title_zh"] == "数码限时抢券" and flash["title_en"] == "Electronics flash coupon"
    assert (flash["value"], flash["min_spend"], flash["category"]) == (120.0, 999.0, "digital")
    assert flash["stock_left"] == template.total_stock - template.issued_count > 0
    assert flash["claim_until"] == template.valid_until.isoformat()
    # a 7-day coupon, cut off at the end of the campaign
    assert flash["valid_until"] == min(NOW + timedelta(days=7, seconds=-1), template.valid_until).isoformat()
    assert flash["reason_zh"] and flash["reason_en"]


# ---------------------------------------------------------------------------------------------
# what is never offered


def test_templates_held_up_to_the_limit_are_not_offered_again_this_period(session: Session) -> None:
    member_id = _member(session, "M900114")
    for days in (3, 9, 20):
        _order(session, member_id, "beauty", days_ago=days)
    assert "CAT_BEAUTY" in _ids(offers_for_member(session=session, member_id=member_id, now=NOW))
    _held(session, member_id, "CAT_BEAUTY", at=NOW - timedelta(days=40), key="2026-09#1")
    assert "CAT_BEAUTY" in _ids(offers_for_member(session=session, member_id=member_id, now=NOW))  # last month's
    _held(session, member_id, "CAT_BEAUTY", at=NOW - timedelta(hours=1), key="2026-10#1")
    assert "CAT_BEAUTY" not in _ids(offers_for_member(session=session, member_id=member_id, now=NOW, limit=20))


def test_out_of_stock_inactive_and_out_of_window_templates_are_not_offered(session: Session) -> None:
    member_id = _member(session, "M900115")
    for days in (2, 4):
        _order(session, member_id, "digital", days_ago=days, cheapest=False)
    before = _ids(offers_for_member(session=session, member_id=member_id, now=NOW, limit=20))
    assert {"FLASH_DIGITAL_999_120", "CAT_DIGITAL", "FESTIVAL_400_60"} <= set(before)
    assert not {"SUMMER_200_25", "BOOKFAIR_100_25"} & set(before)  # over / paused in the demo data
    flash = session.get(CouponTemplate, "FLASH_DIGITAL_999_120")
    flash.issued_count = flash.total_stock
    session.get(CouponTemplate, "CAT_DIGITAL").active = False
    session.get(CouponTemplate, "FESTIVAL_400_60").valid_until = NOW - timedelta(seconds=1)
    session.flush()
    after = _ids(offers_for_member(session=session, member_id=member_id, now=NOW, limit=20))
    assert not {"FLASH_DIGITAL_999_120", "CAT_DIGITAL", "FESTIVAL_400_60"} & set(after)
    assert set(after) < set(before)


def test_opted_out_members_get_only_offers_open_to_everyone(session: Session) -> None:
    beauty_fan = _member(session, "M900116", consent=False, tier="gold", registered=NOW - timedelta(days=3))
    for days in (3, 9, 20):
        _order(session, beauty_fan, "beauty", days_ago=days)
    pet_owner = _member(session, "M900117", consent=False, tier="gold", birthday=date(1980, NOW.month, 2))
    _order(session, pet_owner, "pets", days_ago=200)
    fan_offers = offers_for_member(session=session, member_id=beauty_fan, now=NOW, limit=5)
    owner_offers = offers_for_member(session=session, member_id=pet_owner, now=NOW, limit=5)
    assert fan_offers == owner_offers  # nothing about either member shaped the list
    audiences = {session.get(CouponTemplate, o["template_id"]).audience for o in fan_offers}
    assert audiences == {"all"}
    assert all(o["personalized"] is False for o in fan_offers)
    assert {o["reason"] for o in fan_offers} <= {"store_wide", "open_category"}


@pytest.mark.parametrize("member_id", [None, "", "   ", "abc", "M999999", 42, ["M100001"]])
def test_anonymous_or_unknown_members_get_no_offers(session: Session, member_id: object) -> None:
    assert offers_for_member(session=session, member_id=member_id, now=NOW) == []


def test_limit_caps_the_number_of_offers(session: Session, active_member_id: str) -> None:
    assert len(offers_for_member(session=session, member_id=active_member_id, now=NOW, limit=2)) == 2
    assert offers_for_member(session=session, member_id=active_member_id, now=NOW, limit=0) == []


# ---------------------------------------------------------------------------------------------
# fairness


def test_gender_and_age_do_not_change_the_offers(session: Session, active_member_id: str) -> None:
    """Two members with the same history, one a young man and one an older woman, both born in this month."""
    older_woman = _clone(session, active_member_id, "M900201", gender="F", birthday=date(1958, NOW.month, 3))
    young_man = _clone(session, active_member_id, "M900202", gender="M", birthday=date(2004, NOW.month, 27))
    woman = offers_for_member(session=session, member_id=older_woman, now=NOW, limit=20)
    man = offers_for_member(session=session, member_id=young_man, now=NOW, limit=20)
    assert woman == man
    assert "BIRTHDAY_200_50" in _ids(woman)  # the birth month counts, for both alike
    assert len(woman) >= 3


@pytest.fixture()
def statements(session: Session) -> Iterator[list[str]]:
    """SQL statements sent while the test runs."""
    sent: list[str] = []
    engine = session.get_bind()

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def test_offers_never_read_gender_or_the_birth_year(
    session: Session, active_member_id: str, statements: list[str]
) -> None:
    session.expunge_all()  # nothing cached: every member attribute must come from a query
    offers_for_member(session=session, member_id=active_member_id, now=NOW, limit=5)
    sent = "\n".join(statements)
    assert "members" in sent  # the member was read ...
    assert "gender" not in sent  # ... but never their gender
    assert "members.birthday" in sent  # encrypted at rest: read whole, and only its month is kept
    facts = load_member_facts(session=session, member_id=active_member_id, now=NOW)
    assert facts is not None and not any(type(v) is date for v in vars(facts).values())


def test_offers_command_prints_the_offers(
    seeded_db: SeededDb, active_member_id: str, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["offers", active_member_id, "--limit", "2", "--now", NOW.isoformat()]
    assert cli.main(argv, settings_factory=lambda: Settings(database_url=seeded_db.url)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == offers_for_member(session=session, member_id=active_member_id, now=NOW, limit=2)
    assert len(printed) == 2 and printed[0]["reason_zh"]
