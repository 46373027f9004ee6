"""What every feature action shares: no personal data for visitors, apologies instead of crashes."""

from __future__ import annotations

import logging

import pytest

from actions.complaints import ActionFileComplaint
from actions.coupons import ActionShowCoupons
from actions.greet import ActionGreet
from actions.handoff import ActionHandoffToHuman
from actions.orders import ActionOrderStatus
from actions.points import ActionPointsBalance
from actions.privacy import ActionManagePrivacy
from actions.recommendations import ActionRecommendProducts
from actions.returns import ActionRequestReturn
from actions.tiers import ActionTierBenefits
from personalization.services import members as member_service
from personalization.services import points

EVERY_ACTION = [
    ActionGreet,
    ActionRecommendProducts,
    ActionShowCoupons,
    ActionTierBenefits,
    ActionPointsBalance,
    ActionOrderStatus,
    ActionRequestReturn,
    ActionFileComplaint,
    ActionHandoffToHuman,
    ActionManagePrivacy,
]


@pytest.mark.parametrize("action_class", EVERY_ACTION)
@pytest.mark.parametrize("metadata", [{}, {"member_id": "M999999"}, {"member_id": "not an id"}])
def test_visitors_and_unknown_ids_get_no_personal_data(shop, members, tracker, run, action_class, metadata) -> None:
    with shop.session() as s:
        profile = member_service.member_profile(session=s, member_id=members.with_orders)
    result = run(action_class(), tracker("我的订单和积分", metadata=metadata))

    assert result.messages, "every action answers"
    assert profile["name"] not in result.text
    assert "DD20" not in result.text  # no order ids
    assert all((m.get("custom") or {}).get("type") not in {"coupon_cards", "order", "points"} for m in result.messages)
    assert result.slot_sets().get("member_id") is None


@pytest.mark.parametrize("action_class", EVERY_ACTION)
def test_a_failing_service_becomes_an_apology(shop, members, tracker, run, action_class, monkeypatch, caplog) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError(f"no such table, parameters: {members.with_orders}")

    monkeypatch.setattr(member_service, "get_member", broken)
    with caplog.at_level(logging.ERROR):
        result = run(action_class(), tracker("hello", member_id=members.with_orders, language="en"))

    assert result.responses == ["utter_service_error"]
    assert result.text.startswith("Sorry, something went wrong")
    assert result.events == []
    assert "RuntimeError" in caplog.text
    assert members.with_orders not in caplog.text  # no personal data in the logs


def test_messages_before_a_failure_are_not_sent(shop, members, tracker, run, monkeypatch) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(points, "points_summary", broken)
    result = run(ActionPointsBalance(), tracker("积分", member_id=members.with_orders))

    assert result.responses == ["utter_service_error"]


def test_member_language_is_used_when_the_message_says_nothing(shop, members, tracker, run) -> None:
    if members.english is None:
        pytest.skip("no English-speaking member in the demo data")
    result = run(ActionPointsBalance(), tracker("👍", member_id=members.english))

    assert result.text.startswith("Your points balance is")


def test_chinese_text_wins_over_the_preferred_language_when_the_slot_is_empty(shop, members, tracker, run) -> None:
    if members.english is None:
        pytest.skip("no English-speaking member in the demo data")
    result = run(ActionPointsBalance(), tracker("我的积分", member_id=members.english))

    assert result.text.startswith("您当前的积分余额是")
