"""Offline evaluation: one scorer for every model (ours and RecBole's top-k lists alike).

Metrics at cut-off k over users with at least one held-out item: Recall@k (hits / held-out items),
NDCG@k (binary relevance, ideal DCG over min(k, held-out) items), HR@k (share of users with a hit) —
the definitions RecBole uses, so its own full-sort figures can be checked against ours —
catalog coverage (share of the catalog recommended to anyone) and intra-list diversity (mean
pairwise dissimilarity inside a list: different category = 1, or 1 - Jaccard of category sets).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np


def _dissimilarity(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


def evaluate_lists(
    recommendations: Mapping[Hashable, Sequence[Hashable]],
    held_out: Mapping[Hashable, Iterable[Hashable]],
    *,
    k: int = 10,
    catalog_size: int | None = None,
    categories_of: Callable[[Hashable], Iterable[Hashable]] | None = None,
) -> dict[str, float]:
    """Score top-k lists against held-out items.

    Args:
        recommendations: user -> ranked items (only the first ``k`` count).
        held_out: user -> relevant items; users with none are skipped, users without a list score 0.
        k: cut-off.
        catalog_size: items in the catalog, for coverage.
        categories_of: item -> its categories (genres), for intra-list diversity.

    Returns:
        ``{"users", "recall", "ndcg", "hr", "coverage", "ild"}`` (coverage/ild NaN when not computable).
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs, hits, ilds = [], [], [], []
    shown: set[Hashable] = set()
    category_cache: dict[Hashable, frozenset] = {}
    for user, relevant in held_out.items():
        relevant = set(relevant)
        if not relevant:
            continue
        ranked = list(recommendations.get(user, ()))[:k]
        shown.update(ranked)
        gains = np.array([1.0 if item in relevant else 0.0 for item in ranked])
        n_hits = gains.sum()
        ideal = discounts[: min(k, len(relevant))].sum()
        recalls.append(n_hits / len(relevant))
        ndcgs.append(float((gains * discounts[: len(gains)]).sum() / ideal))
        hits.append(1.0 if n_hits > 0 else 0.0)
        if categories_of is not None and len(ranked) > 1:
            cats = []
            for item in ranked:
                if item not in category_cache:
                    category_cache[item] = frozenset(categories_of(item))
                cats.append(category_cache[item])
            ilds.append(float(np.mean([_dissimilarity(a, b) for a, b in combinations(cats, 2)])))
    n = len(recalls)
    return {
        "users": n,
        "recall": float(np.mean(recalls)) if n else float("nan"),
        "ndcg": float(np.mean(ndcgs)) if n else float("nan"),
        "hr": float(np.mean(hits)) if n else float("nan"),
        "coverage": len(shown) / catalog_size if catalog_size else float("nan"),
        "ild": float(np.mean(ilds)) if ilds else float("nan"),
    }
