"""Member profiles (会员画像): RFM, affinities, price sensitivity, lifecycle, churn risk and segment.

Definitions (all as of ``now``; nothing after ``now`` counts):

- *purchase*: an order that is neither ``cancelled`` nor ``pending_payment``. Recency is days since
  the last purchase; frequency counts purchases of the last 365 days; monetary sums their totals,
  leaving out ``returned`` orders (refunded). r/f/m scores are 1..5 by quintiles over the member
  base (members who never purchased get r = 1; a higher score is always better).
- *affinities*: every line of a non-cancelled order counts once with weight 0.5^(age/120 days);
  browse events count 0.2 (view) / 0.4 (favourite) / 0.5 (cart) times 0.5^(age/21 days), brands
  half of that — the weights of :mod:`personalization.services._common`, so the top categories
  agree with the existing profile. Shares are normalised to sum to 1; the top ``TOP_N`` are kept.
- *price sensitivity*: median / p25 / p75 unit price of the lines bought; ``price_index`` is the
  median of each line's price over the median price paid in its category by all members
  (1 = typical); ``coupon_use_rate`` is the share of purchases that used a coupon. Label:
  ``high`` when coupon_use_rate >= 0.4 or price_index < 0.6, ``low`` when coupon_use_rate < 0.1
  and price_index > 1.2, ``medium`` otherwise; None without purchases. (On the demo data:
  29% high, 56% medium, 10% low, 5% no purchases.)
- *lifecycle* (a refinement of :func:`personalization.services.members.lifecycle_stage`, whose
  ``dormant`` is split in two): ``new`` registered < 30 days ago; ``active`` any order in the last
  180 days; ``dormant`` last order 180-365 days ago, or no order and registered 30-180 days ago;
  ``churned`` last order > 365 days ago, or no order and registered > 180 days ago.
- *churn risk* 0..1: ``1 / (1 + exp(-1.5 * (overdue - 2)))`` where ``overdue`` is days since the
  last purchase over the member's expected gap between purchases: their own mean gap, shrunk
  towards the base's median gap with the weight of two gaps (``(n*own + 2*prior) / (n + 2)``).
  Twice the usual gap overdue gives 0.5. Never purchased: days since registration over the prior.
- *segment*: see :mod:`personalization.segments`.

Members who opted out of personalization are not profiled: their profile has the basic attributes
and lifecycle only (``profiled`` False). They still count in the base statistics (quintiles,
k-means), which are aggregates.

:func:`build_profile` computes one member live; :func:`compute_profiles` computes many in a few
queries and stores them in ``member_profiles``; :func:`get_profile` reads the stored profile when
it is still current and builds one otherwise.
"""

from __future__ import annotations

import math
import sys
import time as clock
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import case, delete, func, insert, inspect, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from personalization.catalog_data import BRANDS
from personalization.models import BrowseEvent, Member, MemberProfileRow, Order, OrderItem, Product
from personalization.segments import RfmRecord, SegmentModel, fit_segments, segment_label
from personalization.services._common import (
    BROWSE_HALF_LIFE_DAYS,
    BROWSE_KIND_WEIGHT,
    ORDER_HALF_LIFE_DAYS,
    category_labels,
    decay,
    find_member,
    resolve_now,
)
from personalization.services.tiers import load_tiers, spend_by_member, status_from_spend

NON_PURCHASE_STATUSES = ("cancelled", "pending_payment")
REFUNDED_STATUSES = ("returned",)
RFM_WINDOW_DAYS = 365
TOP_N = 5
NEW_MEMBER_DAYS = 30
ACTIVE_DAYS = 180
CHURNED_DAYS = 365
NO_ORDER_CHURNED_DAYS = 180
CHURN_SLOPE = 1.5
CHURN_MIDPOINT = 2.0
GAP_PRIOR_WEIGHT = 2.0
DEFAULT_GAP_DAYS = 60.0  # prior when the base has no repeat buyers at all
HIGH_COUPON_RATE, LOW_COUPON_RATE = 0.4, 0.1
LOW_PRICE_INDEX, HIGH_PRICE_INDEX = 0.6, 1.2
# A stored profile is served while no new activity happened and it is at most this old.
STORED_PROFILE_MAX_AGE = timedelta(days=1)
LIFECYCLE_NAMES = {
    "new": ("新客", "New"),
    "active": ("活跃", "Active"),
    "dormant": ("沉睡", "Dormant"),
    "churned": ("流失", "Churned"),
}
_BRAND_NAMES = {b.key: (b.zh, b.en) for b in BRANDS}
_CHUNK = 500


@dataclass(frozen=True)
class Affinity:
    key: str
    name_zh: str | None
    name_en: str | None
    score: float


@dataclass(frozen=True)
class Rfm:
    recency_days: int | None  # None: never purchased
    frequency: int
    monetary: float
    r_score: int
    f_score: int
    m_score: int

    @property
    def code(self) -> str:
        return f"{self.r_score}{self.f_score}{self.m_score}"


@dataclass(frozen=True)
class PriceSensitivity:
    median_item_price: float
    p25_item_price: float
    p75_item_price: float
    price_index: float
    coupon_use_rate: float
    label: str  # low / medium / high


@dataclass(frozen=True)
class ChurnRisk:
    score: float
    recency_days: int
    expected_gap_days: float
    overdue_ratio: float
    explanation_zh: str
    explanation_en: str


@dataclass
class MemberProfile:
    """Everything the store infers about one member, as of ``computed_at``."""

    member_id: str
    name: str
    tier: str
    city: str
    language: str
    registered_at: datetime
    consent: bool
    computed_at: datetime
    tenure_days: int
    lifecycle: str
    orders_count: int = 0
    last_order_at: datetime | None = None
    profiled: bool = True
    rfm: Rfm | None = None
    category_affinities: list[Affinity] = field(default_factory=list)
    brand_affinities: list[Affinity] = field(default_factory=list)
    price_sensitivity: PriceSensitivity | None = None
    churn_risk: ChurnRisk | None = None
    segment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO datetimes; lifecycle and segment with their zh/en names)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("rfm", "price_sensitivity", "churn_risk"):
            if data[key] is not None:
                data[key] = dict(vars(data[key]))
        for key in ("category_affinities", "brand_affinities"):
            data[key] = [dict(vars(a)) for a in data[key]]
        for key in ("registered_at", "computed_at", "last_order_at"):
            value = getattr(self, key)
            data[key] = value.isoformat(timespec="seconds") if value else None
        if self.rfm is not None:
            data["rfm"]["code"] = self.rfm.code
        name_zh, name_en = LIFECYCLE_NAMES[self.lifecycle]
        data["lifecycle_zh"], data["lifecycle_en"] = name_zh, name_en
        data["segment_label"] = segment_label(self.segment)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemberProfile:
        """The inverse of :meth:`to_dict`."""
        rfm = dict(data["rfm"]) if data.get("rfm") else None
        if rfm is not None:
            rfm.pop("code", None)
        return cls(
            member_id=data["member_id"],
            name=data["name"],
            tier=data["tier"],
            city=data["city"],
            language=data["language"],
            registered_at=datetime.fromisoformat(data["registered_at"]),
            consent=bool(data["consent"]),
            computed_at=datetime.fromisoformat(data["computed_at"]),
            tenure_days=int(data["tenure_days"]),
            lifecycle=data["lifecycle"],
            orders_count=int(data["orders_count"]),
            last_order_at=datetime.fromisoformat(data["last_order_at"]) if data.get("last_order_at") else None,
            profiled=bool(data["profiled"]),
            rfm=Rfm(**rfm) if rfm else None,
            category_affinities=[Affinity(**a) for a in data.get("category_affinities") or []],
            brand_affinities=[Affinity(**a) for a in data.get("brand_affinities") or []],
            price_sensitivity=PriceSensitivity(**data["price_sensitivity"]) if data.get("price_sensitivity") else None,
            churn_risk=ChurnRisk(**data["churn_risk"]) if data.get("churn_risk") else None,
            segment=data.get("segment"),
        )


# ------------------------------------------------------------------------------------------------
# Pure rules
# ------------------------------------------------------------------------------------------------


def lifecycle_stage(*, registered_at: datetime, last_order_at: datetime | None, now: datetime) -> str:
    """``new`` / ``active`` / ``dormant`` / ``churned`` by the rules in the module docstring."""
    if registered_at > now - timedelta(days=NEW_MEMBER_DAYS):
        return "new"
    if last_order_at is None:
        return "churned" if registered_at <= now - timedelta(days=NO_ORDER_CHURNED_DAYS) else "dormant"
    if last_order_at > now - timedelta(days=ACTIVE_DAYS):
        return "active"
    return "churned" if last_order_at <= now - timedelta(days=CHURNED_DAYS) else "dormant"


def churn_risk(*, recency_days: float, purchases: int, mean_gap_days: float | None, prior_gap_days: float) -> ChurnRisk:
    """Churn risk from how overdue the next purchase is against the member's own rhythm.

    Args:
        recency_days: days since the last purchase (never purchased: days since registration).
        purchases: purchases so far.
        mean_gap_days: the member's mean days between purchases (None with fewer than 2).
        prior_gap_days: the base's median gap, the expectation for members with little history.
    """
    gaps = max(purchases - 1, 0)
    own = mean_gap_days if mean_gap_days is not None and gaps > 0 else 0.0
    expected = max((gaps * own + GAP_PRIOR_WEIGHT * prior_gap_days) / (gaps + GAP_PRIOR_WEIGHT), 1.0)
    ratio = max(recency_days, 0.0) / expected
    score = 1.0 / (1.0 + math.exp(-CHURN_SLOPE * (ratio - CHURN_MIDPOINT)))
    days, gap = int(recency_days), round(expected)
    if purchases == 0:
        zh = f"注册{days}天仍未下单（会员通常每{gap}天下单一次），为预期的{ratio:.1f}倍"
        en = f"No order in the {days} days since joining; members typically order every {gap} days ({ratio:.1f}x)"
    else:
        zh = f"距上次购买{days}天，是其通常购买间隔（约{gap}天）的{ratio:.1f}倍"
        en = f"{days} days since the last purchase, {ratio:.1f}x the usual gap of about {gap} days"
    return ChurnRisk(
        score=round(score, 4),
        recency_days=days,
        expected_gap_days=round(expected, 1),
        overdue_ratio=round(ratio, 3),
        explanation_zh=zh,
        explanation_en=en,
    )


def price_label(*, coupon_use_rate: float, price_index: float) -> str:
    """``high`` / ``medium`` / ``low`` price sensitivity by the rules in the module docstring."""
    if coupon_use_rate >= HIGH_COUPON_RATE or price_index < LOW_PRICE_INDEX:
        return "high"
    if coupon_use_rate < LOW_COUPON_RATE and price_index > HIGH_PRICE_INDEX:
        return "low"
    return "medium"


def quintile_edges(values: Sequence[float]) -> list[float]:
    """The 20/40/60/80% quantiles of ``values`` (empty for no values)."""
    return [float(q) for q in np.quantile(np.asarray(values, dtype=float), [0.2, 0.4, 0.6, 0.8])] if values else []


def quintile_score(value: float, edges: Sequence[float]) -> int:
    """1..5: one plus the number of edges strictly below ``value`` (ties share the lower score)."""
    return 1 + sum(1 for edge in edges if value > edge)


def _shares(scores: dict[str, float], names: dict[str, tuple[str | None, str | None]]) -> list[Affinity]:
    total = sum(scores.values())
    if total <= 0:
        return []
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    return [
        Affinity(
            key=k,
            name_zh=names.get(k, (None, None))[0],
            name_en=names.get(k, (None, None))[1],
            score=round(v / total, 4),
        )
        for k, v in ranked
    ]


# ------------------------------------------------------------------------------------------------
# Loading (a few grouped queries for any number of members)
# ------------------------------------------------------------------------------------------------


@dataclass
class _Agg:
    last_any: datetime | None = None
    first_purchase: datetime | None = None
    last_purchase: datetime | None = None
    purchases: int = 0
    frequency: int = 0
    monetary: float = 0.0
    with_coupon: int = 0
    orders: int = 0


@dataclass
class _Base:
    """Member-base statistics as of ``now``: per-member aggregates and what the quintiles need."""

    now: datetime
    members: dict[str, Member]
    aggs: dict[str, _Agg]
    spend_12m: dict[str, float]
    records: list[RfmRecord]
    r_edges: list[float]
    f_edges: list[float]
    m_edges: list[float]
    prior_gap_days: float


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _load_aggregates(session: Session, now: datetime) -> dict[str, _Agg]:
    purchase = Order.status.not_in(NON_PURCHASE_STATUSES)
    in_window = Order.created_at > now - timedelta(days=RFM_WINDOW_DAYS)
    rows = session.execute(
        select(
            Order.member_id,
            func.max(Order.created_at),
            func.min(case((purchase, Order.created_at))),
            func.max(case((purchase, Order.created_at))),
            func.sum(case((purchase, 1), else_=0)),
            func.sum(case((purchase & in_window, 1), else_=0)),
            func.sum(
                case((purchase & in_window & Order.status.not_in(REFUNDED_STATUSES), Order.total_amount), else_=0)
            ),
            func.sum(case((purchase & Order.coupon_code.is_not(None), 1), else_=0)),
            func.count(),
        )
        .where(Order.created_at <= now)
        .group_by(Order.member_id)
    ).all()
    result: dict[str, _Agg] = {}
    for member_id, last_any, first_p, last_p, n_p, freq, money, coupons, orders in rows:
        result[member_id] = _Agg(
            last_any=_as_datetime(last_any),
            first_purchase=_as_datetime(first_p),
            last_purchase=_as_datetime(last_p),
            purchases=int(n_p or 0),
            frequency=int(freq or 0),
            monetary=round(float(money or 0), 2),
            with_coupon=int(coupons or 0),
            orders=int(orders or 0),
        )
    return result


def _as_datetime(value: object) -> datetime | None:
    # SQLite returns MIN/MAX over a CASE expression as text.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _record(member: Member, agg: _Agg | None, now: datetime) -> RfmRecord:
    tenure = max(_days(now - member.registered_at), 0.0)
    if agg is not None and agg.last_purchase is not None:
        recency = _days(now - agg.last_purchase)
    else:
        recency = tenure
    return RfmRecord(
        member_id=member.member_id,
        recency_days=recency,
        frequency=agg.frequency if agg else 0,
        monetary=agg.monetary if agg else 0.0,
        tenure_days=tenure,
    )


def _load_base(session: Session, now: datetime) -> _Base:
    members = {
        m.member_id: m
        for m in session.scalars(select(Member).where(Member.registered_at <= now).order_by(Member.member_id))
    }
    aggs = _load_aggregates(session, now)
    records = [_record(m, aggs.get(mid), now) for mid, m in members.items()]
    buyers = [aggs[mid] for mid in members if mid in aggs and aggs[mid].last_purchase is not None]
    gaps = [
        _days(a.last_purchase - a.first_purchase) / (a.purchases - 1)  # type: ignore[operator]
        for a in buyers
        if a.purchases >= 2
    ]
    return _Base(
        now=now,
        members=members,
        aggs=aggs,
        spend_12m=spend_by_member(session=session, now=now),
        records=records,
        r_edges=quintile_edges([_days(now - a.last_purchase) for a in buyers]),  # type: ignore[operator]
        f_edges=quintile_edges([r.frequency for r in records]),
        m_edges=quintile_edges([r.monetary for r in records]),
        prior_gap_days=float(np.median(gaps)) if gaps else DEFAULT_GAP_DAYS,
    )


@dataclass
class _Detail:
    category_scores: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    brand_scores: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    prices: list[float] = field(default_factory=list)
    price_ratios: list[float] = field(default_factory=list)


def _chunks(ids: Sequence[str] | None) -> Iterable[Sequence[str] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _load_details(session: Session, now: datetime, member_ids: Sequence[str] | None) -> dict[str, _Detail]:
    """Affinity scores and prices paid for these members (None: everyone), two queries per chunk."""
    paid: dict[str, list[float]] = defaultdict(list)
    for category, price in session.execute(
        select(Product.category, OrderItem.unit_price)
        .join(OrderItem, OrderItem.sku == Product.sku)
        .join(Order, Order.order_id == OrderItem.order_id)
        .where(Order.status != "cancelled", Order.created_at <= now)
    ):
        paid[category].append(float(price))
    category_median = {category: float(np.median(prices)) for category, prices in paid.items()}
    details: dict[str, _Detail] = defaultdict(_Detail)
    for chunk in _chunks(member_ids):
        lines = (
            select(Order.member_id, Order.created_at, OrderItem.unit_price, Product.category, Product.brand)
            .join(OrderItem, OrderItem.order_id == Order.order_id)
            .join(Product, Product.sku == OrderItem.sku)
            .where(Order.status != "cancelled", Order.created_at <= now)
        )
        browsed = (
            select(BrowseEvent.member_id, BrowseEvent.at, BrowseEvent.kind, Product.category, Product.brand)
            .join(Product, Product.sku == BrowseEvent.sku)
            .where(BrowseEvent.at <= now)
        )
        if chunk is not None:
            lines = lines.where(Order.member_id.in_(chunk))
            browsed = browsed.where(BrowseEvent.member_id.in_(chunk))
        for member_id, created_at, unit_price, category, brand in session.execute(lines):
            detail = details[member_id]
            weight = decay(_days(now - created_at), ORDER_HALF_LIFE_DAYS)
            detail.category_scores[category] += weight
            detail.brand_scores[brand] += weight
            price = float(unit_price)
            detail.prices.append(price)
            if category_median.get(category):
                detail.price_ratios.append(price / category_median[category])
        for member_id, at, kind, category, brand in session.execute(browsed):
            detail = details[member_id]
            weight = BROWSE_KIND_WEIGHT.get(kind, 0.2) * decay(_days(now - at), BROWSE_HALF_LIFE_DAYS)
            detail.category_scores[category] += weight
            detail.brand_scores[brand] += 0.5 * weight
    return details


# ------------------------------------------------------------------------------------------------
# Assembly
# ------------------------------------------------------------------------------------------------


def _assemble(
    member: Member, base: _Base, detail: _Detail | None, model: SegmentModel | None, tiers: Sequence[Any]
) -> MemberProfile:
    now = base.now
    agg = base.aggs.get(member.member_id)
    tier = status_from_spend(spend=base.spend_12m.get(member.member_id, 0.0), tiers=tiers)["tier"]["code"]
    profile = MemberProfile(
        member_id=member.member_id,
        name=member.name,
        tier=tier,
        city=member.city,
        language=member.preferred_language,
        registered_at=member.registered_at,
        consent=bool(member.consent_personalization),
        computed_at=now,
        tenure_days=int(_days(now - member.registered_at)),
        lifecycle=lifecycle_stage(
            registered_at=member.registered_at, last_order_at=agg.last_any if agg else None, now=now
        ),
        orders_count=agg.orders if agg else 0,
        last_order_at=agg.last_any if agg else None,
        profiled=bool(member.consent_personalization),
    )
    if not profile.profiled:
        return profile
    record = _record(member, agg, now)
    bought = agg is not None and agg.last_purchase is not None
    profile.rfm = Rfm(
        recency_days=int(record.recency_days) if bought else None,
        frequency=record.frequency,
        monetary=record.monetary,
        r_score=(6 - quintile_score(record.recency_days, base.r_edges)) if bought else 1,
        f_score=quintile_score(record.frequency, base.f_edges),
        m_score=quintile_score(record.monetary, base.m_edges),
    )
    detail = detail or _Detail()
    profile.category_affinities = _shares(
        dict(detail.category_scores), {k: category_labels(k) for k in detail.category_scores}
    )
    profile.brand_affinities = _shares(dict(detail.brand_scores), _BRAND_NAMES)
    if bought and detail.prices:
        assert agg is not None
        p25, median, p75 = (float(v) for v in np.percentile(detail.prices, [25, 50, 75]))
        index = float(np.median(detail.price_ratios)) if detail.price_ratios else 1.0
        rate = agg.with_coupon / agg.purchases
        profile.price_sensitivity = PriceSensitivity(
            median_item_price=round(median, 2),
            p25_item_price=round(p25, 2),
            p75_item_price=round(p75, 2),
            price_index=round(index, 3),
            coupon_use_rate=round(rate, 3),
            label=price_label(coupon_use_rate=rate, price_index=index),
        )
    mean_gap = None
    if agg is not None and agg.purchases >= 2:
        mean_gap = _days(agg.last_purchase - agg.first_purchase) / (agg.purchases - 1)  # type: ignore[operator]
    profile.churn_risk = churn_risk(
        recency_days=record.recency_days,
        purchases=agg.purchases if agg else 0,
        mean_gap_days=mean_gap,
        prior_gap_days=base.prior_gap_days,
    )
    if model is not None:
        profile.segment = model.assign([record])[0]
    return profile


def _fit(base: _Base) -> SegmentModel | None:
    try:
        return fit_segments(base.records)
    except ValueError:  # too few members to cluster: profiles without a segment
        return None


def load_rfm_records(*, session: Session, now: datetime) -> list[RfmRecord]:
    """Segmentation features of every member registered by ``now``, by member id."""
    return _load_base(session, now).records


def build_profile(*, session: Session, member_id: object, now: datetime | None = None) -> MemberProfile | None:
    """Compute one member's profile live.

    Args:
        session: the caller's session.
        member_id: the member's id (case and surrounding spaces ignored).
        now: the instant to profile as of (default: now).

    Returns:
        The profile, or None for an unknown or malformed id and for a member who had not
        registered yet at ``now`` (see :func:`profile_unavailable_reason`).
    """
    member = find_member(session=session, member_id=member_id)
    now = resolve_now(now)
    if member is None or member.registered_at > now:
        return None
    base = _load_base(session, now)
    details = _load_details(session, now, [member.member_id]) if member.consent_personalization else {}
    model = _fit(base) if member.consent_personalization else None
    return _assemble(member, base, details.get(member.member_id), model, load_tiers(session=session))


def profile_unavailable_reason(
    *, session: Session, member_id: object, now: datetime | None = None
) -> dict[str, Any] | None:
    """Why :func:`build_profile` gives None (``unknown_member`` / ``not_registered_yet``), else None."""
    member = find_member(session=session, member_id=member_id)
    now = resolve_now(now)
    if member is None:
        return {"code": "unknown_member", "message_zh": "没有找到这个会员。", "message_en": "No such member."}
    if member.registered_at > now:
        return {
            "code": "not_registered_yet",
            "message_zh": f"该会员于{member.registered_at:%Y-%m-%d}注册，在所查询的时间还不是会员。",
            "message_en": f"The member registered on {member.registered_at:%Y-%m-%d}, after the time asked about.",
            "registered_at": member.registered_at.isoformat(timespec="seconds"),
        }
    return None


def _activity_since(session: Session, now: datetime) -> dict[str, datetime]:
    """The latest order or browse event per member up to ``now``."""
    latest: dict[str, datetime] = {}
    for model, column in ((Order, Order.created_at), (BrowseEvent, BrowseEvent.at)):
        rows = session.execute(
            select(model.member_id, func.max(column)).where(column <= now).group_by(model.member_id)
        ).all()
        for member_id, at in rows:
            at = _as_datetime(at)
            if at is not None and (member_id not in latest or at > latest[member_id]):
                latest[member_id] = at
    return latest


def _is_current(
    computed_at: datetime, profiled: bool, *, consent: bool, latest: datetime | None, now: datetime
) -> bool:
    return computed_at <= now and bool(profiled) == consent and (latest is None or latest <= computed_at)


def ensure_table(session: Session) -> None:
    """Create ``member_profiles`` if a database seeded before it existed lacks it."""
    MemberProfileRow.__table__.create(bind=session.connection(), checkfirst=True)  # type: ignore[attr-defined]


def compute_profiles(
    *,
    session: Session,
    now: datetime | None = None,
    progress: bool = True,
    full: bool = False,
) -> dict[str, Any]:
    """Compute profiles and store them in ``member_profiles`` (flushes; the caller commits).

    Incremental by default: only members without a stored profile, with orders or browse events
    after their profile's ``computed_at`` (up to ``now``), whose consent changed, or whose stored
    profile is as of a later instant than ``now``. ``full`` recomputes everyone. Segments and
    quintiles always come from the whole base as of ``now``.

    Returns:
        ``{"as_of", "mode", "members", "computed", "unchanged", "seconds", "segments": {code: n},
        "lifecycle": {stage: n}}`` (the counts over all stored profiles).
    """
    started = clock.perf_counter()
    now = resolve_now(now)
    ensure_table(session)
    base = _load_base(session, now)
    stored = {
        member_id: (computed_at, profiled)
        for member_id, computed_at, profiled in session.execute(
            select(MemberProfileRow.member_id, MemberProfileRow.computed_at, MemberProfileRow.profiled)
        )
    }
    if full:
        targets = list(base.members)
    else:
        latest = _activity_since(session, now)
        targets = [
            mid
            for mid, member in base.members.items()
            if mid not in stored
            or not _is_current(
                *stored[mid], consent=bool(member.consent_personalization), latest=latest.get(mid), now=now
            )
        ]
    everyone = len(targets) == len(base.members)
    consenting = [mid for mid in targets if base.members[mid].consent_personalization]
    details = _load_details(session, now, None if everyone else consenting) if consenting else {}
    model = _fit(base) if consenting else None
    tiers = load_tiers(session=session)
    rows: list[dict[str, Any]] = []
    for mid in tqdm(targets, desc="profiles", unit="member", file=sys.stderr, disable=not progress):
        profile = _assemble(base.members[mid], base, details.get(mid), model, tiers)
        rows.append(
            {
                "member_id": mid,
                "computed_at": now,
                "segment": profile.segment,
                "lifecycle": profile.lifecycle,
                "profiled": profile.profiled,
                "churn_risk": profile.churn_risk.score if profile.churn_risk else None,
                "data": profile.to_dict(),
            }
        )
    for chunk in _chunks(targets):
        session.execute(delete(MemberProfileRow).where(MemberProfileRow.member_id.in_(chunk)))  # type: ignore[arg-type]
    if rows:
        session.execute(insert(MemberProfileRow), rows)
    session.flush()
    segment_counts = dict(
        session.execute(select(MemberProfileRow.segment, func.count()).group_by(MemberProfileRow.segment)).all()
    )
    lifecycle_counts = dict(
        session.execute(select(MemberProfileRow.lifecycle, func.count()).group_by(MemberProfileRow.lifecycle)).all()
    )
    return {
        "as_of": now.isoformat(timespec="seconds"),
        "mode": "full" if full else "incremental",
        "members": len(base.members),
        "computed": len(targets),
        "unchanged": len(base.members) - len(targets),
        "seconds": round(clock.perf_counter() - started, 3),
        "segments": {(k or "not_profiled"): v for k, v in sorted(segment_counts.items(), key=lambda kv: str(kv[0]))},
        "lifecycle": dict(sorted(lifecycle_counts.items())),
    }


def get_profile(*, session: Session, member_id: object, now: datetime | None = None) -> MemberProfile | None:
    """The stored profile while it is current, else a live :func:`build_profile`.

    Current means: computed at or before ``now`` and at most ``STORED_PROFILE_MAX_AGE`` earlier,
    no order or browse event of the member since, and the same consent. Reads never write.
    """
    member = find_member(session=session, member_id=member_id)
    now = resolve_now(now)
    if member is None or member.registered_at > now:
        return None
    has_table = inspect(session.connection()).has_table(MemberProfileRow.__tablename__)
    row = session.get(MemberProfileRow, member.member_id) if has_table else None
    if row is not None and now - row.computed_at <= STORED_PROFILE_MAX_AGE:
        latest = None
        for column, owner in ((Order.created_at, Order.member_id), (BrowseEvent.at, BrowseEvent.member_id)):
            at = _as_datetime(session.scalar(select(func.max(column)).where(owner == member.member_id, column <= now)))
            if at is not None and (latest is None or at > latest):
                latest = at
        if _is_current(
            row.computed_at, row.profiled, consent=bool(member.consent_personalization), latest=latest, now=now
        ):
            return MemberProfile.from_dict(row.data)
    return build_profile(session=session, member_id=member.member_id, now=now)


__all__ = [
    "Affinity",
    "ChurnRisk",
    "MemberProfile",
    "PriceSensitivity",
    "Rfm",
    "build_profile",
    "churn_risk",
    "compute_profiles",
    "get_profile",
    "lifecycle_stage",
    "load_rfm_records",
    "price_label",
    "profile_unavailable_reason",
    "quintile_edges",
    "quintile_score",
]
