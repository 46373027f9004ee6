"""The character n-gram intent model: quality on the held-out set, safe and faithful persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.nlu_data import load_examples
from components.char_ngram_model import ARRAYS_FILE, CharNgramIntentModel, prepare
from personalization.settings import PROJECT_ROOT

TRAIN = sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml"))
HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"


@pytest.fixture(scope="module")
def model() -> CharNgramIntentModel:
    examples = load_examples(TRAIN)
    return CharNgramIntentModel.fit([t for t, _ in examples], [i for _, i in examples])


def test_heldout_accuracy_meets_the_target(model: CharNgramIntentModel) -> None:
    heldout = load_examples([HELDOUT])
    probabilities = model.predict_proba([t for t, _ in heldout])
    predicted = [model.classes[i] for i in probabilities.argmax(axis=1)]
    accuracy = np.mean([p == gold for p, (_, gold) in zip(predicted, heldout)])
    assert accuracy >= 0.95


def test_saved_model_predicts_exactly_the_same(model: CharNgramIntentModel, tmp_path: Path) -> None:
    model.save(tmp_path)
    loaded = CharNgramIntentModel.load(tmp_path)
    texts = ["我还有多少积分", "有啥推荐的", "Where is my order?", ""]
    assert loaded.classes == model.classes
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-12)
    # Arrays only: a tampered file cannot smuggle in a pickled object.
    with np.load(tmp_path / ARRAYS_FILE, allow_pickle=False) as arrays:
        assert set(arrays.files) == {"idf", "coef", "intercept"}


def test_ranking_is_sorted_and_sums_to_one(model: CharNgramIntentModel) -> None:
    ranking = model.rank("我的优惠券呢", limit=len(model.classes))
    scores = [score for _, score in ranking]
    assert ranking[0][0] == "ask_coupons"
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0)


def test_full_width_and_case_are_folded() -> None:
    assert prepare("ＶＩＰ会员") == prepare("vip会员") == "vip会员"


def test_one_intent_is_refused() -> None:
    with pytest.raises(ValueError, match="two intents"):
        CharNgramIntentModel.fit(["你好", "hi"], ["greet", "greet"])
