"""What the product's recommender adds: content for new items, taste over popularity, recency, reasons."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from personalization.recommender import (
    BECAUSE_ITEM,
    NEW_ITEM,
    POPULAR,
    HybridRecommender,
    PopularityRecommender,
    reason_text,
)


def test_brand_new_item_reaches_a_member_who_liked_similar_items(interactions, features):
    features = {name: dict(values) for name, values in features.items()}
    features["item_text"]["lip-new"] = "新品 口红 丝绒 哑光"
    features["item_category"]["lip-new"] = "beauty"
    lover = [("fan", f"lip{n}", 1.0, datetime(2026, 9, 1)) for n in range(6)]
    model = HybridRecommender().fit(interactions + lover, **features)
    top = [item for item, _ in model.recommend("fan", k=3)]
    assert "lip-new" in top
    why = model.explain("fan", "lip-new")
    assert why.reason == BECAUSE_ITEM and why.component == "content"
    assert why.because_item in {f"lip{n}" for n in range(6)}
    # Without content the new item has nothing going for it.
    no_content = HybridRecommender(w_content=0.0, w_new=0.0).fit(interactions + lover, **features)
    assert "lip-new" not in [item for item, _ in no_content.recommend("fan", k=3)]


def test_a_clear_taste_beats_the_best_sellers(interactions, features):
    tea_lover = [("taster", f"tea{n}", 1.0, datetime(2026, 9, 1)) for n in (1, 2, 3)]
    data = interactions + tea_lover
    model = HybridRecommender().fit(data, **features)
    top2 = [item for item, _ in model.recommend("taster", k=2)]
    assert all(item.startswith("tea") for item in top2), top2
    best_sellers = [item for item, _ in PopularityRecommender().fit(data).recommend("taster", k=2)]
    assert not any(item.startswith("tea") for item in best_sellers), best_sellers


@pytest.mark.parametrize("recency", ["days", "events"])
def test_recent_interactions_weigh_more_than_old_ones(interactions, features, now, recency):
    # Four lipsticks long ago, then two teas lately: what comes next should be tea.
    old = [("switcher", f"lip{n}", 1.0, now - timedelta(days=400 + n)) for n in range(4)]
    recent = [("switcher", f"tea{n}", 1.0, now - timedelta(days=2 + n)) for n in (1, 2)]
    data = interactions + old + recent
    settings = {"half_life_days": 30.0, "half_life_events": None} if recency == "days" else {
        "half_life_days": None,
        "half_life_events": 1.0,
    }

    def first_tea_ahead_of_first_lipstick(model: HybridRecommender) -> bool:
        ranked = [item for item, _ in model.recommend("switcher", k=len(model.item_ids_))]
        first = {taste: next(n for n, item in enumerate(ranked) if item.startswith(taste)) for taste in ("tea", "lip")}
        return first["tea"] < first["lip"]

    assert first_tea_ahead_of_first_lipstick(HybridRecommender(**settings).fit(data, **features))
    flat = HybridRecommender(half_life_days=None, half_life_events=None).fit(data, **features)
    assert not first_tea_ahead_of_first_lipstick(flat)


def test_every_recommendation_says_why(interactions, features):
    model = HybridRecommender().fit(interactions, **features)
    explained = model.recommend_explained("u1", k=5)
    assert [e.item_id for e in explained] == [item for item, _ in model.recommend("u1", k=5)]
    for e in explained:
        assert e.score == pytest.approx(sum(e.contributions.values()))
        assert e.component == max(e.contributions, key=e.contributions.get)
        if e.reason == BECAUSE_ITEM:
            assert e.because_item in model.seen_items("u1")
    zh, en = reason_text(explained[0], title_of=lambda item: features["item_text"][item])
    assert zh and en


def test_a_stranger_hears_best_seller_or_new(interactions, features):
    features = {name: dict(values) for name, values in features.items()}
    features["item_text"]["tea-new"] = "新品 白茶"
    model = HybridRecommender().fit(interactions, **features)
    assert model.recommend_explained("stranger", k=1)[0].reason == POPULAR
    assert model.explain("stranger", "tea-new").reason == NEW_ITEM
    assert reason_text(model.explain("stranger", "tea-new")) == ("新品", "New arrival")
    with pytest.raises(KeyError):
        model.explain("u1", "no-such-item")


def test_large_catalogs_switch_to_sparse_knn(interactions, features):
    assert HybridRecommender(max_ease_items=10).fit(interactions, **features).cf_kind_ == "knn"
    assert HybridRecommender().fit(interactions, **features).cf_kind_ == "ease"
    with pytest.raises(ValueError, match="cf must be"):
        HybridRecommender(cf="magic").fit(interactions, **features)
