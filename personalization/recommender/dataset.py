"""Interactions in, sparse matrices out: the one place that maps external ids to matrix indices.

An interaction is ``(user_id, item_id, weight, timestamp)``. Ids are strings or ints (kept as
given); ``weight`` is a positive number (a purchase might weigh 1, a page view 0.2); ``timestamp``
is a ``datetime`` or seconds since the epoch. Several interactions of one user with one item add up.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import scipy.sparse as sp

ItemId = Hashable
UserId = Hashable
Interaction = tuple[UserId, ItemId, float, "datetime | float | int"]

SECONDS_PER_DAY = 86_400.0


def to_seconds(timestamp: object) -> float:
    """Seconds since the epoch of a ``datetime`` (naive = UTC) or a number."""
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=timezone.utc)
        return timestamp.timestamp()
    if isinstance(timestamp, (int, float, np.integer, np.floating)) and not isinstance(timestamp, bool):
        value = float(timestamp)
        if math.isfinite(value):
            return value
    raise ValueError(f"timestamp must be a datetime or seconds since the epoch, got {timestamp!r}")


def check_id(value: object, what: str) -> Hashable:
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
        raise ValueError(f"{what} must be a string or an int, got {value!r}")
    return int(value) if isinstance(value, np.integer) else value


@dataclass
class InteractionData:
    """Users, items and their interactions as index arrays (one row per interaction)."""

    user_ids: list[UserId]
    item_ids: list[ItemId]
    users: np.ndarray  # int32 index into user_ids
    items: np.ndarray  # int32 index into item_ids
    weights: np.ndarray  # float64
    seconds: np.ndarray  # float64, seconds since the epoch

    @classmethod
    def build(cls, interactions: Iterable[Interaction], extra_items: Iterable[ItemId] = ()) -> "InteractionData":
        """Validate and index interactions; ``extra_items`` (e.g. items known only by their features) join the catalog.

        Raises:
            ValueError: no interactions, or a malformed one (the message says which and why).
        """
        if interactions is None or isinstance(interactions, (str, bytes, Mapping)):
            raise ValueError("interactions must be an iterable of (user_id, item_id, weight, timestamp) tuples")
        user_index: dict[UserId, int] = {}
        item_index: dict[ItemId, int] = {}
        users: list[int] = []
        items: list[int] = []
        weights: list[float] = []
        seconds: list[float] = []
        for n, row in enumerate(interactions):
            try:
                user, item, weight, timestamp = row
            except (TypeError, ValueError):
                raise ValueError(
                    f"interaction #{n} must be a (user_id, item_id, weight, timestamp) tuple, got {row!r}"
                ) from None
            u = user_index.get(user)
            if u is None:
                u = user_index.setdefault(check_id(user, "user_id"), len(user_index))
            i = item_index.get(item)
            if i is None:
                i = item_index.setdefault(check_id(item, "item_id"), len(item_index))
            try:
                w = float(weight)
            except (TypeError, ValueError):
                w = float("nan")
            if not (w > 0 and math.isfinite(w)):
                raise ValueError(f"interaction #{n}: weight must be a positive number, got {weight!r}")
            users.append(u)
            items.append(i)
            weights.append(w)
            seconds.append(to_seconds(timestamp))
        if not users:
            raise ValueError("no interactions: fit needs at least one (user_id, item_id, weight, timestamp) tuple")
        for item in extra_items:
            if item not in item_index:
                item_index[check_id(item, "item_id")] = len(item_index)
        return cls(
            user_ids=list(user_index),
            item_ids=list(item_index),
            users=np.asarray(users, dtype=np.int32),
            items=np.asarray(items, dtype=np.int32),
            weights=np.asarray(weights, dtype=np.float64),
            seconds=np.asarray(seconds, dtype=np.float64),
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def last_seconds(self) -> float:
        return float(self.seconds.max())

    def decay(self, half_life_days: float | None) -> np.ndarray:
        """Per-interaction factor 0.5 ** (age / half-life), age counted back from the latest interaction."""
        if not half_life_days:
            return np.ones_like(self.weights)
        age_days = (self.last_seconds - self.seconds) / SECONDS_PER_DAY
        return np.power(0.5, age_days / float(half_life_days))

    def newer_count(self) -> np.ndarray:
        """Per interaction: how many later interactions the same user has (0 for their latest)."""
        order = np.lexsort((np.arange(self.users.size), self.seconds, self.users))
        sorted_users = self.users[order]
        ends = np.cumsum(np.bincount(sorted_users, minlength=self.n_users))[sorted_users]
        rank = np.empty(self.users.size, dtype=np.float64)
        rank[order] = ends - 1 - np.arange(self.users.size)
        return rank

    def order_decay(self, half_life_events: float | None) -> np.ndarray:
        """Per-interaction factor 0.5 ** (newer interactions of the same user / half-life)."""
        if not half_life_events:
            return np.ones_like(self.weights)
        return np.power(0.5, self.newer_count() / float(half_life_events))

    def matrix(self, values: np.ndarray | None = None) -> sp.csr_matrix:
        """users x items CSR matrix of summed ``values`` (default: the weights)."""
        data = self.weights if values is None else values
        m = sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items), dtype=np.float64)
        m.sum_duplicates()
        return m

    def item_totals(self, values: np.ndarray | None = None) -> np.ndarray:
        data = self.weights if values is None else values
        return np.bincount(self.items, weights=data, minlength=self.n_items)
