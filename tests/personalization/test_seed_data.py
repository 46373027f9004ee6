"""The demo data generator: deterministic, big enough, and internally consistent."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.catalog_data import BRANDS, CATEGORIES, VARIANTS
from personalization.db import make_engine
from personalization.models import Base, Coupon, Member, Order, OrderItem, PointsEntry, Product, ShipmentEvent, Tier
from personalization.seed import seed_database
from personalization.services.points import end_of_next_year, points_summary
from personalization.services.tiers import compute_growth_value, tier_for_growth
from personalization.settings import Settings

from .conftest import AS_OF, N_MEMBERS, N_ORDERS, NOW

CHECKSUM_TABLES = {
    "members": "member_id",
    "products": "sku",
    "orders": "order_id",
    "order_items": "id",
    "coupons": "code",
    "points_ledger": "id",
    "browse_events": "id",
}


def _seed_checksum(path: Path, *, seed: int) -> str:
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    seed_database(engine, members=40, orders=300, seed=seed, as_of=AS_OF)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table, key in CHECKSUM_TABLES.items():
            # Through the tables' column types: encrypted fields differ in bytes (fresh nonces), not in value.
            columns = Base.metadata.tables[table]
            for row in conn.execute(select(columns).order_by(columns.c[key])):
                digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return digest.hexdigest()


def test_same_seed_and_as_of_give_identical_data(tmp_path: Path) -> None:
    assert _seed_checksum(tmp_path / "a.db", seed=7) == _seed_checksum(tmp_path / "b.db", seed=7)


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    assert _seed_checksum(tmp_path / "a.db", seed=7) != _seed_checksum(tmp_path / "b.db", seed=8)


def test_seed_creates_the_requested_sizes(seeded_db) -> None:  # type: ignore[no-untyped-def]
    counts = seeded_db.counts
    assert counts["members"] == N_MEMBERS
    assert counts["orders"] == N_ORDERS
    assert counts["tiers"] == 4
    assert counts["products"] >= 300
    assert counts["order_items"] > N_ORDERS
    for table in ("shipment_events", "browse_events", "coupons", "points_ledger", "coupon_templates"):
        assert counts[table] > 0, table


def test_every_tier_and_lifecycle_stage_has_a_member(segments) -> None:  # type: ignore[no-untyped-def]
    combos = {(t, s) for t in ("normal", "silver", "gold", "diamond") for s in ("new", "active", "dormant")}
    assert combos <= {key for key, ids in segments.items() if ids}


def test_orders_cover_at_least_eight_categories(session: Session) -> None:
    categories = session.scalars(
        select(Product.category).join(OrderItem, OrderItem.sku == Product.sku).distinct()
    ).all()
    assert len(categories) >= 8


def test_every_member_owns_at_least_one_order(session: Session) -> None:
    without_orders = session.scalar(
        select(func.count()).select_from(Member).where(~Member.member_id.in_(select(Order.member_id)))
    )
    assert without_orders == 0


def test_growth_value_and_tier_follow_completed_orders_of_the_last_year(session: Session) -> None:
    thresholds = [(t.code, t.threshold) for t in session.scalars(select(Tier))]
    for member in session.scalars(select(Member)):
        growth = compute_growth_value(session=session, member_id=member.member_id, now=NOW)
        assert member.growth_value == growth, member.member_id
        assert member.tier_code == tier_for_growth(growth, thresholds), member.member_id


def test_points_ledger_replays_to_its_sum_and_never_goes_negative(session: Session) -> None:
    sums = dict(
        session.execute(
            select(PointsEntry.member_id, func.sum(PointsEntry.amount)).group_by(PointsEntry.member_id)
        ).all()
    )
    assert len(sums) == N_MEMBERS  # everyone got the sign-up bonus
    for member_id, total in sums.items():
        balance = points_summary(session=session, member_id=member_id, now=NOW)["balance"]
        assert balance == total >= 0, member_id


def test_earned_points_expire_at_the_end_of_the_following_year(session: Session) -> None:
    earned = session.scalars(select(PointsEntry).where(PointsEntry.kind == "earn")).all()
    assert earned
    assert all(e.expires_at == end_of_next_year(e.at) for e in earned)


def test_points_are_earned_only_for_completed_orders(session: Session) -> None:
    statuses = session.scalars(
        select(Order.status).join(PointsEntry, PointsEntry.order_id == Order.order_id).where(PointsEntry.kind == "earn")
    ).all()
    assert statuses and set(statuses) == {"completed"}


def test_order_status_matches_order_age(session: Session) -> None:
    orders = session.scalars(select(Order)).all()
    old = [o for o in orders if o.created_at < NOW - timedelta(days=30)]
    recent = [o for o in orders if o.created_at > NOW - timedelta(days=2)]
    assert old and recent
    assert {o.status for o in old} <= {"completed", "cancelled", "returned"}
    assert "completed" not in {o.status for o in recent}
    assert Counter(o.status for o in old).most_common(1)[0][0] == "completed"


def test_shipped_orders_have_carrier_tracking_and_a_timeline_before_as_of(session: Session) -> None:
    shipped = session.scalars(select(Order).where(Order.status.in_(("shipped", "delivered", "completed")))).all()
    assert shipped
    assert all(
        o.carrier in {"顺丰速运", "京东物流", "中通快递", "圆通速递", "韵达快递"} and o.tracking_no for o in shipped
    )
    latest_event = session.scalar(select(func.max(ShipmentEvent.at)))
    assert latest_event < NOW


def test_order_ids_are_dd_plus_date_plus_four_digits(session: Session) -> None:
    for order_id, created_at in session.execute(select(Order.order_id, Order.created_at)):
        assert re.fullmatch(r"DD\d{12}", order_id)
        assert order_id[2:10] == created_at.strftime("%Y%m%d")


def test_used_coupons_point_at_an_order_of_the_same_member_within_validity(session: Session) -> None:
    used = session.scalars(select(Coupon).where(Coupon.status == "used")).all()
    assert used
    for coupon in used:
        order = session.get(Order, coupon.order_id)
        assert order is not None and order.member_id == coupon.member_id
        assert order.coupon_code == coupon.code
        assert coupon.valid_from <= order.created_at <= coupon.valid_until


def test_coupon_statuses_match_their_validity(session: Session) -> None:
    coupons = session.scalars(select(Coupon)).all()
    assert {"available", "used", "expired"} <= {c.status for c in coupons}
    assert all(c.valid_until < NOW for c in coupons if c.status == "expired")
    assert all(c.valid_until >= NOW for c in coupons if c.status == "available")
    assert re.fullmatch(r"CP[A-Z0-9]{8}", coupons[0].code)


def test_orders_follow_each_members_favourite_categories(session: Session) -> None:
    by_member: dict[str, Counter[str]] = defaultdict(Counter)
    rows = session.execute(
        select(Order.member_id, Product.category)
        .join(OrderItem, OrderItem.order_id == Order.order_id)
        .join(Product, Product.sku == OrderItem.sku)
    )
    for member_id, category in rows:
        by_member[member_id][category] += 1
    shares = [
        sum(n for _, n in counts.most_common(3)) / sum(counts.values())
        for counts in by_member.values()
        if sum(counts.values()) >= 10
    ]
    # Ten categories bought at random would put about 30% in any member's top three.
    assert len(shares) > 30
    assert sum(shares) / len(shares) > 0.75


def test_members_look_like_real_members(session: Session) -> None:
    members = session.scalars(select(Member)).all()
    assert all(re.fullmatch(r"1[3-9]\d{9}", m.phone) for m in members)
    assert len({m.phone for m in members}) == len(members)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", m.name) for m in members)
    zh_share = sum(m.preferred_language == "zh" for m in members) / len(members)
    opted_out = sum(not m.consent_personalization for m in members)
    assert 0.7 <= zh_share <= 0.95
    assert 1 <= opted_out <= 0.15 * len(members)


def test_catalog_has_sold_out_and_newly_launched_products(session: Session) -> None:
    products = session.scalars(select(Product)).all()
    assert any(p.stock == 0 for p in products)
    assert any(p.launched_at > NOW - timedelta(days=30) for p in products)
    assert {p.category for p in products} == {c.key for c in CATEGORIES}


def test_product_titles_name_brand_line_and_variant(session: Session) -> None:
    brand_zh = {b.key: b.zh for b in BRANDS}
    variants = tuple(v[0] for v in VARIANTS)
    for product in session.scalars(select(Product)):
        assert product.title_zh.startswith(brand_zh[product.brand] + " ")
        assert product.title_zh.endswith(variants)
        assert product.title_en.isascii()
