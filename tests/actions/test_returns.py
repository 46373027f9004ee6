"""action_request_return: policy, order choice, a recorded return for an eligible order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.returns import ActionRequestReturn
from personalization.models import ReturnRequest
from personalization.services import orders


def test_eligible_order_gets_a_recorded_return(shop, members, tracker, run) -> None:
    if members.returnable is None:
        pytest.skip("no order delivered in the last 7 days in the demo data")
    member_id, order_id = members.returnable
    entities = [{"entity": "order_id", "value": order_id}]
    result = run(ActionRequestReturn(), tracker(f"我要退货，订单号{order_id}", member_id=member_id, entities=entities))

    with shop.session() as s:
        recorded = s.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order_id)).all()
    assert len(recorded) == 1
    assert recorded[0].member_id == member_id
    assert result.responses == ["utter_return_recorded"]
    assert f"RT{recorded[0].id:06d}" in result.text


def test_ineligible_order_is_explained_and_not_recorded(shop, members, tracker, run) -> None:
    with shop.session() as s:
        history = orders.latest_orders(session=s, member_id=members.with_orders, limit=50)
    old = [o for o in history if o["status"] in ("completed", "cancelled")][-1]
    entities = [{"entity": "order_id", "value": old["order_id"]}]
    result = run(
        ActionRequestReturn(), tracker(f"{old['order_id']}申请退货", member_id=members.with_orders, entities=entities)
    )

    assert result.responses == ["utter_return_not_eligible"]
    assert "暂不符合退货条件" in result.text
    assert "。。" not in result.text
    with shop.session() as s:
        assert s.scalars(select(ReturnRequest).where(ReturnRequest.order_id == old["order_id"])).all() == []


def test_another_members_order_cannot_be_returned(shop, members, tracker, run) -> None:
    with shop.session() as s:
        others = orders.latest_orders(session=s, member_id=members.other_with_orders, limit=1)[0]
    entities = [{"entity": "order_id", "value": others["order_id"]}]
    result = run(ActionRequestReturn(), tracker("退货", member_id=members.with_orders, entities=entities))

    assert result.responses == ["utter_order_not_found"]
    with shop.session() as s:
        assert s.scalars(select(ReturnRequest)).all() == []


def test_without_an_order_number_the_policy_and_recent_orders_are_offered(shop, members, tracker, run) -> None:
    result = run(ActionRequestReturn(), tracker("我要退货", member_id=members.with_orders))

    with shop.session() as s:
        recent = orders.latest_orders(session=s, member_id=members.with_orders, limit=3)
    assert "七天无理由" in result.text
    assert [b["payload"] for b in result.buttons] == [f"我要退货，订单号{o['order_id']}" for o in recent]


def test_visitor_gets_the_policy_only(shop, tracker, run) -> None:
    result = run(ActionRequestReturn(), tracker("how do returns work", language="en"))

    assert result.responses == ["utter_return_policy", "utter_login_invite"]
    assert "7-day" in result.text
    assert result.buttons == []
