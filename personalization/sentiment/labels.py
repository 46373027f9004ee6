"""The label scheme: polarity, emotion, and how any classifier's labels map onto them.

The shipped model predicts *joint* labels ``polarity/emotion`` (``negative/anger``,
``negative/anxiety``, ``negative/disappointment``, ``neutral/neutral``, ``positive/joy``), so
one softmax gives both. A foreign Hugging Face model pointed at by ``SENTIMENT_MODEL`` may use
other label names; :func:`parse_label` understands

- joint labels ``polarity/emotion`` (as above);
- plain polarity: ``positive``/``negative``/``neutral`` and ``pos``/``neg``/``neu``,
  正面/负面/中性, 积极/消极;
- plain emotion: ``anger``, ``anxiety``, ``disappointment``, ``joy``, ``neutral`` (polarity
  follows from the emotion);
- star ratings ``1 star`` ... ``5 stars`` (1–2 negative, 3 neutral, 4–5 positive);
- anonymous ``LABEL_i``: two labels are ``LABEL_0`` = negative, ``LABEL_1`` = positive (the
  usual binary convention); three are negative, neutral, positive in that order.

A label that gives polarity only gets the emotion of :data:`EMOTION_OF_POLARITY`
(negative → disappointment, the mildest negative emotion; positive → joy; neutral → neutral).
"""

from __future__ import annotations

import re
from typing import Mapping, Optional

POLARITIES: tuple[str, ...] = ("negative", "neutral", "positive")
EMOTIONS: tuple[str, ...] = ("anger", "anxiety", "disappointment", "joy", "neutral")

POLARITY_OF_EMOTION: dict[str, str] = {
    "anger": "negative",
    "anxiety": "negative",
    "disappointment": "negative",
    "joy": "positive",
    "neutral": "neutral",
}
EMOTION_OF_POLARITY: dict[str, str] = {
    "negative": "disappointment",
    "neutral": "neutral",
    "positive": "joy",
}

# The shipped model's classes, in id order.
JOINT_LABELS: tuple[str, ...] = (
    "negative/anger", "negative/anxiety", "negative/disappointment", "neutral/neutral", "positive/joy",
)

_POLARITY_ALIASES: dict[str, str] = {
    "positive": "positive", "pos": "positive", "正面": "positive", "积极": "positive", "正向": "positive",
    "negative": "negative", "neg": "negative", "负面": "negative", "消极": "negative", "负向": "negative",
    "neutral": "neutral", "neu": "neutral", "中性": "neutral", "中立": "neutral",
}
_STARS = re.compile(r"^([1-5])\s*stars?$")
_ANONYMOUS = re.compile(r"^label_(\d+)$")


class UnknownLabelError(ValueError):
    """A model's label cannot be mapped onto polarity/emotion."""


def parse_label(label: str, num_labels: int) -> tuple[str, Optional[str]]:
    """``(polarity, emotion or None)`` for one class name of a classifier with ``num_labels`` classes.

    Raises:
        UnknownLabelError: the name fits none of the schemes in the module docstring.
    """
    name = label.strip().lower()
    if "/" in name:
        polarity, _, emotion = name.partition("/")
        if polarity in POLARITIES and emotion in EMOTIONS and POLARITY_OF_EMOTION[emotion] == polarity:
            return polarity, emotion
    if name in _POLARITY_ALIASES:
        return _POLARITY_ALIASES[name], None
    if name in EMOTIONS:
        return POLARITY_OF_EMOTION[name], name
    stars = _STARS.match(name)
    if stars:
        value = int(stars.group(1))
        return ("negative" if value <= 2 else "neutral" if value == 3 else "positive"), None
    anonymous = _ANONYMOUS.match(name)
    if anonymous and num_labels in (2, 3):
        index = int(anonymous.group(1))
        order = ("negative", "positive") if num_labels == 2 else POLARITIES
        if index < num_labels:
            return order[index], None
    raise UnknownLabelError(
        f"cannot map label {label!r} onto polarity/emotion; expected one of {', '.join(JOINT_LABELS)}, "
        "positive/negative/neutral, an emotion name, 'N stars' or LABEL_0..LABEL_2"
    )


def label_table(id2label: Mapping[int, str]) -> list[tuple[str, str]]:
    """``(polarity, emotion)`` for each class id of a model (emotion filled in from polarity)."""
    table: list[tuple[str, str]] = []
    for index in range(len(id2label)):
        polarity, emotion = parse_label(id2label[index], len(id2label))
        table.append((polarity, emotion or EMOTION_OF_POLARITY[polarity]))
    return table
