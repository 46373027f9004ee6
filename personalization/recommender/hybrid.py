"""The product's recommender: collaborative filtering + content similarity + recency + trending.

score(user, item) = w_cf * CF + w_content * CONTENT + w_pop * POP, where

- CF is ``profile @ W`` with ``W`` from EASE^R (catalogs up to ``max_ease_items``) or a pruned
  cosine item-kNN (larger catalogs; memory stays ~items x neighbours);
- CONTENT is the cosine between an item's TF-IDF vector (jieba-tokenized text, category, tags)
  and the user's profile in that space, so brand-new items (no interactions) can be recommended;
- POP is trending popularity (interaction weight decayed with ``trending_half_life_days``);
- the user's profile weighs their own interactions by recency: age (``half_life_days``) and
  how many interactions came after (``half_life_events``).

CF and CONTENT are scaled per user to a maximum of 1 so the weights mean the same for every user;
POP is log-scaled to [0, 1]. Unknown users get POP alone. The weights are tuned on a validation
split (``bench/recs.py``), never on the test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from personalization.recommender.base import Recommender, pack_csr, unpack_csr
from personalization.recommender.content import CONTENT_FEATURES, item_documents, tfidf_matrix
from personalization.recommender.dataset import InteractionData, ItemId, UserId
from personalization.recommender.similarity import cosine_knn, ease

COMPONENTS = ("collaborative", "content", "popularity")

# Reason codes of an explanation.
BECAUSE_ITEM = "because_item"  # 因为你买过<title>
SIMILAR_MEMBERS = "similar_members"  # 同类会员喜欢
NEW_ITEM = "new"  # 新品
POPULAR = "popular"  # 热销


@dataclass(frozen=True)
class Explanation:
    """Why an item is recommended to a user."""

    item_id: ItemId
    score: float
    reason: str  # because_item / similar_members / new / popular
    component: str  # the component that contributed most: collaborative / content / popularity
    contributions: dict[str, float] = field(default_factory=dict)  # weighted, they sum to the score
    because_item: ItemId | None = None  # the user's own item most responsible for the recommendation


def reason_text(
    explanation: Explanation, title_of: Callable[[ItemId], str] | None = None
) -> tuple[str, str]:
    """Chinese and English reason lines, e.g. ("因为你买过「X」", "Because you bought X")."""
    if explanation.reason == BECAUSE_ITEM and explanation.because_item is not None:
        title = title_of(explanation.because_item) if title_of else str(explanation.because_item)
        return (f"因为你买过「{title}」", f"Because you bought {title}")
    if explanation.reason == SIMILAR_MEMBERS:
        return ("同类会员喜欢", "Members like you liked this")
    if explanation.reason == NEW_ITEM:
        return ("新品", "New arrival")
    return ("热销", "Best seller")


def _scale_rows(m: np.ndarray) -> np.ndarray:
    """Divide each row by its maximum when that is positive (in place)."""
    top = m.max(axis=1, keepdims=True) if m.shape[1] else np.zeros((m.shape[0], 1))
    np.divide(m, top, out=m, where=top > 0)
    return m


class HybridRecommender(Recommender):
    """Collaborative filtering + content similarity + recency-weighted profiles + trending.

    Args:
        cf: "ease", "knn", "auto" (EASE^R up to ``max_ease_items`` items, kNN above) or "none".
        ease_l2: EASE^R ridge strength.
        knn_neighbours: neighbours kept per item by the kNN model.
        knn_shrink: shrinkage added to the cosine denominator (damps items with little support).
        max_ease_items: catalog size above which "auto" switches to kNN.
        half_life_days: a user's interaction counts half as much this many days before the
            data's latest instant; ``None`` for no time decay.
        half_life_events: ... and half as much again for every this many later interactions of
            the same user (what they did last says most about what they want next); ``None`` for none.
        trending_half_life_days: same for popularity; ``None`` for all-time popularity.
        w_cf, w_content, w_pop: blend weights.
        w_new: extra content weight for items nobody has interacted with yet (新品), which CF and
            popularity cannot score.
    """

    item_feature_names = CONTENT_FEATURES

    def __init__(
        self,
        cf: str = "auto",
        ease_l2: float = 300.0,
        knn_neighbours: int = 100,
        knn_shrink: float = 10.0,
        max_ease_items: int = 3000,
        half_life_days: float | None = 30.0,
        half_life_events: float | None = 10.0,
        trending_half_life_days: float | None = 60.0,
        w_cf: float = 1.0,
        w_content: float = 0.1,
        w_pop: float = 0.05,
        w_new: float = 0.25,
    ) -> None:
        self.cf = cf
        self.ease_l2 = ease_l2
        self.knn_neighbours = knn_neighbours
        self.knn_shrink = knn_shrink
        self.max_ease_items = max_ease_items
        self.half_life_days = half_life_days
        self.half_life_events = half_life_events
        self.trending_half_life_days = trending_half_life_days
        self.w_cf = w_cf
        self.w_content = w_content
        self.w_pop = w_pop
        self.w_new = w_new

    # ---- fit -----------------------------------------------------------------------------------

    def _cf_kind(self, n_items: int) -> str:
        if self.cf not in ("auto", "ease", "knn", "none"):
            raise ValueError(f"cf must be 'auto', 'ease', 'knn' or 'none', got {self.cf!r}")
        if self.cf == "auto":
            return "ease" if n_items <= self.max_ease_items else "knn"
        return self.cf

    def _fit(self, data: InteractionData, features: dict[str, dict[ItemId, Any]]) -> None:
        kind = self._cf_kind(data.n_items)
        # log2(1 + summed weight): repeat purchases count, but not linearly.
        X = data.matrix()
        X.data = np.log2(1.0 + X.data)
        profile = data.matrix(data.weights * data.decay(self.half_life_days) * data.order_decay(self.half_life_events))
        profile.data = np.log2(1.0 + profile.data)
        self.profile_: sp.csr_matrix = profile.astype(np.float32)
        self.cf_kind_ = kind
        self.cf_dense_: np.ndarray | None = None
        self.cf_sparse_: sp.csr_matrix | None = None
        if kind == "ease":
            self.cf_dense_ = ease(X, self.ease_l2)
        elif kind == "knn":
            self.cf_sparse_ = cosine_knn(X, self.knn_neighbours, self.knn_shrink)
        self.content_: sp.csr_matrix = tfidf_matrix(item_documents(self.item_ids_, features))
        trending = data.item_totals(data.weights * data.decay(self.trending_half_life_days))
        self.popularity_ = self._scaled_popularity(trending)
        self.support_ = np.bincount(data.items, minlength=data.n_items).astype(np.int64)

    @staticmethod
    def _scaled_popularity(totals: np.ndarray) -> np.ndarray:
        logged = np.log1p(totals)
        top = logged.max() if logged.size else 0.0
        return (logged / top if top > 0 else logged).astype(np.float64)

    # ---- scoring -------------------------------------------------------------------------------

    def _raw_components(self, profiles: sp.csr_matrix) -> dict[str, np.ndarray]:
        """Unscaled CF and content scores for a batch of profile rows (dense, batch x items)."""
        batch, n = profiles.shape
        if self.cf_dense_ is not None:
            cf = np.asarray(profiles @ self.cf_dense_, dtype=np.float64)
        elif self.cf_sparse_ is not None:
            cf = (profiles @ self.cf_sparse_).toarray().astype(np.float64)
        else:
            cf = np.zeros((batch, n))
        if self.content_.shape[1]:
            user_terms = profiles @ self.content_
            content = (user_terms @ self.content_.T).toarray().astype(np.float64)
        else:
            content = np.zeros((batch, n))
        return {"collaborative": cf, "content": content}

    def component_scores(self, user_ids: list[UserId]) -> dict[str, np.ndarray]:
        """Each component's scaled scores (users x items) for known users, for tuning and analysis."""
        self._check_fitted()
        rows = [self.user_index_[u] for u in user_ids]
        raw = self._raw_components(self.profile_[rows])
        return {
            "collaborative": _scale_rows(raw["collaborative"]),
            "content": _scale_rows(raw["content"]),
            "popularity": np.broadcast_to(self.popularity_, raw["content"].shape),
            "new": _scale_rows(raw["content"]) * (self.support_ == 0),
        }

    def _weights(self) -> dict[str, float]:
        return {"collaborative": self.w_cf, "content": self.w_content, "popularity": self.w_pop}

    def _content_weights(self) -> np.ndarray:
        """Per-item weight of the content score: more for items with no interactions yet."""
        return self.w_content + self.w_new * (self.support_ == 0)

    def _scores(self, user: int) -> np.ndarray:
        raw = self._raw_components(self.profile_[user])
        weights = self._weights()
        score = weights["popularity"] * self.popularity_
        if weights["collaborative"]:
            score = score + weights["collaborative"] * _scale_rows(raw["collaborative"])[0]
        if self.w_content or self.w_new:
            score = score + self._content_weights() * _scale_rows(raw["content"])[0]
        return score

    def _fallback_scores(self) -> np.ndarray:
        return self.popularity_

    # ---- explanations --------------------------------------------------------------------------

    def explain(self, user_id: UserId, item_id: ItemId) -> Explanation:
        """Why ``item_id`` scores what it does for ``user_id`` (also for items not in the top k)."""
        self._check_fitted()
        if item_id not in self.item_index_:
            raise KeyError(f"unknown item {item_id!r}")
        return self._explain_many(user_id, [self.item_index_[item_id]])[0]

    def recommend_explained(self, user_id: UserId, k: int = 10, exclude_seen: bool = True) -> list[Explanation]:
        """Like :meth:`recommend`, with an :class:`Explanation` per item."""
        k = self._check_k(k)
        if k == 0:
            self._check_fitted()
            return []
        best, _ = self._ranked(user_id, k, exclude_seen)
        return self._explain_many(user_id, list(best))

    def _explain_many(self, user_id: UserId, items: list[int]) -> list[Explanation]:
        u = self.user_index_.get(user_id)
        weights = self._weights()
        out: list[Explanation] = []
        if u is None:
            for i in items:
                pop = float(self.popularity_[i])
                reason = NEW_ITEM if self.support_[i] == 0 else POPULAR
                out.append(Explanation(self.item_ids_[i], pop, reason, "popularity", {"popularity": pop}))
            return out
        profile = self.profile_[u]
        raw = self._raw_components(profile)
        cf_top = raw["collaborative"].max()
        content_top = raw["content"].max()
        owned = profile.indices
        strength = profile.data.astype(np.float64)
        for i in items:
            cf = raw["collaborative"][0, i] / cf_top if cf_top > 0 else raw["collaborative"][0, i]
            content = raw["content"][0, i] / content_top if content_top > 0 else raw["content"][0, i]
            parts = {
                "collaborative": float(weights["collaborative"] * cf),
                "content": float(self._content_weights()[i] * content),
                "popularity": float(weights["popularity"] * self.popularity_[i]),
            }
            component = max(COMPONENTS, key=lambda c: (parts[c], -COMPONENTS.index(c)))
            # Each owned item's share of the personal part of the score (the scores are linear in the profile).
            because: ItemId | None = None
            cf_share = 0.0
            if owned.size:
                per_item_cf = strength * self._cf_similarity(owned, i)
                per_item_content = strength * self._content_similarity(owned, i)
                cf_scale = weights["collaborative"] / cf_top if cf_top > 0 else 0.0
                content_scale = self._content_weights()[i] / content_top if content_top > 0 else 0.0
                per_item = cf_scale * per_item_cf + content_scale * per_item_content
                if per_item.max() > 0:
                    best = int(np.argmax(per_item))
                    because = self.item_ids_[owned[best]]
                    positive_cf = per_item_cf[per_item_cf > 0].sum()
                    cf_share = per_item_cf[best] / positive_cf if positive_cf > 0 else 0.0
            if self.support_[i] == 0:
                reason = NEW_ITEM if because is None or component == "popularity" else BECAUSE_ITEM
            elif component == "popularity" or because is None:
                reason = POPULAR if component == "popularity" else SIMILAR_MEMBERS
            elif component == "content" or cf_share >= 0.25:
                reason = BECAUSE_ITEM
            else:
                reason = SIMILAR_MEMBERS
            score = float(sum(parts.values()))
            out.append(Explanation(self.item_ids_[i], score, reason, component, parts, because))
        return out

    def _cf_similarity(self, owned: np.ndarray, item: int) -> np.ndarray:
        if self.cf_dense_ is not None:
            return self.cf_dense_[owned, item].astype(np.float64)
        if self.cf_sparse_ is not None:
            return self.cf_sparse_[owned][:, [item]].toarray().ravel().astype(np.float64)
        return np.zeros(owned.size)

    def _content_similarity(self, owned: np.ndarray, item: int) -> np.ndarray:
        if not self.content_.shape[1]:
            return np.zeros(owned.size)
        return (self.content_[owned] @ self.content_[item].T).toarray().ravel().astype(np.float64)

    # ---- persistence ---------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        arrays = {
            "cf_kind": np.asarray(self.cf_kind_),
            "popularity": self.popularity_,
            "support": self.support_,
            **pack_csr("profile", self.profile_),
            **pack_csr("content", self.content_),
        }
        if self.cf_dense_ is not None:
            arrays["cf_dense"] = self.cf_dense_
        if self.cf_sparse_ is not None:
            arrays.update(pack_csr("cf_sparse", self.cf_sparse_))
        return arrays

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.cf_kind_ = str(arrays["cf_kind"])
        self.popularity_ = arrays["popularity"]
        self.support_ = arrays["support"]
        self.profile_ = unpack_csr("profile", arrays)
        self.content_ = unpack_csr("content", arrays)
        self.cf_dense_ = arrays.get("cf_dense")
        self.cf_sparse_ = unpack_csr("cf_sparse", arrays) if "cf_sparse.data" in arrays else None
