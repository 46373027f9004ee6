"""Fixtures: the shipped model, and tiny random Hugging Face models with any label scheme."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import pytest

from personalization.sentiment.tagger import SentimentTagger
from personalization.settings import PROJECT_ROOT

SHIPPED_MODEL = PROJECT_ROOT / "models" / "sentiment"

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"太好了谢你们气死我快递怎么还没到", "good", "bad", "!"]


@pytest.fixture(scope="session")
def shipped_tagger() -> SentimentTagger:
    assert (SHIPPED_MODEL / "config.json").is_file(), "models/sentiment is missing: run `make train-sentiment`"
    return SentimentTagger.load(SHIPPED_MODEL)


TinyModelFactory = Callable[..., Path]


@pytest.fixture
def tiny_model(tmp_path: Path) -> TinyModelFactory:
    """Build a random 1-layer BERT classifier with the given labels in a temporary directory.

    ``favour`` (a label index) makes that class win for every input, by a large classifier bias.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    def build(labels: Sequence[str], favour: Optional[int] = None, name: str = "tiny") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), model_max_length=32)
        tokenizer.save_pretrained(str(folder))
        config = BertConfig(
            vocab_size=len(TINY_VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=32,
            id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
        )
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
        if favour is not None:
            with torch.no_grad():
                model.classifier.weight.zero_()
                model.classifier.bias.zero_()
                model.classifier.bias[favour] = 20.0
        model.save_pretrained(str(folder), safe_serialization=True)
        return folder

    return build
