"""The sentiment data: the service test set is balanced and never trained on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from personalization.language import has_chinese
from personalization.sentiment.data import (
    DATA_DIR_NAME,
    SERVICE_TEST,
    load_corpus,
    load_nlu_examples,
    load_reviews,
    load_service_tsv,
    normalize,
)
from personalization.settings import PROJECT_ROOT

TEST_SET = PROJECT_ROOT / DATA_DIR_NAME / SERVICE_TEST


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(PROJECT_ROOT)


def test_no_test_message_appears_in_any_training_source(corpus) -> None:
    training = {normalize(e.text) for e in corpus.train}
    training |= {normalize(e.text) for e in load_nlu_examples(PROJECT_ROOT / "data" / "nlu")}
    leaked = [e.text for e in corpus.service_test if normalize(e.text) in training]
    assert leaked == []


def test_review_heldout_split_is_disjoint_from_review_training(corpus) -> None:
    train = {normalize(e.text) for e in corpus.reviews_train}
    assert not any(normalize(e.text) in train for e in corpus.reviews_heldout)
    assert 0.08 < len(corpus.reviews_heldout) / (len(corpus.reviews_heldout) + len(corpus.reviews_train)) < 0.12


def test_review_split_is_stable() -> None:
    first, second = load_reviews(), load_reviews()
    assert [e.text for e in first[1]] == [e.text for e in second[1]]


def test_service_test_set_is_large_balanced_and_bilingual(corpus) -> None:
    emotions = Counter(e.emotion for e in corpus.service_test)
    assert len(corpus.service_test) >= 150
    assert set(emotions) == {"anger", "anxiety", "disappointment", "joy", "neutral"}
    assert max(emotions.values()) <= 1.2 * min(emotions.values())
    english = [e for e in corpus.service_test if not has_chinese(e.text)]
    assert 0.15 < len(english) / len(corpus.service_test) < 0.5


def test_a_malformed_row_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("polarity\temotion\ttext\npositive\tanger\t气死了\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 2: positive/anger is not a valid label pair"):
        load_service_tsv(path)
