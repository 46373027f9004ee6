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


def _claim_tracker(tracker, member_id: str, template_id: str, language: str | None = None):
    return tracker(
        f'/ask_coupons{{"coupon_template": "{template_id}"}}',
        member_id=member_id,
        entities=[{"entity": "coupon_template", "value": template_id}],
        language=language,
    )


def test_member_is_offered_coupons_with_claim_buttons(shop, members, tracker, run) -> None:
    result = run(ActionShowCoupons(), tracker("有什么券可以领", member_id=members.with_orders))

    (offers,) = result.payloads("coupon_offers")
    assert offers["items"]
    claim_payloads = [b["payload"] for b in result.buttons if b["title"].startswith("领取")]
    assert claim_payloads == [f'/ask_coupons{{"coupon_template": "{o["template_id"]}"}}' for o in offers["items"]]
    for offer in offers["items"]:
        assert offer["reason_zh"] in result.text


def test_claim_button_claims_once_then_reports_the_limit(shop, members, tracker, run) -> None:
    offers = run(ActionShowCoupons(), tracker("领券", member_id=members.other_with_orders)).payloads("coupon_offers")
    once = [o for o in offers[0]["items"] if o["per_member_limit"] == 1]
    assert once, "the demo data should offer a one-per-member coupon"
    template_id = once[0]["template_id"]

    first = run(ActionShowCoupons(), _claim_tracker(tracker, members.other_with_orders, template_id))
    (claim,) = first.payloads("coupon_claim")
    assert claim["status"] == "claimed" and claim["coupon"]["template_id"] == template_id
    assert "领取成功" in first.text
    with shop.session() as s:
        assert template_id in {c["template_id"] for c in coupons.usable_coupons(session=s, member_id=members.other_with_orders)}

    second = run(ActionShowCoupons(), _claim_tracker(tracker, members.other_with_orders, template_id, language="en"))
    assert second.payloads("coupon_claim")[0]["status"] == "already_claimed"
    assert "already claimed" in second.text


def test_unknown_coupon_template_gets_a_polite_answer(shop, members, tracker, run) -> None:
    result = run(ActionShowCoupons(), _claim_tracker(tracker, members.with_orders, "NO_SUCH_TEMPLATE"))

    assert result.payloads("coupon_claim")[0]["status"] == "unknown_template"
    assert result.responses == ["utter_coupon_claim_result"]
    assert "Traceback" not in result.text and result.text.strip()
