"""Top unrecognized messages: fallback turns grouped by similarity, so they can become training data.

Features are jieba word tokens and character 2–3-grams (TF-IDF each, joined and L2-normalised),
so "积分怎么兑换" and "积分如何兑换" land together in Chinese and "where is my parcel" /
"where's my parcel" in English. K-means (fixed seed) groups them; the number of clusters is
chosen by the data: candidates between 2 and about the square root of the number of distinct
messages, the one with the best cosine silhouette wins. Texts are masked again before they are
returned (they are stored masked; masking twice changes nothing).

jieba and scikit-learn are imported when clustering runs, never at import.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.analytics.masking import mask_text
from personalization.analytics.metrics import _range, _turns
from personalization.analytics.models import AnalyticsTurn as AT

SEED = 20261122
MAX_TEXTS = 500  # distinct messages clustered (the most frequent); keeps a dashboard call fast
MAX_K = 30
SILHOUETTE_SLACK = 0.02
PAIR_SIMILARITY = 0.5  # cosine; two messages alone form one cluster above it
EXAMPLES = 3
LABEL_TERMS = 3
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
_SPACES = re.compile(r"\s+")
# Words that say nothing about what a message is about (kept out of features and labels).
_STOP_WORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 哦 嘛 么 是 我 你 他 她 我的 你的 在 有 和 就 都 也 还 这 那 个 请 请问 一下
    a an the is are am was be to of in on at it its i me my you your we our do does did can could would
    please hi hello and or for with this that what s""".split()
)


class Cluster(TypedDict):
    label: str
    size: int
    examples: list[str]


def _normalize(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def _tokens(text: str) -> list[str]:
    """jieba words that carry meaning: no punctuation, no bare numbers, no mask asterisks."""
    import jieba

    words = (w.strip() for w in jieba.lcut(text))
    return [w for w in words if w and _WORD.search(w) and not w.isdigit() and w not in _STOP_WORDS]


def _quiet_jieba() -> None:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG on the console


def _features(texts: Sequence[str]) -> tuple[Any, list[str], Any]:
    """(matrix L2-normalised, word vocabulary, word block) of ``texts``."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    blocks = []
    words: Any = None
    vocabulary: list[str] = []
    try:
        word_vectorizer = TfidfVectorizer(analyzer=_tokens, sublinear_tf=True)
        words = word_vectorizer.fit_transform(texts)
        vocabulary = list(word_vectorizer.get_feature_names_out())
        blocks.append(words)
    except ValueError:  # no word at all (only punctuation or numbers)
        words = None
    try:
        blocks.append(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True).fit_transform(texts))
    except ValueError:
        pass
    if not blocks:
        return csr_matrix((len(texts), 1)), [], None
    return normalize(hstack(blocks).tocsr()), vocabulary, words


def _candidate_ks(n: int) -> list[int]:
    top = min(n - 1, MAX_K, max(2, math.ceil(math.sqrt(n) * 1.5)))
    if top <= 7:
        return list(range(2, top + 1))
    return sorted({round(2 * (top / 2) ** (i / 5)) for i in range(6)})  # 6 values, spaced geometrically


def _assign(matrix: Any, weights: Sequence[int], seed: int) -> list[int]:
    """Cluster index of each row (k-means, k by silhouette)."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import silhouette_score

    n = matrix.shape[0]
    if n == 1 or matrix.nnz == 0:
        return [0] * n
    if n == 2:  # too few for k-means: together when they are alike
        return [0, 0] if float((matrix[0] @ matrix[1].T).toarray()[0, 0]) >= PAIR_SIMILARITY else [0, 1]
    distances = np.clip(1.0 - (matrix @ matrix.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    tried: list[tuple[float, list[int]]] = []
    for k in _candidate_ks(n):
        kmeans = KMeans(n_clusters=k, n_init=4 if n <= 200 else 2, random_state=seed)
        with warnings.catch_warnings():  # "fewer distinct points than clusters" on near-duplicates: harmless
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = kmeans.fit_predict(matrix, sample_weight=np.asarray(weights, float))
        if len(set(labels.tolist())) >= 2:
            tried.append((float(silhouette_score(distances, labels, metric="precomputed")), labels.tolist()))
    if not tried:
        return [0] * n
    # Silhouette tends to split small samples finely: take the fewest clusters scoring near the best.
    best = max(score for score, _ in tried)
    return next(labels for score, labels in tried if score >= best - SILHOUETTE_SLACK)


def _label(members: list[int], words: Any, vocabulary: list[str], texts: Sequence[str], weights: Sequence[int]) -> str:
    if words is not None and vocabulary:
        import numpy as np

        block = words[members]
        scores = np.asarray(block.multiply(np.asarray([weights[i] for i in members], float)[:, None]).sum(axis=0)).ravel()
        order = sorted((i for i in np.flatnonzero(scores)), key=lambda i: (-scores[i], vocabulary[i]))
        terms = [vocabulary[i] for i in order[:LABEL_TERMS]]
        if terms:
            return " / ".join(terms)
    return texts[members[0]][:20]


def cluster_messages(
    messages: Iterable[str] | Iterable[tuple[str, int]],
    *,
    limit: int = 10,
    seed: int = SEED,
    names: Iterable[str | None] = (),
) -> list[Cluster]:
    """Group similar messages; the ``limit`` biggest groups, biggest first.

    Args:
        messages: texts, or ``(text, count)`` pairs (a text said ``count`` times).
        limit: how many clusters to return.
        seed: k-means seed (the same input and seed give the same clusters).
        names: known personal names to mask in the examples (besides the patterns of ``mask_text``).

    Returns:
        ``[{"label": "<top terms>", "size": <messages>, "examples": ["<masked text>", ...]}]``;
        empty for no (non-blank) message.
    """
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for item in messages:
        text, count = (item, 1) if isinstance(item, str) else item
        key = _normalize(text or "")
        if key and count > 0:
            counts[key] += int(count)
            shown.setdefault(key, _SPACES.sub(" ", text).strip())
    if not counts or limit < 1:
        return []
    # The most frequent distinct texts, in a fixed order (so the result does not depend on input order).
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TEXTS]
    texts = [text for text, _ in ordered]
    weights = [n for _, n in ordered]
    _quiet_jieba()
    matrix, vocabulary, words = _features(texts)
    labels = _assign(matrix, weights, seed)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)  # indices ascend: most frequent text first
    name_list = list(names)
    clusters = [
        Cluster(
            label=mask_text(_label(members, words, vocabulary, texts, weights), names=name_list),
            size=sum(weights[i] for i in members),
            examples=[mask_text(shown[texts[i]], names=name_list) for i in members[:EXAMPLES]],
        )
        for members in groups.values()
    ]
    clusters.sort(key=lambda c: (-c["size"], c["label"], c["examples"][0]))
    return clusters[:limit]


def fallback_messages(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> list[tuple[str, int]]:
    """``(masked text, times)`` of the member messages that got a fallback, most frequent first."""
    start, end = _range(date_from, date_to)
    count = func.count(AT.id)
    stmt = (
        _turns(start, end, tier, segment, AT.text_masked, count)
        .where(AT.fallback.is_(True))
        .group_by(AT.text_masked)
        .order_by(count.desc(), AT.text_masked)
        .limit(MAX_TEXTS * 2)
    )
    return [(str(text or ""), int(n)) for text, n in session.execute(stmt)]


def unrecognized(
    session: Session,
    date_from: date | str,
    date_to: date | str,
    tier: str | None = None,
    segment: str | None = None,
    *,
    limit: int = 10,
) -> dict[str, Any]:
    """``{"fallback_messages": n, "clusters": [...]}`` for one filter (see :func:`cluster_messages`)."""
    rows = fallback_messages(session, date_from, date_to, tier, segment)
    return {"fallback_messages": sum(n for _, n in rows), "clusters": cluster_messages(rows, limit=limit)}
