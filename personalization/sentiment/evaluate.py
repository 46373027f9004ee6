"""Macro-F1 of polarity and emotion predictions (shared by the trainer's model card and the benchmark)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from sklearn.metrics import f1_score

from personalization.sentiment.data import Example


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Macro-F1 over the classes present in ``gold`` (predicting an absent class counts as a miss)."""
    labels = sorted(set(gold))
    return round(float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4)


def scores(
    examples: Sequence[Example], polarities: Sequence[str], emotions: Optional[Sequence[str]]
) -> dict[str, Any]:
    """``{"polarity_f1", "emotion_f1", "n"}``; emotion F1 only over examples with a gold emotion
    (None when there are none, or when the model gives no emotions)."""
    result: dict[str, Any] = {
        "n": len(examples),
        "polarity_f1": macro_f1([e.polarity for e in examples], list(polarities)),
        "emotion_f1": None,
    }
    labelled = [(e.emotion, p) for e, p in zip(examples, emotions or []) if e.emotion is not None]
    # Review positives carry "joy" only by convention; emotion F1 means something on the service set.
    if emotions is not None and labelled and len({g for g, _ in labelled}) > 1:
        gold, predicted = [g for g, _ in labelled], [p for _, p in labelled]
        result["emotion_f1"] = macro_f1(gold, predicted)
        classes = sorted(set(gold))
        per_class = f1_score(gold, predicted, labels=classes, average=None, zero_division=0)
        result["emotion_f1_per_class"] = {c: round(float(f), 3) for c, f in zip(classes, per_class)}
    return result
