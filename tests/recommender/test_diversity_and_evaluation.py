from __future__ import annotations

import math

import pytest

from personalization.recommender import diversify, evaluate_lists

RANKED = [("a1", 0.9), ("a2", 0.8), ("a3", 0.7), ("b1", 0.6), ("c1", 0.5), ("a4", 0.4)]
CATEGORY = {"a1": "A", "a2": "A", "a3": "A", "a4": "A", "b1": "B", "c1": "C"}


def test_diversify_caps_each_category_and_keeps_the_order():
    assert diversify(RANKED, CATEGORY, max_per_category=2, k=4) == [("a1", 0.9), ("a2", 0.8), ("b1", 0.6), ("c1", 0.5)]


def test_diversify_backfills_when_too_few_remain():
    assert [i for i, _ in diversify(RANKED, CATEGORY.get, max_per_category=1, k=4)] == ["a1", "b1", "c1", "a2"]
    assert [i for i, _ in diversify(RANKED, CATEGORY, max_per_category=1, k=4, backfill=False)] == ["a1", "b1", "c1"]


def test_diversify_refuses_a_zero_cap():
    with pytest.raises(ValueError, match="max_per_category"):
        diversify(RANKED, CATEGORY, max_per_category=0)


def test_evaluation_figures_by_hand():
    lists = {"u1": ["x", "y", "z"], "u2": ["p", "q", "r"], "u3": ["x"]}
    truth = {"u1": {"y"}, "u2": {"s", "t"}, "u4": {"x"}}
    figures = evaluate_lists(lists, truth, k=3, catalog_size=10, categories_of=lambda i: [i in "xyz"])
    assert figures["users"] == 3  # u3 has nothing held out; u4 has no list and scores 0
    assert figures["recall"] == pytest.approx((1 + 0 + 0) / 3)
    assert figures["ndcg"] == pytest.approx((1 / math.log2(3)) / 3)
    assert figures["hr"] == pytest.approx(1 / 3)
    assert figures["coverage"] == pytest.approx(6 / 10)
    assert figures["ild"] == pytest.approx(0.0)
