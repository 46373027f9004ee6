"""Member segments: k-means on standardised log RFM + tenure, named by rules on the centroids.

Features per member (all ``log1p``, then standardised over the member base):

- recency: days since the last purchase (never purchased: days since registration),
- frequency: purchases in the last 365 days,
- monetary: yuan spent in the last 365 days,
- tenure: days since registration.

k-means (scikit-learn, ``k = 5``, fixed ``random_state``, members sorted by id) finds the
clusters; the names come from the centroids, not from the cluster numbers, so they are stable
across reruns and row orders. The rules run in this order, each taking one cluster from the rest:

1. 新客 ``new``: the shortest tenure;
2. 沉睡 ``dormant``: the longest recency;
3. 高价值 ``high_value``: the highest monetary;
4. 流失风险 ``at_risk``: the longer recency of the two left;
5. 潜力 ``potential``: the last one.

Same data and ``now`` give the same assignment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

SEGMENT_NAMES: dict[str, tuple[str, str]] = {
    "high_value": ("高价值", "High value"),
    "potential": ("潜力", "Potential"),
    "new": ("新客", "New"),
    "at_risk": ("流失风险", "At risk"),
    "dormant": ("沉睡", "Dormant"),
}
FEATURES = ("recency_days", "frequency", "monetary", "tenure_days")
N_SEGMENTS = len(SEGMENT_NAMES)
RANDOM_STATE = 20261122
MIN_MEMBERS = N_SEGMENTS * 2


@dataclass(frozen=True)
class RfmRecord:
    """One member's raw segmentation features as of one instant."""

    member_id: str
    recency_days: float  # days since the last purchase, or since registration if none
    frequency: int  # purchases in the last 365 days
    monetary: float  # yuan in the last 365 days
    tenure_days: float  # days since registration

    def vector(self) -> list[float]:
        return [
            math.log1p(max(self.recency_days, 0.0)),
            math.log1p(max(self.frequency, 0)),
            math.log1p(max(self.monetary, 0.0)),
            math.log1p(max(self.tenure_days, 0.0)),
        ]


@dataclass(frozen=True)
class SegmentModel:
    """A fitted segmentation: scaler, centroids (standardised) and the name of each cluster."""

    mean_: np.ndarray
    scale_: np.ndarray
    centroids_: np.ndarray
    names_: tuple[str, ...]

    def assign(self, records: Sequence[RfmRecord]) -> list[str]:
        """The segment code of each record (nearest centroid)."""
        if not records:
            return []
        z = (np.array([r.vector() for r in records]) - self.mean_) / self.scale_
        distances = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        return [self.names_[i] for i in distances.argmin(axis=1)]

    def centroid_summary(self) -> dict[str, dict[str, float]]:
        """Each segment's centroid in original units (geometric means: the centroids live in log space)."""
        raw = np.expm1(self.centroids_ * self.scale_ + self.mean_)
        return {
            name: {feature: round(float(value), 1) for feature, value in zip(FEATURES, row, strict=True)}
            for name, row in zip(self.names_, raw, strict=True)
        }


def name_clusters(centroids: np.ndarray) -> tuple[str, ...]:
    """Segment code per cluster from its centroid, by the rules in the module docstring.

    Args:
        centroids: ``(5, 4)`` centroids in any space that keeps each feature's order
            (recency, frequency, monetary, tenure).
    """
    if centroids.shape != (N_SEGMENTS, len(FEATURES)):
        raise ValueError(f"expected {N_SEGMENTS} centroids of {len(FEATURES)} features, got {centroids.shape}")
    recency, _frequency, monetary, tenure = (centroids[:, i] for i in range(len(FEATURES)))
    left = list(range(N_SEGMENTS))
    names: dict[int, str] = {}

    def take(code: str, key: np.ndarray, *, largest: bool) -> None:
        best = max(left, key=lambda i: (key[i] if largest else -key[i], -i))
        names[best] = code
        left.remove(best)

    take("new", tenure, largest=False)
    take("dormant", recency, largest=True)
    take("high_value", monetary, largest=True)
    take("at_risk", recency, largest=True)
    names[left[0]] = "potential"
    return tuple(names[i] for i in range(N_SEGMENTS))


def fit_segments(records: Iterable[RfmRecord], *, random_state: int = RANDOM_STATE) -> SegmentModel:
    """Fit k-means on the member base and name the clusters.

    Records are sorted by member id first, so the input order does not matter.

    Raises:
        ValueError: fewer than ``MIN_MEMBERS`` members (k-means needs a base to cluster).
    """
    from sklearn.cluster import KMeans  # heavy import, only when segmenting
    from threadpoolctl import threadpool_limits

    ordered = sorted(records, key=lambda r: r.member_id)
    if len(ordered) < MIN_MEMBERS:
        raise ValueError(f"segmentation needs at least {MIN_MEMBERS} members, got {len(ordered)}")
    x = np.array([r.vector() for r in ordered], dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    # One thread: 2,000 x 4 points take ~0.1 s; OpenMP threads on a busy machine make it seconds.
    with threadpool_limits(limits=1):
        kmeans = KMeans(n_clusters=N_SEGMENTS, n_init=10, random_state=random_state).fit(z)
    centroids = np.asarray(kmeans.cluster_centers_)
    return SegmentModel(mean_=mean, scale_=scale, centroids_=centroids, names_=name_clusters(centroids))


def segment_label(code: str | None) -> dict[str, str] | None:
    """``{"code", "name_zh", "name_en"}`` for a segment code, None for None."""
    if code is None:
        return None
    name_zh, name_en = SEGMENT_NAMES[code]
    return {"code": code, "name_zh": name_zh, "name_en": name_en}


def summarize(model: SegmentModel, records: Sequence[RfmRecord], assignment: Sequence[str]) -> list[dict[str, Any]]:
    """Per segment: code, names, size, share, centroid (geometric means) and medians of the raw features."""
    centroids = model.centroid_summary()
    total = len(records)
    result: list[dict[str, Any]] = []
    for code in SEGMENT_NAMES:
        members = [r for r, a in zip(records, assignment, strict=True) if a == code]
        medians = {
            feature: round(float(np.median([getattr(r, feature) for r in members])), 1) if members else None
            for feature in FEATURES
        }
        result.append(
            {
                **(segment_label(code) or {}),
                "size": len(members),
                "share": round(len(members) / total, 4) if total else 0.0,
                "centroid": centroids[code],
                "median": medians,
            }
        )
    return result


def compute_segments(*, session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Segment the whole member base as of ``now`` (nothing is stored; ``compute_profiles`` stores).

    Returns:
        ``{"as_of", "members", "features", "segments": [{"code", "name_zh", "name_en", "size",
        "share", "centroid", "median"}]}``.
    """
    from personalization.profiles import load_rfm_records  # profiles imports this module
    from personalization.services._common import resolve_now

    now = resolve_now(now)
    records = load_rfm_records(session=session, now=now)
    model = fit_segments(records)
    ordered = sorted(records, key=lambda r: r.member_id)
    return {
        "as_of": now.isoformat(timespec="seconds"),
        "members": len(ordered),
        "features": list(FEATURES),
        "segments": summarize(model, ordered, model.assign(ordered)),
    }
