"""The shop's recommender: trained from the member store, saved under ``var/``, loaded once per process.

Interactions are purchases (weight 1 per ordered line; cancelled orders excluded) and browsing
(:data:`BROWSE_WEIGHTS`), with product titles, brands, categories and tags as item features so
that new products can be recommended by content. ``make setup`` trains it after seeding
(``python -m personalization train-recommender``); a process that finds no saved model fits one
from the database itself, and a newer file on disk replaces the cached model.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import BrowseEvent, Member, Order, OrderItem, Product
from personalization.recommender import HybridRecommender
from personalization.recommender.dataset import to_seconds
from personalization.settings import Settings

logger = logging.getLogger(__name__)

# How much one browse event says, relative to buying the product (1.0).
BROWSE_WEIGHTS = {"view": 0.25, "cart": 0.5, "favorite": 0.5}

Row = tuple[str, str, float, float]


@dataclass(frozen=True)
class ShopData:
    """What the recommender learns from: interactions and item features."""

    purchases: list[Row]
    browsing: list[Row]
    features: dict[str, dict[str, Any]]
    launched: dict[str, datetime]

    @property
    def interactions(self) -> list[Row]:
        return self.purchases + self.browsing


def load_shop_data(session: Session, now: datetime | None = None) -> ShopData:
    """Purchases, browsing and product features (everything up to ``now`` when given).

    Only members who consent to personalization are learned from: an opted-out (or erased)
    member's behaviour shapes nobody's recommendations, theirs included.
    """
    consenting = select(Member.member_id).where(Member.consent_personalization.is_(True))
    orders = (
        select(Order.member_id, OrderItem.sku, Order.created_at)
        .join(OrderItem, OrderItem.order_id == Order.order_id)
        .where(Order.status != "cancelled", Order.member_id.in_(consenting))
    )
    browse = select(BrowseEvent.member_id, BrowseEvent.sku, BrowseEvent.kind, BrowseEvent.at).where(
        BrowseEvent.member_id.in_(consenting)
    )
    if now is not None:
        orders = orders.where(Order.created_at <= now)
        browse = browse.where(BrowseEvent.at <= now)
    purchases = [(m, sku, 1.0, to_seconds(at)) for m, sku, at in session.execute(orders)]
    browsing = [(m, sku, BROWSE_WEIGHTS.get(kind, 0.25), to_seconds(at)) for m, sku, kind, at in session.execute(browse)]
    products = list(session.scalars(select(Product)))
    features = {
        "item_text": {p.sku: f"{p.title_zh} {p.title_en} {p.brand}" for p in products},
        "item_category": {p.sku: p.category for p in products},
        "item_tags": {p.sku: list(p.tags or []) for p in products},
    }
    return ShopData(purchases, browsing, features, {p.sku: p.launched_at for p in products})


def fit_shop_model(session: Session, now: datetime | None = None) -> HybridRecommender:
    """Fit the product's hybrid recommender on the shop's data."""
    data = load_shop_data(session, now)
    if not data.interactions:
        raise ValueError("the shop has no orders or browse events to learn from; seed it first")
    return HybridRecommender().fit(data.interactions, **data.features)


def model_path(settings: Settings) -> Path:
    """Where the model trained on ``settings.database_url`` is saved (one file per database)."""
    digest = hashlib.sha1(settings.database_url.encode("utf-8")).hexdigest()[:10]
    return Path(settings.var_dir) / "models" / f"shop-recommender-{digest}.npz"


def train_and_save(session: Session, settings: Settings) -> dict[str, Any]:
    """Fit and save the shop model; returns what was trained (for the CLI)."""
    started = time.perf_counter()
    model = fit_shop_model(session)
    path = model.save(model_path(settings))
    return {
        "path": str(path),
        "members": len(model.user_ids_),
        "products": len(model.item_ids_),
        "seconds": round(time.perf_counter() - started, 2),
    }


class _Cache:
    """Fitted models per database; a saved file is reloaded when it changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, tuple[float, HybridRecommender]] = {}

    def get(self, session: Session, settings: Settings | None) -> HybridRecommender:
        path = model_path(settings) if settings is not None else None
        database = settings.database_url if settings is not None else str(session.get_bind().url)
        stamp = path.stat().st_mtime if path is not None and path.is_file() else -1.0
        with self._lock:
            cached = self._models.get(database)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            model: HybridRecommender | None = None
            if path is not None and stamp >= 0:
                try:
                    loaded = HybridRecommender.load(path)
                    model = loaded if isinstance(loaded, HybridRecommender) else None
                except ValueError as exc:
                    logger.warning("ignoring unreadable recommender file %s: %s", path, exc)
            if model is None:
                logger.info("no saved shop recommender for this database; fitting one from its data")
                model = fit_shop_model(session)
            self._models[database] = (stamp, model)
            return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


_cache = _Cache()


def shop_model(session: Session, settings: Settings | None = None) -> HybridRecommender:
    """The shop recommender for the session's database: the saved one for ``settings``, if trained,
    else fitted from the database on first use and kept for the life of the process."""
    return _cache.get(session, settings)


def clear_cache() -> None:
    """Forget the cached model (tests that switch databases)."""
    _cache.clear()
