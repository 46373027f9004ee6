"""Real conversations through Rasa's REST channel with the action server and a seeded store.

The chat and the CLI must agree: what the bot says about a member is what
``python -m personalization`` prints for that member.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from launcher.rest_client import payloads, texts


@pytest.fixture(scope="module")
def member(cli: Any) -> dict[str, Any]:
    """A member with orders, in the demo data, who consents to personalization."""
    for row in cli.json("members", "--limit", "50"):
        profile = cli.json("profile", row["member_id"])
        if profile["consent_personalization"] and profile["orders_count"] > 0 and profile["points"] > 0:
            return profile
    pytest.fail("the seeded data has no consenting member with orders and points")


@pytest.fixture(scope="module")
def other_member(cli: Any, member: dict[str, Any]) -> dict[str, Any]:
    for row in cli.json("members", "--limit", "50"):
        if row["member_id"] != member["member_id"]:
            profile = cli.json("profile", row["member_id"])
            if profile["orders_count"] > 0:
                return profile
    pytest.fail("no second member with orders")


def test_points_answer_matches_the_profile_in_chinese(chat: Any, member: dict[str, Any]) -> None:
    answer = chat.say("我还有多少积分呀", member_id=member["member_id"])
    assert str(member["points"]) in texts(answer)
    assert re.search(r"[\u4e00-\u9fff]", texts(answer))


def test_points_answer_in_english_when_the_member_writes_english(chat: Any, member: dict[str, Any]) -> None:
    answer = texts(chat.say("how many points do I have?", member_id=member["member_id"]))
    assert str(member["points"]) in answer
    assert not re.search(r"[\u4e00-\u9fff]", answer), answer


def test_recommendations_are_what_the_cli_recommends(chat: Any, cli: Any, member: dict[str, Any]) -> None:
    expected = [row["sku"] for row in cli.json("recommend", member["member_id"], "-k", "5")]
    answer = chat.say("有什么适合我的推荐吗", member_id=member["member_id"])
    cards = payloads(answer, "product_cards")
    assert cards, answer
    assert [item["sku"] for item in cards[0]["items"]] == expected
    assert all(item.get("reason_zh") for item in cards[0]["items"])


def test_tier_answer_names_the_profile_tier(chat: Any, member: dict[str, Any]) -> None:
    answer = texts(chat.say("我现在是什么会员等级", member_id=member["member_id"]))
    assert member["tier"]["name_zh"] in answer


def test_coupons_answer_lists_the_members_usable_coupons(chat: Any, cli: Any, member: dict[str, Any]) -> None:
    usable = cli.json("coupons", member["member_id"])
    answer = chat.say("我有哪些优惠券能用", member_id=member["member_id"])
    if usable:
        cards = payloads(answer, "coupon_cards")
        assert [c["code"] for c in cards[0]["items"]] == [c["code"] for c in usable]
    else:
        assert texts(answer)


def test_latest_order_status_is_the_members_own(chat: Any, cli: Any, member: dict[str, Any]) -> None:
    latest = cli.json("orders", member["member_id"], "--limit", "1")[0]
    answer = chat.say("我的快递到哪了", member_id=member["member_id"])
    assert latest["order_id"] in texts(answer)


def test_order_of_another_member_is_not_revealed(chat: Any, cli: Any, member: dict[str, Any],
                                                 other_member: dict[str, Any]) -> None:
    foreign = cli.json("orders", other_member["member_id"], "--limit", "1")[0]
    answer = chat.say(f"帮我查下订单{foreign['order_id']}到哪了", member_id=member["member_id"])
    shown = texts(answer)
    assert not payloads(answer, "order")
    for item in foreign["items"]:
        assert item["title_zh"] not in shown
    assert "没有找到" in shown or "找不到" in shown or "未找到" in shown, shown


def test_anonymous_visitor_gets_no_personal_data_and_an_invitation(chat: Any, member: dict[str, Any]) -> None:
    answer = texts(chat.say("我还有多少积分"))
    assert "登录" in answer, answer
    assert member["name"] not in answer
    assert str(member["points"]) not in answer or member["points"] < 10


def test_unknown_member_id_is_treated_as_anonymous(chat: Any) -> None:
    answer = texts(chat.say("我有什么优惠券", member_id="M999999999"))
    assert "登录" in answer, answer


def test_greeting_uses_the_members_name(chat: Any, member: dict[str, Any]) -> None:
    answer = texts(chat.say("你好", member_id=member["member_id"]))
    assert member["name"][0] in answer


def test_request_human_enters_the_queue(chat: Any, member: dict[str, Any]) -> None:
    answer = texts(chat.say("转人工", member_id=member["member_id"]))
    assert re.search(r"\d", answer), answer


def test_bare_order_id_keeps_the_language_of_the_conversation(chat: Any, cli: Any, member: dict[str, Any]) -> None:
    order_id = cli.json("orders", member["member_id"], "--limit", "1")[0]["order_id"]
    chat.say("帮我查一下订单", member_id=member["member_id"])
    answer = texts(chat.say(order_id, member_id=member["member_id"]))
    assert order_id in answer
    assert re.search(r"[\u4e00-\u9fff]", answer), answer


def test_price_filter_and_show_more_through_the_stack(chat: Any, member: dict[str, Any]) -> None:
    first = payloads(chat.say("有没有三百块以内的充电器", member_id=member["member_id"]), "product_cards")
    assert first and first[0]["items"], "expected product cards"
    assert all(item["price"] <= 300 and "充电器" in item["title_zh"] for item in first[0]["items"])
    more = payloads(chat.say("/ask_recommendation", member_id=member["member_id"]), "product_cards")
    shown = {item["sku"] for item in first[0]["items"]}
    if more:  # the catalog may have run out of cheap chargers
        assert not shown & {item["sku"] for item in more[0]["items"]}
        assert all(item["price"] <= 300 for item in more[0]["items"])


def test_coupon_offer_claim_button_really_claims(chat: Any, cli: Any, member: dict[str, Any]) -> None:
    answer = chat.say("有什么券可以领", member_id=member["member_id"])
    claim_buttons = [b for m in answer for b in m.get("buttons") or [] if b["title"].startswith("领取")]
    assert claim_buttons, answer
    before = {c["code"] for c in cli.json("coupons", member["member_id"])}
    claimed = chat.say(claim_buttons[0]["payload"], member_id=member["member_id"])
    (result,) = payloads(claimed, "coupon_claim")
    assert result["status"] in ("claimed", "already_claimed", "out_of_stock"), result
    if result["status"] == "claimed":
        after = {c["code"] for c in cli.json("coupons", member["member_id"])}
        assert after - before == {result["coupon"]["code"]}
        assert "领取成功" in texts(claimed)
