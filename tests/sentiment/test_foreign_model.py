"""Any Hugging Face text-classification model works through the same code path."""

from __future__ import annotations

import pytest

from personalization.sentiment.labels import UnknownLabelError
from personalization.sentiment.tagger import SentimentTagger


def test_plain_polarity_model_gets_emotion_from_polarity(tiny_model) -> None:
    tagger = SentimentTagger.load(tiny_model(["negative", "positive"], favour=0))
    tag = tagger.tag("快递怎么还没到")
    assert (tag.polarity, tag.emotion) == ("negative", "disappointment")
    assert tag.score > 0.99


def test_anonymous_binary_labels_use_label_1_as_positive(tiny_model) -> None:
    tagger = SentimentTagger.load(tiny_model(["LABEL_0", "LABEL_1"], favour=1))
    tags = tagger.tag_many(["太好了", "good!", "我"])
    assert {(t.polarity, t.emotion) for t in tags} == {("positive", "joy")}


def test_random_binary_model_never_says_neutral_for_text(tiny_model) -> None:
    tagger = SentimentTagger.load(tiny_model(["negative", "positive"]))
    tags = tagger.tag_many(["太好了谢谢你们", "气死我了", "bad", "😡", "x" * 5000])
    assert all(t.polarity in ("negative", "positive") for t in tags)
    assert all(0.5 <= t.score <= 1.0 for t in tags)


def test_unmappable_model_labels_fail_on_load_with_a_clear_error(tiny_model) -> None:
    with pytest.raises(UnknownLabelError, match="cannot map label 'sports'"):
        SentimentTagger.load(tiny_model(["sports", "politics"]))


def test_missing_model_directory_names_the_fix(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="make train-sentiment"):
        SentimentTagger.load(tmp_path / "nothing-here")
