"""action_greet: members by name, visitors with the general welcome."""

from __future__ import annotations

from actions.greet import ActionGreet
from personalization.services import members as member_service


def test_member_is_greeted_by_name(shop, members, tracker, run) -> None:
    result = run(ActionGreet(), tracker("你好", member_id=members.with_orders))

    with shop.session() as s:
        name = member_service.get_member(session=s, member_id=members.with_orders).name
    assert result.text.startswith(name)
    assert result.responses == ["utter_greet_member"]


def test_greeting_sets_identity_slots_when_the_member_logs_in_mid_conversation(shop, members, tracker, run) -> None:
    result = run(ActionGreet(), tracker("hi", member_id=members.with_orders))

    assert set(result.slot_sets()) == {"member_id", "member_name", "member_tier"}
    assert result.slot_sets()["member_id"] == members.with_orders


def test_visitor_gets_the_general_welcome_in_english(shop, tracker, run) -> None:
    result = run(ActionGreet(), tracker("hello", language="en"))

    assert result.responses == ["utter_greet"]
    assert result.text.startswith("Hi there!")
    assert result.events == []
