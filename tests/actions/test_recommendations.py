"""action_recommend_products: shows exactly what the recommender (and the CLI) return."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from actions.recommendations import ActionRecommendProducts
from personalization.services import recommendations
from personalization.settings import PROJECT_ROOT


def _skus(result) -> list[str]:  # type: ignore[no-untyped-def]
    (cards,) = result.payloads("product_cards")
    return [item["sku"] for item in cards["items"]]


def test_member_sees_exactly_the_recommenders_list(shop, members, tracker, run) -> None:
    result = run(ActionRecommendProducts(), tracker("给我推荐点东西", member_id=members.with_orders))

    with shop.session() as s:
        expected = recommendations.recommend_for_member(
            session=s, member_id=members.with_orders, k=shop.settings.recommend_k
        )
    assert _skus(result) == [item["sku"] for item in expected]
    assert len(expected) == shop.settings.recommend_k
    for item in expected:
        assert item["title_zh"] in result.text
    assert result.responses == ["utter_recommend_personal", "utter_offer_coupons"]


def test_chat_agrees_with_the_cli(shop, members, tracker, run) -> None:
    result = run(
        ActionRecommendProducts(), tracker("recommend something for me", member_id=members.with_orders, language="en")
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env["DATABASE_URL"] = shop.settings.database_url
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "personalization",
            "recommend",
            members.with_orders,
            "-k",
            str(shop.settings.recommend_k),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    cli_items = cli["items"] if isinstance(cli, dict) else cli
    assert _skus(result) == [item["sku"] for item in cli_items]
    assert cli_items[0]["title_en"] in result.text


def test_category_entity_filters_the_recommendations(shop, members, tracker, run) -> None:
    entities = [{"entity": "category", "value": "护肤品"}]  # unmapped synonym: the action maps it to "beauty"
    result = run(ActionRecommendProducts(), tracker("推荐几款护肤品", member_id=members.with_orders, entities=entities))

    with shop.session() as s:
        expected = recommendations.recommend_for_member(
            session=s, member_id=members.with_orders, k=shop.settings.recommend_k, category="beauty"
        )
    assert _skus(result) == [item["sku"] for item in expected]
    assert {item["category"] for item in result.payloads("product_cards")[0]["items"]} == {"beauty"}
    assert "美妆护肤" in result.text


def test_visitor_gets_best_sellers_and_an_invitation_to_log_in(shop, tracker, run) -> None:
    result = run(ActionRecommendProducts(), tracker("有什么推荐的"))

    with shop.session() as s:
        expected = recommendations.recommend_for_member(session=s, member_id=None, k=shop.settings.recommend_k)
    assert _skus(result) == [item["sku"] for item in expected]
    assert result.responses == ["utter_recommend_bestsellers", "utter_login_invite"]  # no coupon offer
    assert "因为你" not in result.text  # no personal reasons


def test_opted_out_member_is_told_why_the_list_is_not_personal(shop, members, tracker, run) -> None:
    if members.opted_out is None:
        pytest.skip("no opted-out member in the demo data")
    result = run(ActionRecommendProducts(), tracker("推荐点东西", member_id=members.opted_out))

    assert result.responses == ["utter_recommend_opted_out", "utter_offer_coupons"]
    assert all(item["reason_zh"] == "热销商品" for item in result.payloads("product_cards")[0]["items"])


def test_brand_entity_filters_the_recommendations(shop, members, tracker, run) -> None:
    entities = [{"entity": "brand", "value": "Lancome"}]
    result = run(
        ActionRecommendProducts(),
        tracker("show me some Lancome stuff", member_id=members.with_orders, entities=entities, language="en"),
    )

    with shop.session() as s:
        expected = recommendations.recommend_for_member(
            session=s, member_id=members.with_orders, k=shop.settings.recommend_k, brand="lancome"
        )
    assert _skus(result) == [item["sku"] for item in expected]
    assert result.text.startswith("Here are some Lancome picks for you:")


def test_price_and_category_are_understood_from_free_text(shop, members, tracker, run) -> None:
    # No Rasa entities at all: the catalog parser reads "三百块以内" and 充电器 (digital).
    result = run(ActionRecommendProducts(), tracker("有没有三百块以内的充电器", member_id=members.with_orders))

    (cards,) = result.payloads("product_cards")
    assert cards["filters"]["price_max"] == 300 and cards["filters"]["category"] == "digital"
    assert cards["filters"]["keywords"] == ["充电器"]
    assert cards["items"] and all(
        item["price"] <= 300 and item["category"] == "digital" and "充电器" in item["title_zh"] for item in cards["items"]
    )
    assert "300元以内充电器" in result.text


def test_what_was_asked_for_or_nothing_not_something_else_of_its_category(shop, members, tracker, run) -> None:
    # The shop has earphones, none under ¥300: the answer says so instead of offering chargers.
    result = run(ActionRecommendProducts(), tracker("有没有三百块以内的耳机", member_id=members.with_orders))

    assert result.payloads("product_cards") == []
    assert result.responses[0] == "utter_recommend_empty"
    earphones = run(ActionRecommendProducts(), tracker("推荐几款耳机", member_id=members.with_orders))
    (cards,) = earphones.payloads("product_cards")
    assert cards["items"] and all("耳机" in item["title_zh"] for item in cards["items"])


def test_show_more_pages_on_with_the_same_filters_and_no_repeats(shop, members, tracker, run) -> None:
    first = run(ActionRecommendProducts(), tracker("推荐点数码产品", member_id=members.with_orders,
                                                   entities=[{"entity": "category", "value": "数码"}]))
    assert {"title": "换一批", "payload": "/ask_recommendation"} in first.buttons
    slots = first.slot_sets()
    assert slots["recommended_skus"] == _skus(first)

    more = run(ActionRecommendProducts(), tracker("换一批", member_id=members.with_orders, slots=slots))
    assert not set(_skus(more)) & set(_skus(first))
    (cards,) = more.payloads("product_cards")
    assert {item["category"] for item in cards["items"]} == {"digital"}
    assert more.slot_sets()["recommended_skus"] == _skus(first) + _skus(more)

    button = run(ActionRecommendProducts(), tracker("/ask_recommendation", member_id=members.with_orders,
                                                    slots=more.slot_sets()))
    assert not set(_skus(button)) & (set(_skus(first)) | set(_skus(more)))
