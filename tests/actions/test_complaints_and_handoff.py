"""action_file_complaint and action_handoff_to_human: recorded rows, apology, queue position."""

from __future__ import annotations

from sqlalchemy import select

from actions.complaints import ActionFileComplaint
from actions.handoff import ActionHandoffToHuman
from personalization.models import Complaint, HandoffRequest


def test_complaint_is_recorded_with_an_apology_and_a_human_offer(shop, members, tracker, run) -> None:
    text = "都一个星期了还没到，太慢了"
    conversation = tracker(text, member_id=members.with_orders)
    result = run(ActionFileComplaint(), conversation)

    with shop.session() as s:
        (complaint,) = s.scalars(select(Complaint)).all()
    assert (complaint.member_id, complaint.conversation_id, complaint.text) == (
        members.with_orders,
        conversation.sender_id,
        text,
    )
    assert result.text.startswith("非常抱歉")
    assert f"CM{complaint.id:06d}" in result.text
    assert [b["payload"] for b in result.buttons] == ["转人工客服", "不用了"]


def test_angry_member_gets_the_stronger_apology(shop, members, tracker, run) -> None:
    result = run(
        ActionFileComplaint(),
        tracker(
            "this is ridiculous",
            member_id=members.with_orders,
            language="en",
            sentiment={"emotion": "anger", "polarity": "negative"},
        ),
    )

    assert result.responses == ["utter_complaint_apology_angry"]
    assert "truly sorry" in result.text


def test_visitor_complaint_is_recorded_without_a_member(shop, tracker, run) -> None:
    run(ActionFileComplaint(), tracker("服务太差"))

    with shop.session() as s:
        (complaint,) = s.scalars(select(Complaint)).all()
    assert complaint.member_id is None


def test_handoff_is_queued_and_the_position_told(shop, members, tracker, run) -> None:
    conversation = tracker("转人工", member_id=members.with_orders)
    result = run(ActionHandoffToHuman(), conversation)

    with shop.session() as s:
        (handoff,) = s.scalars(select(HandoffRequest)).all()
    assert (handoff.member_id, handoff.conversation_id, handoff.reason) == (
        members.with_orders,
        conversation.sender_id,
        "member_request",
    )
    assert "排在第 1 位" in result.text


def test_handoff_after_a_complaint_says_so(shop, members, tracker, run) -> None:
    events = [
        {"event": "session_started"},
        {"event": "user", "text": "太差了"},
        {"event": "action", "name": "action_file_complaint"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "好的"},
    ]
    run(ActionHandoffToHuman(), tracker("好的", member_id=members.with_orders, events=events))

    with shop.session() as s:
        (handoff,) = s.scalars(select(HandoffRequest)).all()
    assert handoff.reason == "complaint"


def test_asking_twice_keeps_one_place_in_the_queue(shop, members, tracker, run) -> None:
    first = run(ActionHandoffToHuman(), tracker("人工", member_id=members.with_orders))
    second = run(ActionHandoffToHuman(), tracker("人工！", member_id=members.with_orders))

    with shop.session() as s:
        assert len(s.scalars(select(HandoffRequest)).all()) == 1
    assert first.text == second.text
