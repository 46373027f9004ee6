"""action_record_csat and the hand-off reasons that follow a mood reaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.csat import ActionRecordCsat, parse_score
from actions.handoff import ActionHandoffToHuman
from personalization.models import CsatRating, HandoffRequest


@pytest.mark.parametrize(
    ("value", "score"),
    [("5", 5), ("5分", 5), ("给个五星", 5), ("1 star", 1), ("I'd give it a 4", 4), ("four stars", 4),
     ("10", None), ("很好", None), (None, None), ("0", None)],
)
def test_scores_are_read_from_entities_and_text(value: object, score: int | None) -> None:
    assert parse_score(value) == score


def test_a_rating_button_is_stored_and_thanked(shop, members, tracker, run) -> None:
    result = run(
        ActionRecordCsat(),
        tracker('/rate_service{"csat_score": "5"}', member_id=members.with_orders, intent="rate_service",
                entities=[{"entity": "csat_score", "value": "5"}]),
    )
    with shop.session() as s:
        (rating,) = s.scalars(select(CsatRating)).all()
    assert (rating.score, rating.member_id, rating.source) == (5, members.with_orders, "chat")
    assert result.responses == ["utter_csat_thanks"] and "5" in result.text


def test_a_low_typed_rating_gets_an_apology(shop, tracker, run) -> None:
    result = run(ActionRecordCsat(), tracker("只能给2分", intent="rate_service"))
    with shop.session() as s:
        (rating,) = s.scalars(select(CsatRating)).all()
    assert rating.score == 2 and rating.member_id is None
    assert result.responses == ["utter_csat_sorry"]


def test_no_score_asks_for_one_and_stores_nothing(shop, tracker, run) -> None:
    result = run(ActionRecordCsat(), tracker("给你们打分", intent="rate_service"))
    with shop.session() as s:
        assert s.scalars(select(CsatRating)).all() == []
    assert result.responses == ["utter_csat_ask_score"]


def _action(name: str) -> dict[str, object]:
    return {"event": "action", "name": name}


@pytest.mark.parametrize(
    ("before", "reason"),
    [
        ("utter_apologize_anger", "negative_emotion"),
        ("utter_fallback_handoff", "repeated_fallback"),
        ("action_listen", "member_request"),
    ],
)
def test_the_handoff_reason_follows_the_reaction(shop, members, tracker, run, before: str, reason: str) -> None:
    conversation = tracker(
        "你们这什么破服务",
        member_id=members.with_orders,
        sentiment={"polarity": "negative", "emotion": "anger", "score": 0.97},
        events=[_action("action_listen"), {"event": "user", "text": "你们这什么破服务"}, _action(before)],
    )
    result = run(ActionHandoffToHuman(), conversation)
    with shop.session() as s:
        (handoff,) = s.scalars(select(HandoffRequest)).all()
    assert handoff.reason == reason and handoff.emotion == "anger"
    (payload,) = result.payloads("handoff")
    assert payload["reason"] == reason and payload["handoff_id"]
