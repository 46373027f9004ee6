"""Re-ranking for variety: a per-category cap over a ranked list."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def diversify(
    ranked: Sequence[tuple[T, float]],
    category_of: Mapping[T, Hashable] | Callable[[T], Hashable],
    max_per_category: int,
    k: int | None = None,
    backfill: bool = True,
) -> list[tuple[T, float]]:
    """Keep the ranking but allow at most ``max_per_category`` items of one category.

    Items over the cap are held back; with ``backfill`` they fill the list (in their original
    order) when too few other items remain to reach ``k``. Items whose category is unknown
    (``None``) are never capped.

    Args:
        ranked: ``(item, score)`` pairs, best first (e.g. ``Recommender.recommend`` output).
        category_of: a mapping or a function from item to category.
        max_per_category: the cap (>= 1).
        k: length of the result (default: ``len(ranked)``).
        backfill: fill up with held-back items when the capped list is short.

    Returns:
        ``(item, score)`` pairs, at most ``k``.
    """
    if max_per_category < 1:
        raise ValueError(f"max_per_category must be at least 1, got {max_per_category}")
    k = len(ranked) if k is None else k
    if k < 0:
        raise ValueError(f"k must be 0 or more, got {k}")
    lookup = category_of if callable(category_of) else category_of.get
    chosen: list[tuple[T, float]] = []
    held: list[tuple[T, float]] = []
    per_category: dict[Hashable, int] = {}
    for entry in ranked:
        if len(chosen) >= k:
            break
        category = lookup(entry[0])
        if category is not None and per_category.get(category, 0) >= max_per_category:
            held.append(entry)
            continue
        if category is not None:
            per_category[category] = per_category.get(category, 0) + 1
        chosen.append(entry)
    if backfill and len(chosen) < k:
        chosen.extend(held[: k - len(chosen)])
    return chosen
