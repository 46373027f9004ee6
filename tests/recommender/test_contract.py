"""The contract every model keeps (implicit-style shared checks: each model only says how it is built)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from personalization.recommender import HybridRecommender, PopularityRecommender, Recommender

MODELS: dict[str, Callable[[], Recommender]] = {
    "popularity": PopularityRecommender,
    "trending": lambda: PopularityRecommender(half_life_days=30.0),
    "hybrid-ease": HybridRecommender,
    "hybrid-knn": lambda: HybridRecommender(cf="knn", knn_neighbours=5),
    "hybrid-content-only": lambda: HybridRecommender(cf="none", w_cf=0.0, w_content=1.0),
}


@pytest.fixture(params=sorted(MODELS))
def make(request: pytest.FixtureRequest) -> Callable[[], Recommender]:
    return MODELS[request.param]


def fitted(make: Callable[[], Recommender], interactions: list, features: dict) -> Recommender:
    model = make()
    extra = features if model.item_feature_names else {}
    return model.fit(interactions, **extra)


def test_fit_returns_self(make, interactions, features):
    model = make()
    extra = features if model.item_feature_names else {}
    assert model.fit(interactions, **extra) is model


def test_recommend_gives_at_most_k_distinct_pairs_best_first(make, interactions, features):
    model = fitted(make, interactions, features)
    recs = model.recommend("u1", k=5)
    assert 0 < len(recs) <= 5
    items = [item for item, _ in recs]
    scores = [score for _, score in recs]
    assert len(set(items)) == len(items)
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(item, str) and isinstance(score, float) for item, score in recs)


def test_seen_items_are_excluded_when_asked_and_included_when_not(make, interactions, features):
    model = fitted(make, interactions, features)
    seen = set(model.seen_items("u1"))
    assert seen
    everything = len(model.item_ids_)
    assert not seen & {item for item, _ in model.recommend("u1", k=everything)}
    assert seen <= {item for item, _ in model.recommend("u1", k=everything, exclude_seen=False)}


def test_unknown_user_gets_the_same_non_personal_list(make, interactions, features):
    model = fitted(make, interactions, features)
    stranger = model.recommend("nobody", k=4)
    assert len(stranger) == 4
    assert stranger == model.recommend(12345, k=4)
    assert not model.knows("nobody")


def test_k_zero_gives_nothing_and_negative_k_is_refused(make, interactions, features):
    model = fitted(make, interactions, features)
    assert model.recommend("u1", k=0) == []
    with pytest.raises(ValueError, match="k must be 0 or more"):
        model.recommend("u1", k=-1)


def test_save_and_load_give_identical_recommendations(make, interactions, features, tmp_path: Path):
    model = fitted(make, interactions, features)
    path = model.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as npz:  # plain arrays and a JSON header, no pickle
        assert "__header__" in npz.files
    loaded = Recommender.load(path)
    assert type(loaded) is type(model)
    for user in ("u1", "u15", "u29", "nobody"):
        assert loaded.recommend(user, k=6) == model.recommend(user, k=6)
        assert loaded.recommend(user, k=6, exclude_seen=False) == model.recommend(user, k=6, exclude_seen=False)


def test_same_data_same_recommendations(make, interactions, features):
    first = fitted(make, interactions, features)
    second = fitted(make, list(interactions), features)
    assert [first.recommend(f"u{n}", k=5) for n in range(1, 31)] == [
        second.recommend(f"u{n}", k=5) for n in range(1, 31)
    ]


def test_no_interactions_is_a_clear_error(make):
    with pytest.raises(ValueError, match="no interactions"):
        make().fit([])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("u1", "a", 1.0), "must be a .user_id, item_id, weight, timestamp. tuple"),
        (("u1", "a", -1.0, 0), "weight must be a positive number"),
        (("u1", "a", "lots", 0), "weight must be a positive number"),
        (("u1", "a", 1.0, "yesterday"), "timestamp must be a datetime"),
        ((None, "a", 1.0, 0), "user_id must be a string or an int"),
    ],
)
def test_malformed_interactions_are_clear_errors(make, row, message):
    with pytest.raises(ValueError, match=message):
        make().fit([("u0", "a", 1.0, 0), row])


def test_unknown_item_feature_is_refused(make, interactions):
    with pytest.raises(ValueError, match="does not take item features"):
        make().fit(interactions, item_colour={"lip0": "red"})


def test_recommend_before_fit_is_a_clear_error(make):
    with pytest.raises(RuntimeError, match="not fitted"):
        make().recommend("u1")


def test_loading_something_else_is_a_clear_error(tmp_path: Path):
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, x=np.arange(3))
    with pytest.raises(ValueError, match="not a saved recommender"):
        Recommender.load(bogus)
    with pytest.raises(FileNotFoundError):
        Recommender.load(tmp_path / "missing.npz")
