"""The dialogue's reaction rules (personalization/sentiment/reactions.py), without Rasa."""

from __future__ import annotations

import pytest

from personalization.sentiment.reactions import (
    ANGRY,
    ANXIOUS,
    ASK_CSAT,
    JOYFUL,
    NEGATIVE,
    OFFER_HUMAN,
    SessionView,
    UserTurn,
    mood_of,
    next_action,
    plan_reaction,
)


@pytest.mark.parametrize(
    ("sentiment", "mood"),
    [
        ({"polarity": "negative", "emotion": "anger", "score": 0.95}, ANGRY),
        ({"polarity": "negative", "emotion": "anger", "score": 0.6}, NEGATIVE),
        ({"polarity": "negative", "emotion": "anxiety", "score": 0.5}, ANXIOUS),
        ({"polarity": "negative", "emotion": "disappointment", "score": 0.9}, NEGATIVE),
        ({"polarity": "positive", "emotion": "joy", "score": 0.9}, JOYFUL),
        ({"polarity": "neutral", "emotion": "neutral", "score": 0.99}, None),
        ({"polarity": "negative", "emotion": "anger", "score": "bad"}, NEGATIVE),
        ({}, None),
        (None, None),
    ],
)
def test_mood_of_a_tag(sentiment: dict | None, mood: str | None) -> None:
    assert mood_of(sentiment) == mood


def test_strong_anger_threshold_is_configurable() -> None:
    tag = {"polarity": "negative", "emotion": "anger", "score": 0.7}
    assert mood_of(tag, strong_anger=0.6) == ANGRY
    assert mood_of(tag, strong_anger=0.8) == NEGATIVE


def view(*turns: UserTurn, actions: tuple[str, ...] = ()) -> SessionView:
    return SessionView(turns=turns, actions=actions)


def test_strong_anger_apologises_and_hands_over_whatever_the_intent() -> None:
    for intent in ("complain", "ask_points", "nlu_fallback", "request_human"):
        assert plan_reaction(view(UserTurn(intent, ANGRY))) == ["utter_apologize_anger", "action_handoff_to_human"]


def test_two_fallbacks_in_a_row_hand_over_but_one_does_not() -> None:
    one = UserTurn("nlu_fallback")
    assert plan_reaction(view(one)) == []
    assert plan_reaction(view(one, one, actions=("utter_default", "action_listen"))) == [
        "utter_fallback_handoff",
        "action_handoff_to_human",
    ]
    # Fallback, an understood message, fallback: not in a row.
    assert plan_reaction(view(one, UserTurn("ask_points"), one)) == []


def test_anxiety_about_an_order_gets_the_status_first() -> None:
    assert plan_reaction(view(UserTurn("complain", ANXIOUS))) == ["action_order_status"]
    assert plan_reaction(view(UserTurn("greet", ANXIOUS, frozenset({"order_id"})))) == ["action_order_status"]
    # Anxiety beats the two-unhappy-turns offer.
    assert plan_reaction(view(UserTurn("ask_points", NEGATIVE), UserTurn("check_order_status", ANXIOUS))) == [
        "action_order_status"
    ]
    # Not about an order, or an explicit request of its own: the ordinary flow.
    assert plan_reaction(view(UserTurn("ask_points", ANXIOUS))) == []
    assert plan_reaction(view(UserTurn("request_return", ANXIOUS, frozenset({"order_id"})))) == []


def test_two_unhappy_turns_offer_a_human_once() -> None:
    unhappy = UserTurn("ask_recommendation", NEGATIVE)
    assert plan_reaction(view(unhappy)) == []
    assert plan_reaction(view(unhappy, unhappy, actions=("action_recommend_products", "action_listen"))) == [OFFER_HUMAN]
    # Just offered: a third unhappy turn is not offered again at once.
    offered = ("action_recommend_products", "action_listen", OFFER_HUMAN, "action_listen")
    assert plan_reaction(view(unhappy, unhappy, UserTurn("deny", NEGATIVE), actions=offered)) == []
    # A neutral turn in between breaks the streak; complaints have their own offer.
    assert plan_reaction(view(unhappy, UserTurn("ask_points"), unhappy)) == []
    assert plan_reaction(view(unhappy, UserTurn("complain", NEGATIVE))) == []


def test_joy_after_a_resolved_issue_asks_for_a_rating_once() -> None:
    happy = UserTurn("thank", JOYFUL)
    resolved = ("action_points_balance", "utter_anything_else", "action_listen")
    assert plan_reaction(view(UserTurn("ask_points"), happy, actions=resolved)) == [ASK_CSAT]
    assert plan_reaction(view(happy)) == []  # nothing resolved yet
    assert plan_reaction(view(UserTurn("greet", JOYFUL), actions=resolved)) == []  # not thanks
    asked = (*resolved, ASK_CSAT, "action_listen")
    assert plan_reaction(view(UserTurn("ask_points"), happy, happy, actions=asked)) == []


def test_next_action_walks_the_plan_then_listens() -> None:
    plan = ["utter_apologize_anger", "action_handoff_to_human"]
    assert next_action(plan, []) == "utter_apologize_anger"
    assert next_action(plan, ["utter_apologize_anger"]) == "action_handoff_to_human"
    assert next_action(plan, ["utter_apologize_anger", "action_handoff_to_human"]) == "action_listen"
    assert next_action(plan, ["action_file_complaint"]) is None
    assert next_action([], []) is None
