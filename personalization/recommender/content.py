"""Item content as TF-IDF vectors: jieba-tokenized titles/descriptions, categories and tags.

Content similarity lets a brand-new product (no interactions yet) be recommended to members who
liked similar products, and gives a member with little history something beyond best sellers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from personalization.recommender.dataset import ItemId

#: item features a content model understands (keyword arguments of ``fit``).
CONTENT_FEATURES = ("item_text", "item_category", "item_tags")

_WORD = re.compile(r"\w", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased jieba tokens of ``text`` that contain a letter or digit (punctuation dropped)."""
    import jieba  # imported on use: loading its dictionary takes a second

    return [t for t in (w.strip().lower() for w in jieba.lcut(text)) if t and _WORD.search(t)]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]


def item_documents(item_ids: Sequence[ItemId], features: Mapping[str, Mapping[ItemId, Any]]) -> list[list[str]]:
    """One token list per item: text tokens, ``cat=<category>`` and ``tag=<tag>`` tokens."""
    texts = features.get("item_text", {})
    categories = features.get("item_category", {})
    tags = features.get("item_tags", {})
    docs = []
    for item in item_ids:
        tokens: list[str] = []
        text = texts.get(item)
        if text:
            tokens.extend(tokenize(str(text)))
        # A category is a strong signal: counted twice so it outweighs a single shared title word.
        tokens.extend(f"cat={c.lower()}" for c in _as_list(categories.get(item)) for _ in range(2))
        tokens.extend(f"tag={t.lower()}" for t in _as_list(tags.get(item)))
        docs.append(tokens)
    return docs


def tfidf_matrix(docs: list[list[str]]) -> sp.csr_matrix:
    """items x terms TF-IDF (sublinear tf, smooth idf), rows L2-normalized; all-zero when no item has content."""
    if not any(docs):
        return sp.csr_matrix((len(docs), 0), dtype=np.float32)
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True, norm="l2", dtype=np.float32)
    return sp.csr_matrix(vectorizer.fit_transform(docs), dtype=np.float32)
