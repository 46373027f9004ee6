"""NLU quality: the trained Rasa model on the held-out set, 5-fold cross-validation, and a baseline.

Run with ``make bench-nlu``. Side by side in one run:
- Rasa pipeline (config.yml: jieba + sparse features, DIET for entities, the character n-gram
  intent classifier of ``components/``) on ``tests/nlu/heldout.yml`` (never trained on) and in
  5-fold cross-validation over ``data/nlu``;
- a plain scikit-learn TF-IDF character n-gram + logistic regression baseline on the same data.
Figures go to stdout and ``bench/results/nlu.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from tqdm import tqdm

from bench.nlu_data import load_examples
from personalization.settings import PROJECT_ROOT

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = PROJECT_ROOT / "models" / "member-assistant.tar.gz"
TRAIN_FILES = sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml"))
HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"
RESULTS = PROJECT_ROOT / "bench" / "results" / "nlu.json"
FOLDS = 5


def _rasa(args: list[str]) -> None:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([str(RASA), *args], cwd=PROJECT_ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _report_figures(report_path: Path) -> dict[str, float]:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro avg"]["f1-score"], 4)}


def _entity_figures(report_dir: Path) -> dict[str, dict[str, float]]:
    """Entity F1 per extractor and entity type (DIET: category/brand; regex: order ids)."""
    figures: dict[str, dict[str, float]] = {}
    for extractor in ("DIETClassifier", "RegexEntityExtractor"):
        path = report_dir / f"{extractor}_report.json"
        if path.exists():
            report = json.loads(path.read_text(encoding="utf-8"))
            figures[extractor] = {name: round(row["f1-score"], 3) for name, row in report.items()
                                  if isinstance(row, dict) and name not in ("weighted avg", "macro avg")}
    return figures


def _baseline() -> Any:
    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=10.0),
    )


def _score(y_true: list[str], y_pred: list[str]) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation (it trains 5 models: ~25 min)")
    args = parser.parse_args(argv)
    train = load_examples(TRAIN_FILES)
    heldout = load_examples([HELDOUT])
    results: dict[str, Any] = {"train_examples": len(train), "heldout_examples": len(heldout), "folds": FOLDS}
    steps = tqdm(total=2 if args.no_cv else 4, desc="NLU benchmark", unit="step")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        started = time.perf_counter()
        _rasa(["test", "nlu", "--model", str(MODEL), "--nlu", str(HELDOUT), "--out", str(out / "heldout")])
        results["rasa_heldout"] = _report_figures(out / "heldout" / "intent_report.json")
        results["rasa_heldout"]["seconds"] = round(time.perf_counter() - started, 1)
        results["rasa_heldout_entities"] = _entity_figures(out / "heldout")
        steps.update()

        if not args.no_cv:
            started = time.perf_counter()
            _rasa(["test", "nlu", "--nlu", "data/nlu", "--config", "config.yml", "--cross-validation",
                   "--folds", str(FOLDS), "--out", str(out / "cv")])
            results["rasa_cv"] = _report_figures(out / "cv" / "intent_report.json")
            results["rasa_cv"]["seconds"] = round(time.perf_counter() - started, 1)
            steps.update()

    texts, labels = [t for t, _ in train], [i for _, i in train]
    baseline = _baseline().fit(texts, labels)
    results["baseline_heldout"] = _score([i for _, i in heldout], list(baseline.predict([t for t, _ in heldout])))
    steps.update()

    if not args.no_cv:
        predictions = np.empty(len(labels), dtype=object)
        for train_idx, test_idx in StratifiedKFold(FOLDS, shuffle=True, random_state=42).split(texts, labels):
            fold = _baseline().fit([texts[i] for i in train_idx], [labels[i] for i in train_idx])
            predictions[test_idx] = fold.predict([texts[i] for i in test_idx])
        results["baseline_cv"] = _score(labels, list(predictions))
        steps.update()
    steps.close()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nNLU intent classification ({len(train)} training examples, {len(heldout)} held-out)")
    print(f"{'evaluation':<22}{'Rasa acc':>10}{'Rasa F1':>10}{'base acc':>10}{'base F1':>10}{'F1 ratio':>10}")
    for name, rasa_key, base_key in (("held-out set", "rasa_heldout", "baseline_heldout"),
                                     (f"{FOLDS}-fold CV", "rasa_cv", "baseline_cv")):
        if rasa_key not in results:
            continue
        r, b = results[rasa_key], results[base_key]
        print(f"{name:<22}{r['accuracy']:>10.3f}{r['macro_f1']:>10.3f}{b['accuracy']:>10.3f}"
              f"{b['macro_f1']:>10.3f}{r['macro_f1'] / b['macro_f1']:>10.2f}")
    for extractor, figures in results.get("rasa_heldout_entities", {}).items():
        print(f"entity F1 ({extractor}): " + ", ".join(f"{name} {f1:.3f}" for name, f1 in figures.items()))
    print(f"target: held-out accuracy >= 0.95 -> {'met' if results['rasa_heldout']['accuracy'] >= 0.95 else 'NOT met'}")
    print(f"written to {RESULTS.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
