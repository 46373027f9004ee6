"""action_session_start: Rasa's default events, plus the member's identity and language."""

from __future__ import annotations

from actions.session_start import ActionSessionStart
from personalization.services import members as member_service


def test_member_in_metadata_fills_name_tier_and_language(shop, members, tracker, run) -> None:
    member_id = members.with_orders
    result = run(ActionSessionStart(), tracker("", slots={"session_started_metadata": {"member_id": member_id}}))

    with shop.session() as s:
        member = member_service.get_member(session=s, member_id=member_id)
    assert result.events[0]["event"] == "session_started"
    assert result.events[-1] == {**result.events[-1], "event": "action", "name": "action_listen"}
    assert result.slot_sets() == {
        "session_started_metadata": {"member_id": member_id},
        "member_id": member_id,
        "member_name": member.name,
        "member_tier": member.tier_code,
        "language": member.preferred_language,
    }
    assert result.messages == []


def test_anonymous_visitor_gets_the_default_session_start(shop, tracker, run) -> None:
    result = run(ActionSessionStart(), tracker(""))

    assert [e["event"] for e in result.events] == ["session_started", "action"]
    assert result.events[-1]["name"] == "action_listen"


def test_slots_of_the_previous_session_carry_over(shop, tracker, run) -> None:
    carried = {"member_id": "M100001", "member_name": "王静", "member_tier": "gold", "language": "zh"}
    result = run(ActionSessionStart(), tracker("", slots=carried))

    assert result.slot_sets() == carried


def test_unknown_member_id_clears_the_identity(shop, tracker, run) -> None:
    previous = {"member_id": "M100001", "member_name": "王静", "member_tier": "gold"}
    result = run(
        ActionSessionStart(),
        tracker("", slots={**previous, "session_started_metadata": {"member_id": "M999999"}}),
    )

    slots = result.slot_sets()
    assert (slots["member_id"], slots["member_name"], slots["member_tier"]) == (None, None, None)


def test_session_still_starts_when_the_database_fails(shop, members, tracker, run, monkeypatch) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(member_service, "get_member", broken)
    result = run(
        ActionSessionStart(), tracker("", slots={"session_started_metadata": {"member_id": members.with_orders}})
    )

    assert result.events[0]["event"] == "session_started"
    assert result.events[-1]["name"] == "action_listen"
    assert result.slot_sets()["member_id"] == members.with_orders
    assert result.messages == []
