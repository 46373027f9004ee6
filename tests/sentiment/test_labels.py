"""Mapping any classifier's label names onto polarity and emotion."""

from __future__ import annotations

import pytest

from personalization.sentiment.labels import JOINT_LABELS, UnknownLabelError, label_table, parse_label


def test_joint_labels_give_polarity_and_emotion() -> None:
    assert parse_label("negative/anger", 5) == ("negative", "anger")
    assert [parse_label(label, 5) for label in JOINT_LABELS] == [
        ("negative", "anger"), ("negative", "anxiety"), ("negative", "disappointment"),
        ("neutral", "neutral"), ("positive", "joy"),
    ]


def test_plain_polarity_labels_get_the_emotion_of_their_polarity() -> None:
    assert label_table({0: "NEGATIVE", 1: "Positive"}) == [("negative", "disappointment"), ("positive", "joy")]
    assert label_table({0: "负面", 1: "中性", 2: "正面"}) == [
        ("negative", "disappointment"), ("neutral", "neutral"), ("positive", "joy"),
    ]


def test_anonymous_labels_follow_the_documented_order() -> None:
    assert [parse_label(f"LABEL_{i}", 2)[0] for i in range(2)] == ["negative", "positive"]
    assert [parse_label(f"LABEL_{i}", 3)[0] for i in range(3)] == ["negative", "neutral", "positive"]


def test_star_ratings_map_onto_polarity() -> None:
    assert [parse_label(s, 5)[0] for s in ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")] == [
        "negative", "negative", "neutral", "positive", "positive",
    ]


def test_plain_emotion_labels_imply_their_polarity() -> None:
    assert parse_label("anxiety", 5) == ("negative", "anxiety")
    assert parse_label("joy", 5) == ("positive", "joy")


@pytest.mark.parametrize("label,count", [("LABEL_3", 4), ("sports", 2), ("positive/anger", 5), ("LABEL_0", 7)])
def test_unmappable_labels_raise_a_clear_error(label: str, count: int) -> None:
    with pytest.raises(UnknownLabelError, match="cannot map label"):
        parse_label(label, count)
