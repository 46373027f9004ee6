"""action_tier_benefits: the tier and growth value the profile shows, and the tier's benefits."""

from __future__ import annotations

from actions.tiers import ActionTierBenefits
from personalization.services import members as member_service
from personalization.services import tiers


def test_member_hears_the_profiles_tier_and_growth_value(shop, members, tracker, run) -> None:
    result = run(ActionTierBenefits(), tracker("我是什么等级", member_id=members.with_orders))

    with shop.session() as s:
        profile = member_service.member_profile(session=s, member_id=members.with_orders)
        status = tiers.tier_status(session=s, member_id=members.with_orders)
    assert f"您当前是{profile['tier']['name_zh']}" in result.text
    assert f"成长值 {profile['growth_value']}" in result.text
    for benefit in status["tier"]["benefits_zh"]:
        assert benefit in result.text
    # The way up, in money the member still has to spend (rolling 12 months): "再消费¥320升级为金卡会员".
    assert status["progress_zh"] in result.text
    if status["next_tier"]:
        assert f"¥{status['amount_to_next']:.2f}".rstrip("0").rstrip(".") in result.text
    (payload,) = result.payloads("tier")
    assert payload["tier"]["code"] == profile["tier"]["code"]


def test_visitor_gets_the_overview_of_all_tiers(shop, tracker, run) -> None:
    result = run(ActionTierBenefits(), tracker("what are the membership benefits", language="en"))

    with shop.session() as s:
        every_tier = tiers.all_tiers(session=s)
    for tier in every_tier:
        assert tier["name_en"] in result.text
    assert "Your tier:" not in result.text  # no personal status
    assert result.responses == ["utter_tier_overview", "utter_login_invite"]
