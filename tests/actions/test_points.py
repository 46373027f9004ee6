"""action_points_balance: the balance the profile shows, and what expires soon."""

from __future__ import annotations

from actions.points import ActionPointsBalance
from personalization.services import members as member_service
from personalization.services import points


def test_member_hears_the_profiles_points(shop, members, tracker, run) -> None:
    result = run(ActionPointsBalance(), tracker("我的积分还有多少", member_id=members.with_orders))

    with shop.session() as s:
        profile = member_service.member_profile(session=s, member_id=members.with_orders)
    assert f"积分余额是 {profile['points']} 分" in result.text
    (payload,) = result.payloads("points")
    assert payload["balance"] == profile["points"]


def test_expiring_points_are_listed(shop, members, tracker, run) -> None:
    with shop.session() as s:
        candidates = [members.with_orders, members.other_with_orders]
        summaries = {
            m: points.points_summary(session=s, member_id=m, warning_days=shop.settings.points_expiry_warning_days)
            for m in candidates
        }
    for member_id, summary in summaries.items():
        result = run(ActionPointsBalance(), tracker("points", member_id=member_id, language="en"))
        if summary["expiring"]:
            total = sum(lot["points"] for lot in summary["expiring"])
            assert f"{total} of them expire soon" in result.text
        else:
            assert "None of your points expire soon." in result.text


def test_visitor_gets_the_general_points_rules(shop, tracker, run) -> None:
    result = run(ActionPointsBalance(), tracker("积分怎么用"))

    assert result.payloads("points") == []
    assert result.responses == ["utter_points_anonymous", "utter_login_invite"]
