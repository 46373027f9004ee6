"""Tag member messages with polarity, emotion and a confidence score.

Any Hugging Face text-classification model directory works (config.json, weights, tokenizer
files); its labels are mapped by :mod:`personalization.sentiment.labels`. Nothing is loaded at
import: torch and transformers are imported on the first :meth:`SentimentTagger.tag`.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from personalization.sentiment.labels import POLARITIES, label_table

# Longer messages are cut before tokenizing (the model reads at most max_len tokens anyway), so a
# 10,000-character paste costs the same as a short one.
MAX_CHARS = 512
# Upper bound on tokens per message, whatever a foreign model allows.
MAX_TOKENS = 256
BATCH_SIZE = 32


@dataclass(frozen=True)
class Sentiment:
    """One message's tag. ``score`` is the model's probability of this (polarity, emotion)."""

    text: str
    polarity: str
    emotion: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tag(self) -> dict[str, Any]:
        """The tag without the text (what the Rasa component stores on a message)."""
        return {"polarity": self.polarity, "emotion": self.emotion, "score": self.score}


def prepare_text(text: Optional[str]) -> str:
    """Whitespace-normalised text, cut to :data:`MAX_CHARS` characters."""
    if not text:
        return ""
    return " ".join(str(text).split())[:MAX_CHARS]


class SentimentTagger:
    """A text-classification model seen as a polarity/emotion tagger.

    ``SentimentTagger(path)`` is cheap; the model loads on first use (or via :meth:`load`),
    once, thread-safely.
    """

    def __init__(self, path: str | Path, *, num_threads: Optional[int] = 1) -> None:
        self.path = Path(path)
        self.num_threads = num_threads
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._table: list[tuple[str, str]] = []
        self._max_length = 0

    @classmethod
    def load(cls, path: str | Path, *, num_threads: Optional[int] = 1) -> "SentimentTagger":
        """A tagger with its model loaded (raises ``FileNotFoundError`` for a missing directory)."""
        tagger = cls(path, num_threads=num_threads)
        tagger._ensure_loaded()
        return tagger

    @property
    def labels(self) -> list[tuple[str, str]]:
        """``(polarity, emotion)`` of each class of the model."""
        self._ensure_loaded()
        return list(self._table)

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            if not (self.path / "config.json").is_file():
                raise FileNotFoundError(
                    f"no sentiment model at {self.path} (expected a Hugging Face model directory with "
                    "config.json; train one with `make train-sentiment` or set SENTIMENT_MODEL)"
                )
            try:
                import torch

                with warnings.catch_warnings():  # transformers 4.36 warns about a torch API it uses
                    warnings.simplefilter("ignore", FutureWarning)
                    from transformers import AutoModelForSequenceClassification, AutoTokenizer
                    from transformers.utils import logging as hf_logging
            except ImportError as error:
                raise RuntimeError(
                    f"sentiment tagging needs torch and transformers ({error}); install "
                    "torch==2.13.0 (CPU wheel) and transformers==4.36.2 into this environment"
                ) from error

            hf_logging.set_verbosity_error()
            if self.num_threads:
                torch.set_num_threads(self.num_threads)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
                model = AutoModelForSequenceClassification.from_pretrained(str(self.path), local_files_only=True)
            model.eval()
            id2label = {int(k): v for k, v in model.config.id2label.items()}
            self._table = label_table(id2label)
            limits = [MAX_TOKENS, getattr(model.config, "max_position_embeddings", MAX_TOKENS)]
            if 0 < (tokenizer.model_max_length or 0) < 10**6:
                limits.append(tokenizer.model_max_length)
            self._max_length = min(limits)
            self._tokenizer = tokenizer
            self._model = model

    def tag(self, text: Optional[str]) -> Sentiment:
        """Tag one message."""
        return self.tag_many([text])[0]

    def tag_many(self, texts: Iterable[Optional[str]], *, batch_size: int = BATCH_SIZE) -> list[Sentiment]:
        """Tag messages in batches (similar lengths batched together); same order as ``texts``."""
        originals = ["" if t is None else str(t) for t in texts]
        prepared = [prepare_text(t) for t in originals]
        results: list[Optional[Sentiment]] = [None] * len(originals)
        todo = [i for i, t in enumerate(prepared) if t]
        for i, t in enumerate(prepared):
            if not t:
                results[i] = Sentiment(text=originals[i], polarity="neutral", emotion="neutral", score=1.0)
        if todo:
            self._ensure_loaded()
            todo.sort(key=lambda i: len(prepared[i]))
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                probabilities = self.predict_proba([prepared[i] for i in chunk])
                for i, row in zip(chunk, probabilities):
                    polarity, emotion, score = self._decide(row)
                    results[i] = Sentiment(text=originals[i], polarity=polarity, emotion=emotion, score=score)
        return [r for r in results if r is not None]

    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        """Class probabilities of the model for already prepared texts."""
        self._ensure_loaded()
        import torch

        encoded = self._tokenizer(
            list(texts), truncation=True, max_length=self._max_length, padding=True, return_tensors="pt"
        )
        if not _uses_token_types(self._model):
            encoded.pop("token_type_ids", None)
        with torch.inference_mode():
            logits = self._model(**encoded).logits
        return torch.softmax(logits.float(), dim=-1).tolist()

    def _decide(self, probabilities: Sequence[float]) -> tuple[str, str, float]:
        """Most likely polarity (summed over its classes), then its most likely emotion."""
        by_polarity = {p: 0.0 for p in POLARITIES}
        by_pair: dict[tuple[str, str], float] = {}
        for (polarity, emotion), p in zip(self._table, probabilities):
            by_polarity[polarity] += p
            by_pair[(polarity, emotion)] = by_pair.get((polarity, emotion), 0.0) + p
        polarity = max(POLARITIES, key=lambda k: by_polarity[k])
        pairs = [(pair, p) for pair, p in by_pair.items() if pair[0] == polarity]
        (polarity, emotion), score = max(pairs, key=lambda item: item[1])
        return polarity, emotion, round(float(score), 4)


def _uses_token_types(model: Any) -> bool:
    return getattr(model.config, "type_vocab_size", 0) > 0


_CACHE: dict[str, SentimentTagger] = {}
_CACHE_LOCK = threading.Lock()


def get_tagger(path: str | Path, *, num_threads: Optional[int] = 1) -> SentimentTagger:
    """One shared (lazily loading) tagger per model directory."""
    key = str(Path(path).resolve())
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SentimentTagger(key, num_threads=num_threads)
        return _CACHE[key]
