"""Popularity baseline: the same best-seller (optionally trending) list for everyone."""

from __future__ import annotations

from typing import Any

import numpy as np

from personalization.recommender.base import Recommender
from personalization.recommender.dataset import InteractionData, ItemId


class PopularityRecommender(Recommender):
    """Items by total interaction weight; with ``half_life_days`` recent weight counts more (trending).

    Args:
        half_life_days: weight of an interaction halves every this many days before the latest
            one in the data; ``None`` counts all time equally.
    """

    def __init__(self, half_life_days: float | None = None) -> None:
        self.half_life_days = half_life_days

    def _fit(self, data: InteractionData, features: dict[str, dict[ItemId, Any]]) -> None:
        self.popularity_ = data.item_totals(data.weights * data.decay(self.half_life_days))

    def _scores(self, user: int) -> np.ndarray:
        return self.popularity_

    def _fallback_scores(self) -> np.ndarray:
        return self.popularity_

    def _state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity_ = arrays["popularity"]
