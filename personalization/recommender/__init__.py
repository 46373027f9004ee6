"""Recommender engine: generic models over ``(user_id, item_id, weight, timestamp)`` interactions.

- :class:`Recommender` — the interface (``fit``, ``recommend``, ``save``, ``load``);
- :class:`PopularityRecommender` — best sellers / trending, the baseline;
- :class:`HybridRecommender` — the product's model (CF + content + recency + trending) with
  :meth:`~HybridRecommender.explain` and :meth:`~HybridRecommender.recommend_explained`;
- :func:`diversify` — per-category cap for the shop layer;
- :func:`evaluate_lists` — the offline evaluator the benchmarks use.

Business rules (stock, consent, price) belong to the shop layer, not here.
"""

from personalization.recommender.base import Recommender
from personalization.recommender.diversity import diversify
from personalization.recommender.evaluation import evaluate_lists
from personalization.recommender.hybrid import (
    BECAUSE_ITEM,
    NEW_ITEM,
    POPULAR,
    SIMILAR_MEMBERS,
    Explanation,
    HybridRecommender,
    reason_text,
)
from personalization.recommender.popularity import PopularityRecommender

__all__ = [
    "BECAUSE_ITEM",
    "NEW_ITEM",
    "POPULAR",
    "SIMILAR_MEMBERS",
    "Explanation",
    "HybridRecommender",
    "PopularityRecommender",
    "Recommender",
    "diversify",
    "evaluate_lists",
    "reason_text",
]
