"""The one recommender interface: ``fit(interactions, **item_features) -> self``, ``recommend``, ``save``/``load``.

Models keep constructor arguments as plain attributes (no work in ``__init__``); learned state
ends with ``_``. ``save`` writes a single ``.npz`` file of numpy arrays plus a JSON header (model
name, parameters, ids) and never pickles; ``Recommender.load`` reads any model back.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp

from personalization.recommender.dataset import Interaction, InteractionData, ItemId, UserId

FORMAT_VERSION = 1
_REGISTRY: dict[str, type["Recommender"]] = {}

R = TypeVar("R", bound="Recommender")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first; ties go to the lower index."""
    candidates = np.flatnonzero(np.isfinite(scores))
    if k <= 0 or candidates.size == 0:
        return np.empty(0, dtype=np.int64)
    if candidates.size > k:
        # Keep every candidate tied with the k-th best, then order exactly.
        kth = np.partition(scores[candidates], candidates.size - k)[candidates.size - k]
        candidates = candidates[scores[candidates] >= kth]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]


def pack_csr(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = sp.csr_matrix(matrix)
    return {
        f"{prefix}.data": m.data,
        f"{prefix}.indices": m.indices,
        f"{prefix}.indptr": m.indptr,
        f"{prefix}.shape": np.asarray(m.shape, dtype=np.int64),
    }


def unpack_csr(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in arrays[f"{prefix}.shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}.data"], arrays[f"{prefix}.indices"], arrays[f"{prefix}.indptr"]), shape=shape
    )


class Recommender(ABC):
    """Base class of every model.

    Subclasses implement ``_fit(data, features)``, ``_scores(user_index)`` (a dense score per item)
    and ``_state()``/``_restore()`` for persistence; this class does validation, id mapping,
    seen-item exclusion, the non-personal fallback and the file format.
    """

    #: keyword arguments ``fit`` accepts as item features (others are refused with a clear error).
    item_feature_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls):
            _REGISTRY[cls.__name__] = cls

    # ---- parameters ---------------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments and their current values."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ---- fit -------------------------------------------------------------------------------

    def fit(self: R, interactions: Iterable[Interaction], **item_features: Any) -> R:
        """Learn from ``(user_id, item_id, weight, timestamp)`` tuples.

        Args:
            interactions: iterable of tuples; weight > 0; timestamp a datetime or epoch seconds.
            **item_features: optional per-item features, by name (see ``item_feature_names``);
                items that appear only here join the catalog (brand-new products).

        Returns:
            self.

        Raises:
            ValueError: no interactions, a malformed interaction or an unknown item feature.
        """
        unknown = sorted(set(item_features) - set(self.item_feature_names))
        if unknown:
            accepted = ", ".join(self.item_feature_names) or "none"
            raise ValueError(f"{type(self).__name__} does not take item features {unknown} (accepted: {accepted})")
        features = {name: dict(value or {}) for name, value in item_features.items()}
        extra: list[ItemId] = []
        for mapping in features.values():
            extra.extend(mapping)
        data = InteractionData.build(interactions, extra_items=extra)
        self.user_ids_: list[UserId] = data.user_ids
        self.item_ids_: list[ItemId] = data.item_ids
        self._index()
        self.seen_: sp.csr_matrix = data.matrix(np.ones_like(data.weights)).astype(np.float32)
        self.seen_.data[:] = 1.0
        self._fit(data, features)
        return self

    def _index(self) -> None:
        self.user_index_ = {u: n for n, u in enumerate(self.user_ids_)}
        self.item_index_ = {i: n for n, i in enumerate(self.item_ids_)}

    @abstractmethod
    def _fit(self, data: InteractionData, features: dict[str, dict[ItemId, Any]]) -> None: ...

    @abstractmethod
    def _scores(self, user: int) -> np.ndarray:
        """Dense float scores over all items for a known user (index)."""

    @abstractmethod
    def _fallback_scores(self) -> np.ndarray:
        """Dense non-personal scores over all items (unknown users)."""

    # ---- recommend -----------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load() first")

    @staticmethod
    def _check_k(k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ValueError(f"k must be an int, got {k!r}")
        if k < 0:
            raise ValueError(f"k must be 0 or more, got {k}")
        return int(k)

    def knows(self, user_id: UserId) -> bool:
        """Whether the user had interactions in the training data."""
        self._check_fitted()
        return user_id in self.user_index_

    def seen_items(self, user_id: UserId) -> list[ItemId]:
        """Items the user interacted with in the training data."""
        self._check_fitted()
        u = self.user_index_.get(user_id)
        if u is None:
            return []
        return [self.item_ids_[i] for i in self.seen_.indices[self.seen_.indptr[u] : self.seen_.indptr[u + 1]]]

    def _ranked(self, user_id: UserId, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        u = self.user_index_.get(user_id)
        if u is None:
            scores = self._fallback_scores().astype(np.float64, copy=True)
        else:
            scores = np.asarray(self._scores(u), dtype=np.float64)
            if exclude_seen:
                scores = scores.copy()
                scores[self.seen_.indices[self.seen_.indptr[u] : self.seen_.indptr[u + 1]]] = -np.inf
        return top_k(scores, k), scores

    def recommend(self, user_id: UserId, k: int = 10, exclude_seen: bool = True) -> list[tuple[ItemId, float]]:
        """The ``k`` best items for the user as ``(item_id, score)``, best first.

        An unknown user (no training interactions) gets the model's non-personal list.
        ``exclude_seen`` drops items the user interacted with in the training data.
        """
        k = self._check_k(k)
        if k == 0:
            self._check_fitted()
            return []
        best, scores = self._ranked(user_id, k, exclude_seen)
        return [(self.item_ids_[i], float(scores[i])) for i in best]

    # ---- persistence ---------------------------------------------------------------------------

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (besides ids and the seen matrix)."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None: ...

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (one ``.npz`` file: arrays + a JSON header; no pickle)."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": FORMAT_VERSION,
            "model": type(self).__name__,
            "params": self.get_params(),
            "user_ids": self.user_ids_,
            "item_ids": self.item_ids_,
        }
        arrays = {**pack_csr("seen", self.seen_), **self._state()}
        with path.open("wb") as f:
            np.savez_compressed(f, __header__=np.asarray(json.dumps(header, ensure_ascii=False)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        """Read a model written by :meth:`save` (any model when called on ``Recommender``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved recommender at {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            header = json.loads(str(arrays.pop("__header__")))
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"{path} is not a saved recommender: {exc}") from None
        if header.get("format") != FORMAT_VERSION or header.get("model") not in _REGISTRY:
            raise ValueError(f"{path}: unsupported recommender file (model {header.get('model')!r})")
        model_cls = _REGISTRY[header["model"]]
        if not issubclass(model_cls, cls):
            raise ValueError(f"{path} holds a {model_cls.__name__}, not a {cls.__name__}")
        model = model_cls(**header["params"])
        model.user_ids_ = header["user_ids"]
        model.item_ids_ = header["item_ids"]
        model._index()
        model.seen_ = unpack_csr("seen", arrays)
        model._restore(arrays)
        return model


def ids_of(model: Recommender, items: Iterable[Hashable]) -> np.ndarray:
    """Matrix indices of known items (unknown ones skipped)."""
    index = model.item_index_
    return np.asarray([index[i] for i in items if i in index], dtype=np.int64)
