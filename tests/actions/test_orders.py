"""action_order_status: the named order or the latest one; other members' orders stay hidden."""

from __future__ import annotations

from actions.orders import ActionOrderStatus
from personalization.services import orders


def _latest(shop, member_id):  # type: ignore[no-untyped-def]
    with shop.session() as s:
        return orders.latest_orders(session=s, member_id=member_id, limit=1)[0]


def test_without_an_order_number_the_latest_order_is_shown(shop, members, tracker, run) -> None:
    latest = _latest(shop, members.with_orders)
    result = run(ActionOrderStatus(), tracker("我的快递到哪了", member_id=members.with_orders))

    assert f"订单 {latest['order_id']}" in result.text
    assert latest["status_zh"] in result.text
    assert latest["latest_event"]["description_zh"] in result.text
    (payload,) = result.payloads("order")
    assert payload["order"]["order_id"] == latest["order_id"]


def test_order_number_is_normalized_before_the_lookup(shop, members, tracker, run) -> None:
    with shop.session() as s:
        order = orders.latest_orders(session=s, member_id=members.with_orders, limit=3)[-1]
    typed = order["order_id"].lower()
    entities = [{"entity": "order_id", "value": f" {typed} "}]
    result = run(ActionOrderStatus(), tracker(f"查下订单{typed}", member_id=members.with_orders, entities=entities))

    assert result.payloads("order")[0]["order"]["order_id"] == order["order_id"]


def test_order_number_in_the_text_is_found_without_an_entity(shop, members, tracker, run) -> None:
    with shop.session() as s:
        order = orders.latest_orders(session=s, member_id=members.with_orders, limit=2)[-1]
    result = run(
        ActionOrderStatus(),
        tracker(f"where is order {order['order_id']}", member_id=members.with_orders, language="en"),
    )

    assert result.payloads("order")[0]["order"]["order_id"] == order["order_id"]
    assert f"Order {order['order_id']}" in result.text


def test_another_members_order_is_not_found(shop, members, tracker, run) -> None:
    others = _latest(shop, members.other_with_orders)
    entities = [{"entity": "order_id", "value": others["order_id"]}]
    result = run(
        ActionOrderStatus(),
        tracker(f"订单{others['order_id']}到哪了", member_id=members.with_orders, entities=entities),
    )

    assert "没有找到这个订单" in result.text
    assert result.payloads("order") == []
    assert others["status_zh"] not in result.text
    for item in others["items"]:
        assert item["title_zh"] not in result.text


def test_unknown_order_is_not_found(shop, members, tracker, run) -> None:
    entities = [{"entity": "order_id", "value": "DD209912310001"}]
    result = run(
        ActionOrderStatus(), tracker("DD209912310001", member_id=members.with_orders, entities=entities, language="en")
    )

    assert "couldn't find that order" in result.text
    assert result.responses == ["utter_order_not_found"]


def test_worried_member_reads_the_latest_event_first(shop, members, tracker, run) -> None:
    latest = _latest(shop, members.with_orders)
    result = run(
        ActionOrderStatus(),
        tracker(
            "急死了，我的快递怎么还没到",
            member_id=members.with_orders,
            sentiment={"polarity": "negative", "emotion": "anxiety", "score": 0.9},
        ),
    )

    assert result.responses == ["utter_order_anxious"]
    lines = result.text.splitlines()
    assert lines[0].startswith("亲，别着急")
    assert latest["latest_event"]["description_zh"] in lines[1]


def test_visitor_is_asked_to_log_in_and_no_order_is_looked_up(shop, members, tracker, run) -> None:
    others = _latest(shop, members.other_with_orders)
    entities = [{"entity": "order_id", "value": others["order_id"]}]
    result = run(ActionOrderStatus(), tracker(f"订单{others['order_id']}", entities=entities))

    assert result.payloads("order") == []
    assert result.responses == ["utter_order_anonymous", "utter_login_invite"]
