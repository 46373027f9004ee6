"""action_show_coupons: the member's own usable coupons; visitors get the general offer."""

from __future__ import annotations

from actions.coupons import ActionShowCoupons
from personalization.services import coupons


def test_member_sees_their_usable_coupons_soonest_first(shop, members, tracker, run) -> None:
    result = run(ActionShowCoupons(), tracker("我有哪些优惠券", member_id=members.with_orders))

    with shop.session() as s:
        expected = coupons.usable_coupons(session=s, member_id=members.with_orders)
    assert expected
    (cards,) = result.payloads("coupon_cards")
    assert [c["code"] for c in cards["items"]] == [c["code"] for c in expected]
    assert f"{len(expected)} 张" in result.text
    for coupon in expected:
        assert coupon["summary_zh"] in result.text


def test_coupons_in_english(shop, members, tracker, run) -> None:
    result = run(ActionShowCoupons(), tracker("do I have any coupons", member_id=members.with_orders, language="en"))

    assert result.text.startswith("You have ")
    assert "expires" in result.text


def test_visitor_gets_no_coupon_codes(shop, members, tracker, run) -> None:
    result = run(ActionShowCoupons(), tracker("有券吗"))

    assert result.payloads("coupon_cards") == []
    assert "CP" not in result.text
    assert result.responses == ["utter_coupons_anonymous", "utter_login_invite"]
