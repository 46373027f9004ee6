"""The shipped model: clear cases, bad input, API behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

from personalization.sentiment import EMOTIONS, POLARITIES, SentimentTagger
from personalization.sentiment.tagger import MAX_CHARS, prepare_text
from personalization.settings import PROJECT_ROOT

CLEAR_CASES = [
    ("你们这什么破服务，气死我了！", "negative", "anger"),
    ("快递到底什么时候到啊，我明天急用", "negative", "anxiety"),
    ("唉，质量一般，挺失望的", "negative", "disappointment"),
    ("收到了，非常喜欢，谢谢你们！", "positive", "joy"),
    ("请问怎么修改收货地址", "neutral", "neutral"),
    ("This is unacceptable, worst service ever", "negative", "anger"),
    ("Thanks so much, love it!", "positive", "joy"),
]


@pytest.mark.parametrize("text,polarity,emotion", CLEAR_CASES)
def test_clear_messages_are_tagged_right(shipped_tagger: SentimentTagger, text: str, polarity: str,
                                         emotion: str) -> None:
    tag = shipped_tagger.tag(text)
    assert (tag.polarity, tag.emotion) == (polarity, emotion)
    assert 0.0 < tag.score <= 1.0


def test_shipped_model_predicts_joint_labels(shipped_tagger: SentimentTagger) -> None:
    assert shipped_tagger.labels == [("negative", "anger"), ("negative", "anxiety"), ("negative", "disappointment"),
                                     ("neutral", "neutral"), ("positive", "joy")]


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", None])
def test_empty_messages_are_neutral(shipped_tagger: SentimentTagger, text) -> None:
    tag = shipped_tagger.tag(text)
    assert (tag.polarity, tag.emotion, tag.score) == ("neutral", "neutral", 1.0)


@pytest.mark.parametrize(
    "text",
    ["好" * 10_000, "bad " * 2_500, "😡😡😡", "🙂", "我的coupon怎么用不了??? 😤 why", "\x00\x1b[31m坏了\u200b",
     "مرحبا 你好 Привет", "DD202610150123"],
)
def test_bad_input_gets_a_valid_tag(shipped_tagger: SentimentTagger, text: str) -> None:
    tag = shipped_tagger.tag(text)
    assert tag.polarity in POLARITIES and tag.emotion in EMOTIONS
    assert 0.0 <= tag.score <= 1.0
    assert tag.text == text


def test_long_text_is_cut_before_tokenizing() -> None:
    assert len(prepare_text("好" * 10_000)) == MAX_CHARS


def test_tag_many_keeps_the_order_and_matches_tag(shipped_tagger: SentimentTagger) -> None:
    texts = [case[0] for case in CLEAR_CASES] + ["", "😡"]
    batch = shipped_tagger.tag_many(texts)
    assert [t.text for t in batch] == texts
    single = [shipped_tagger.tag(t) for t in texts]
    assert [(t.polarity, t.emotion) for t in batch] == [(t.polarity, t.emotion) for t in single]


def test_importing_the_package_loads_no_model_and_no_torch() -> None:
    code = "import sys, personalization.sentiment, components.sentiment; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(PROJECT_ROOT)}, check=False)
    if "No module named 'rasa'" in out.stderr:  # .venv has no Rasa: check the package alone
        code = "import sys, personalization.sentiment; print('torch' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             env={"PYTHONPATH": str(PROJECT_ROOT)}, check=False)
    assert out.stdout.strip() == "False", out.stderr
