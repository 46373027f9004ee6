"""Intent model on character n-grams: TF-IDF (``char_wb``) + multinomial logistic regression.

Chinese members write without spaces, with typos and mixed Chinese-English; character n-grams
are robust to all three and, on this project's data, beat DIET on both the held-out set and
cross-validation (see ``bench/README.md``). The module has no Rasa import so that it is tested
in the application environment; :mod:`components.intent_classifier` wraps it for Rasa.

A fitted model is stored as plain arrays (vocabulary, IDF weights, coefficients), never as a
pickle, so loading a model file cannot execute code.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

VOCABULARY_FILE = "vocabulary.json"
ARRAYS_FILE = "weights.npz"


def prepare(text: str) -> str:
    """Fold full-width forms and case so ``ＶＩＰ``, ``vip`` and ``VIP`` are the same n-grams."""
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters; the defaults were chosen by 5-fold cross-validation on ``data/nlu``."""

    min_ngram: int = 1
    max_ngram: int = 3
    c: float = 30.0
    max_iter: int = 5000
    random_seed: int = 42


class CharNgramIntentModel:
    """Fit on ``(text, intent)`` pairs; rank intents for new texts with probabilities."""

    def __init__(
        self,
        config: ModelConfig,
        vocabulary: dict[str, int],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: Sequence[str],
    ) -> None:
        self.config = config
        self.classes = list(classes)
        self._idf = idf
        self._coef = coef
        self._intercept = intercept
        self._counter = CountVectorizer(
            analyzer="char_wb",
            ngram_range=(config.min_ngram, config.max_ngram),
            vocabulary=vocabulary,
            lowercase=False,
        )

    @classmethod
    def fit(
        cls, texts: Sequence[str], intents: Sequence[str], config: ModelConfig | None = None
    ) -> CharNgramIntentModel:
        """Train on the examples; needs at least two distinct intents."""
        config = config or ModelConfig()
        if len(set(intents)) < 2:
            raise ValueError("an intent classifier needs examples of at least two intents")
        tfidf = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(config.min_ngram, config.max_ngram),
            sublinear_tf=True,
            lowercase=False,
        )
        features = tfidf.fit_transform([prepare(t) for t in texts])
        classifier = LogisticRegression(C=config.c, max_iter=config.max_iter, random_state=config.random_seed)
        classifier.fit(features, list(intents))
        vocabulary = {term: int(index) for term, index in tfidf.vocabulary_.items()}
        return cls(config, vocabulary, tfidf.idf_, classifier.coef_, classifier.intercept_, classifier.classes_)

    def _features(self, texts: Sequence[str]) -> np.ndarray:
        counts = self._counter.transform([prepare(t) for t in texts]).astype(np.float64)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf, as in training
        weighted = counts.multiply(self._idf).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
        norms[norms == 0.0] = 1.0
        return weighted.multiply(1.0 / norms[:, None]).tocsr()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in the order of :attr:`classes`."""
        scores = self._features(texts) @ self._coef.T + self._intercept
        if self._coef.shape[0] == 1:  # binary: sklearn keeps one row of weights
            scores = np.hstack([-scores, scores])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def rank(self, text: str, limit: int = 10) -> list[tuple[str, float]]:
        """The ``limit`` most likely intents for one text, best first."""
        probabilities = self.predict_proba([text])[0]
        order = np.argsort(-probabilities)[:limit]
        return [(self.classes[i], float(probabilities[i])) for i in order]

    def save(self, directory: Path) -> None:
        """Write the model as JSON + ``.npz`` arrays (no pickle)."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"config": self.config.__dict__, "classes": self.classes, "vocabulary": self._counter.vocabulary}
        (directory / VOCABULARY_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez(directory / ARRAYS_FILE, idf=self._idf, coef=self._coef, intercept=self._intercept)

    @classmethod
    def load(cls, directory: Path) -> CharNgramIntentModel:
        """Read a model written by :meth:`save`."""
        meta = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
            idf, coef, intercept = arrays["idf"], arrays["coef"], arrays["intercept"]
        return cls(ModelConfig(**meta["config"]), meta["vocabulary"], idf, coef, intercept, meta["classes"])
