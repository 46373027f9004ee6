"""Top unrecognized messages: fallback turns grouped by similarity, so they can become training data.

Features are jieba word tokens and character 2–3-grams (TF-IDF each, joined and L2-normalised),
so "积分怎么兑换" and "积分如何兑换" land together in Chinese and "where is my parcel" /
"where's my parcel" in English. K-means (fixed seed) groups them; the number of clusters is
chosen by the data: candidates between 2 and about the square root of the number of distinct
messages, the one with the best cosine silhouette wins. Texts are masked again before they are
returned (they are stored masked; masking twice changes nothing).

The dashboard does not cluster per request: :class:`ClusterIndex` fits one :class:`ClusterModel` on
every fallback message stored (the :data:`MAX_TEXTS` most frequent distinct texts are clustered,
every other text joins its nearest cluster), keyed on the fallback turns (their count and last
id), so it is refitted only when the pipeline added some (the analytics runner does that right
after the run). A filter's clusters are then the model's clusters restricted to the filter's
messages: one query and dictionary look-ups, with labels that stay the same across filters.

jieba and scikit-learn are imported when clustering runs, never at import.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


def _features(texts: Sequence[str]) -> tuple[Any, list[str], Any, list[Any]]:
    """(matrix L2-normalised, word vocabulary, word block, fitted vectorizers) of ``texts``."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    blocks = []
    vectorizers: list[Any] = []
    words: Any = None
    vocabulary: list[str] = []
    try:
        word_vectorizer = TfidfVectorizer(analyzer=_tokens, sublinear_tf=True)
        words = word_vectorizer.fit_transform(texts)
        vocabulary = list(word_vectorizer.get_feature_names_out())
        blocks.append(words)
        vectorizers.append(word_vectorizer)
    except ValueError:  # no word at all (only punctuation or numbers)
        words = None
    try:
        char_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True)
        blocks.append(char_vectorizer.fit_transform(texts))
        vectorizers.append(char_vectorizer)
    except ValueError:
        pass
    if not blocks:
        return csr_matrix((len(texts), 1)), [], None, []
    return normalize(hstack(blocks).tocsr()), vocabulary, words, vectorizers


def _transform(vectorizers: list[Any], texts: Sequence[str]) -> Any:
    """``texts`` in the feature space of fitted ``vectorizers`` (L2-normalised rows)."""
    from scipy.sparse import hstack
    from sklearn.preprocessing import normalize

    return normalize(hstack([v.transform(texts) for v in vectorizers]).tocsr())


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


def _counted(messages: Iterable[str] | Iterable[tuple[str, int]]) -> tuple[Counter[str], dict[str, str]]:
    """(count per normalised text, how each normalised text is shown) of non-blank messages."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for item in messages:
        text, count = (item, 1) if isinstance(item, str) else item
        key = _normalize(text or "")
        if key and count > 0:
            counts[key] += int(count)
            shown.setdefault(key, _SPACES.sub(" ", text).strip())
    return counts, shown


@dataclass
class ClusterModel:
    """Clusters fitted on a set of messages; any text can be placed in one (:meth:`cluster_of`)."""

    key: Any = None  # what the model was fitted on (see :func:`fallback_key`)
    labels: list[str] = field(default_factory=list)  # per cluster, unmasked top terms
    of_text: dict[str, int] = field(default_factory=dict)  # normalised text -> cluster
    centroids: Any = None  # (clusters x features), rows L2-normalised
    vectorizers: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def fit(cls, messages: Iterable[str] | Iterable[tuple[str, int]], *, seed: int = SEED, key: Any = None) -> "ClusterModel":
        """Cluster the :data:`MAX_TEXTS` most frequent distinct texts; place every other one too."""
        counts, _ = _counted(messages)
        model = cls(key=key)
        if not counts:
            return model
        # The most frequent distinct texts, in a fixed order (so the result does not depend on input order).
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        texts = [text for text, _ in ranked[:MAX_TEXTS]]
        weights = [n for _, n in ranked[:MAX_TEXTS]]
        _quiet_jieba()
        matrix, vocabulary, words, model.vectorizers = _features(texts)
        assigned = _assign(matrix, weights, seed)
        groups: dict[int, list[int]] = {}
        for index, label in enumerate(assigned):
            groups.setdefault(label, []).append(index)  # indices ascend: most frequent text first
        rows = []
        for number, members in enumerate(groups.values()):
            model.labels.append(_label(members, words, vocabulary, texts, weights))
            for i in members:
                model.of_text[texts[i]] = number
            rows.append(members)
        if model.vectorizers:
            import numpy as np
            from scipy.sparse import csr_matrix
            from sklearn.preprocessing import normalize

            centroids = np.vstack([np.asarray(matrix[members].mean(axis=0)) for members in rows])
            model.centroids = csr_matrix(normalize(centroids))
        model._place([text for text, _ in ranked[MAX_TEXTS:]])
        return model

    def _place(self, texts: Sequence[str]) -> None:
        """Put ``texts`` (normalised, not fitted) in their nearest cluster (cluster 0 without features)."""
        if not texts or not self.labels:
            return
        if self.centroids is None:
            self.of_text.update((text, 0) for text in texts)
            return
        similarity = (_transform(self.vectorizers, texts) @ self.centroids.T).toarray()
        for text, row in zip(texts, similarity):
            self.of_text[text] = int(row.argmax())

    def clusters(self, messages: Iterable[str] | Iterable[tuple[str, int]], *, limit: int = 10,
                 names: Iterable[str | None] = ()) -> list[Cluster]:
        """The ``limit`` biggest clusters among ``messages`` (sizes and examples from them), biggest first."""
        counts, shown = _counted(messages)
        if not counts or limit < 1 or not self.labels:
            return []
        with self._lock:  # texts the model has not seen (added after the fit): placed once
            self._place(sorted(text for text in counts if text not in self.of_text))
        members: dict[int, list[str]] = {}
        for text, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            members.setdefault(self.of_text[text], []).append(text)
        name_list = list(names)
        found = [
            Cluster(
                label=mask_text(self.labels[number], names=name_list),
                size=sum(counts[t] for t in texts),
                examples=[mask_text(shown[t], names=name_list) for t in texts[:EXAMPLES]],
            )
            for number, texts in members.items()
        ]
        found.sort(key=lambda c: (-c["size"], c["label"], c["examples"][0]))
        return found[:limit]


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
    messages = list(messages)
    return ClusterModel.fit(messages, seed=seed).clusters(messages, limit=limit, names=names)


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


def all_fallback_messages(session: Session) -> list[tuple[str, int]]:
    """``(masked text, times)`` of every member message that got a fallback (what a model is fitted on)."""
    count = func.count(AT.id)
    stmt = select(AT.text_masked, count).where(AT.fallback.is_(True)).group_by(AT.text_masked)
    return [(str(text or ""), int(n)) for text, n in session.execute(stmt)]


def fallback_key(session: Session) -> tuple[int, int]:
    """(count, last id) of the fallback turns: changes whenever the pipeline adds or marks one."""
    n, last = session.execute(select(func.count(AT.id), func.max(AT.id)).where(AT.fallback.is_(True))).one()
    return int(n or 0), int(last or 0)


class ClusterIndex:
    """The current :class:`ClusterModel` of a database, refitted only when its fallback turns change."""

    def __init__(self, *, seed: int = SEED) -> None:
        self.seed = seed
        self._model: ClusterModel | None = None
        self._fit_lock = threading.Lock()

    def model(self, session: Session) -> ClusterModel:
        """The model for the fallback turns stored now (fits it if they changed since the last fit)."""
        key = fallback_key(session)
        model = self._model
        if model is not None and model.key == key:
            return model
        with self._fit_lock:  # one fit at a time; a caller that waited finds it done
            model = self._model
            if model is None or model.key != key:
                model = self._model = ClusterModel.fit(all_fallback_messages(session), seed=self.seed, key=key)
        return model

    def refresh(self, session: Session) -> bool:
        """Fit now if the fallback turns changed (after a pipeline run); True if it fitted."""
        before = self._model
        return self.model(session) is not before

    def unrecognized(
        self,
        session: Session,
        date_from: date | str,
        date_to: date | str,
        tier: str | None = None,
        segment: str | None = None,
        *,
        limit: int = 10,
    ) -> dict[str, Any]:
        """``{"fallback_messages": n, "clusters": [...]}`` for one filter."""
        rows = fallback_messages(session, date_from, date_to, tier, segment)
        if not rows:
            return {"fallback_messages": 0, "clusters": []}
        return {"fallback_messages": sum(n for _, n in rows),
                "clusters": self.model(session).clusters(rows, limit=limit)}


def unrecognized(
    session: Session,
    date_from: date | str,
    date_to: date | str,
    tier: str | None = None,
    segment: str | None = None,
    *,
    limit: int = 10,
) -> dict[str, Any]:
    """``{"fallback_messages": n, "clusters": [...]}`` for one filter, with a model fitted now."""
    return ClusterIndex().unrecognized(session, date_from, date_to, tier, segment, limit=limit)
