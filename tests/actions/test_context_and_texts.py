"""actions.context and actions.texts: reading the turn and rendering bilingual text."""

from __future__ import annotations

import pytest

from actions import context, texts


def test_member_id_prefers_the_latest_metadata(tracker) -> None:
    t = tracker("hi", member_id="M100002", slots={"member_id": "M100001"})
    assert context.member_id(t) == "M100002"


def test_member_id_falls_back_to_the_slot_then_the_session_metadata(tracker) -> None:
    assert context.member_id(tracker("hi", slots={"member_id": "M100001"})) == "M100001"
    assert context.member_id(tracker("hi", slots={"session_started_metadata": {"member_id": "M100003"}})) == "M100003"
    assert context.member_id(tracker("hi")) is None


@pytest.mark.parametrize(
    ("slot", "text", "preferred", "expected"),
    [
        ("en", "我的积分", None, "en"),
        (None, "我的积分", "en", "zh"),
        (None, "123", "en", "en"),
        (None, "123", None, "zh"),
    ],
)
def test_language_order_of_precedence(tracker, slot, text, preferred, expected) -> None:
    assert context.language(tracker(text, language=slot), preferred=preferred) == expected


@pytest.mark.parametrize(
    ("entities", "text", "expected"),
    [
        ([{"entity": "order_id", "value": " dd202610150123 "}], "", "DD202610150123"),
        ([], "订单 DD 202610150123 到哪了", "DD202610150123"),
        ([], "dd-202610150123这单", "DD202610150123"),
        ([], "我的订单", None),
    ],
)
def test_order_id_from_entity_or_text(tracker, entities, text, expected) -> None:
    assert context.order_id(tracker(text, entities=entities)) == expected


def test_category_and_brand_accept_keys_and_names(tracker) -> None:
    t = tracker("", entities=[{"entity": "category", "value": "Skincare"}, {"entity": "brand", "value": "兰蔻"}])
    assert (context.category(t), context.brand(t)) == ("beauty", "lancome")
    assert context.category(tracker("", entities=[{"entity": "category", "value": "外星人"}])) is None


def test_render_picks_the_language_variation_and_fills_variables(domain) -> None:
    assert texts.render(domain, "utter_points_balance", "en", points=1234) == "Your points balance is 1234."
    assert texts.render(domain, "utter_points_balance", "zh", points=1234) == "您当前的积分余额是 1234 分。"


def test_render_keeps_unknown_variables(domain) -> None:
    assert "{points}" in texts.render(domain, "utter_points_balance", "zh")


def test_every_response_has_a_chinese_default_and_an_english_variation(domain) -> None:
    for name, variations in domain["responses"].items():
        conditions = [v.get("condition") for v in variations]
        assert None in conditions, name
        assert [{"type": "slot", "name": "language", "value": "en"}] in conditions, name


def test_render_falls_back_to_domain_yml_without_a_domain() -> None:
    assert texts.render({}, "utter_anything_else", "en") == "Is there anything else I can help you with?"


def test_money_and_dates() -> None:
    assert (texts.money(199.0), texts.money(89.9)) == ("¥199", "¥89.90")
    assert texts.date("2026-10-15T14:30:00") == "2026-10-15"
    assert texts.date_time("2026-10-15T14:30:00") == "2026-10-15 14:30"
