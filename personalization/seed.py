"""Deterministic demo data: tiers, products, members, orders, browsing, coupons and points.

The same seed and as-of date give the same rows, whatever the time of day or the machine:
every timestamp lies before midnight at the start of ``as_of``, global draws come from one
``numpy`` generator, and each member's history from a ``random.Random`` keyed by the seed and
the member's position. The data are built to be internally consistent:

- each member has a lifecycle stage (new: registered < 30 days ago; active; dormant: no order in
  180+ days) and a target tier; their orders are placed and priced so that their growth value
  (yuan paid for completed orders of the last 12 months) lands in that tier's band, and
  ``growth_value``/``tier_code`` are computed from the orders, never set independently;
- order categories and brands follow the member's latent preferences (2-3 favourite categories,
  a brand-tier taste by price sensitivity), and so does their browsing;
- order statuses follow from a shipping timeline cut at the as-of instant;
- used coupons point at an order of the member placed in the coupon's validity that meets
  its minimum spend, and that order's total carries the discount;
- the points ledger earns per completed order (x the tier multiplier at that time), expires
  lots at the end of the following year and redeems first-in-first-out, so replaying it with
  :func:`personalization.services.points.replay_ledger` gives the stored sum.

Entry point: :func:`seed_database` (drops and recreates every table).
"""

from __future__ import annotations

import math
import random
import sys
import time as clock
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session
from tqdm import tqdm

from personalization.catalog_data import (
    BRANDS,
    CATEGORIES,
    CITIES,
    GIVEN_NAMES_FEMALE,
    GIVEN_NAMES_MALE,
    PRODUCT_LINES,
    SURNAMES,
    TIER_PRICE_FACTOR,
    VARIANTS,
)
from personalization.coupon_rules import claim_key, coupon_valid_until, period_key
from personalization.models import (
    Base,
    BrowseEvent,
    Coupon,
    CouponTemplate,
    Member,
    Order,
    OrderItem,
    PointsEntry,
    Product,
    ShipmentEvent,
    Tier,
)
from personalization.services.members import DORMANT_DAYS, lifecycle_stage
from personalization.services.points import LedgerLine, balance_of, end_of_next_year, replay_ledger
from personalization.services.tiers import GROWTH_WINDOW_DAYS, tier_for_growth

# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierSpec:
    code: str
    rank: int
    name_zh: str
    name_en: str
    threshold: int
    multiplier: Decimal
    benefits_zh: tuple[str, ...]
    benefits_en: tuple[str, ...]


TIERS: tuple[TierSpec, ...] = (
    TierSpec(
        "normal",
        0,
        "普通会员",
        "Member",
        0,
        Decimal("1.00"),
        ("消费1元累计1积分", "实付满99元包邮", "生日当月领取生日礼券", "新人专享礼券（满99减20）"),
        (
            "1 point for every ¥1 spent",
            "Free shipping on orders over ¥99",
            "Birthday coupon in your birthday month",
            "New-member welcome coupon (¥20 off ¥99)",
        ),
    ),
    TierSpec(
        "silver",
        1,
        "银卡会员",
        "Silver",
        2000,
        Decimal("1.20"),
        ("1.2倍积分", "实付满69元包邮", "生日礼券（满200减50）", "每月银卡专享券", "退货运费险"),
        (
            "1.2x points on every order",
            "Free shipping on orders over ¥69",
            "Birthday coupon (¥50 off ¥200)",
            "Monthly Silver-only coupon",
            "Return shipping insurance",
        ),
    ),
    TierSpec(
        "gold",
        2,
        "金卡会员",
        "Gold",
        8000,
        Decimal("1.50"),
        (
            "1.5倍积分",
            "实付满39元包邮",
            "生日礼包（礼券+精选小样）",
            "专属客服热线，优先接入",
            "新品提前24小时抢先购",
            "每月金卡专享券",
        ),
        (
            "1.5x points on every order",
            "Free shipping on orders over ¥39",
            "Birthday gift pack (coupon + samples)",
            "Dedicated customer service line with priority",
            "Early access to new launches 24 hours ahead",
            "Monthly Gold-only coupon",
        ),
    ),
    TierSpec(
        "diamond",
        3,
        "钻石会员",
        "Diamond",
        20000,
        Decimal("2.00"),
        (
            "2倍积分",
            "全场无门槛包邮",
            "生日豪华礼盒",
            "7×24小时专属客服热线",
            "新品提前48小时抢先购",
            "每月钻石专享券",
            "退货上门取件，运费全免",
        ),
        (
            "2x points on every order",
            "Free shipping on every order",
            "Birthday luxury gift box",
            "24/7 dedicated customer service line",
            "Early access to new launches 48 hours ahead",
            "Monthly Diamond-only coupon",
            "Free doorstep pick-up for returns",
        ),
    ),
)
TIER_BY_CODE = {t.code: t for t in TIERS}
# Structured benefits per tier (the same benefits as the texts above, as data the services read).
# Members save through the monthly tier-only coupons, not a standing discount: member_discount_percent is 0.
TIER_PERKS: dict[str, dict[str, Any]] = {
    "normal": {
        "member_discount_percent": 0,
        "free_shipping_min_spend": 99,
        "birthday_gift_zh": "生日礼券",
        "birthday_gift_en": "Birthday coupon",
        "priority_service": False,
        "monthly_coupon": False,
        "early_access_hours": 0,
        "return_shipping": "standard",
    },
    "silver": {
        "member_discount_percent": 0,
        "free_shipping_min_spend": 69,
        "birthday_gift_zh": "生日礼券（满200减50）",
        "birthday_gift_en": "Birthday coupon (¥50 off ¥200)",
        "priority_service": False,
        "monthly_coupon": True,
        "early_access_hours": 0,
        "return_shipping": "insurance",
    },
    "gold": {
        "member_discount_percent": 0,
        "free_shipping_min_spend": 39,
        "birthday_gift_zh": "生日礼包（礼券+精选小样）",
        "birthday_gift_en": "Birthday gift pack (coupon + samples)",
        "priority_service": True,
        "monthly_coupon": True,
        "early_access_hours": 24,
        "return_shipping": "standard",
    },
    "diamond": {
        "member_discount_percent": 0,
        "free_shipping_min_spend": 0,
        "birthday_gift_zh": "生日豪华礼盒",
        "birthday_gift_en": "Birthday luxury gift box",
        "priority_service": True,
        "monthly_coupon": True,
        "early_access_hours": 48,
        "return_shipping": "free_pickup",
    },
}
TIER_THRESHOLDS = [(t.code, t.threshold) for t in TIERS]
LIFECYCLES = ("new", "active", "dormant")


@dataclass(frozen=True)
class TemplateSpec:
    template_id: str
    title_zh: str
    title_en: str
    kind: str  # amount_off / percent_off
    value: int  # yuan off, or percent off
    min_spend: int
    category: str | None
    valid_days: int
    audience: str  # all / new_member / birthday / winback / tier:<code>
    # Claim rules (personalization.coupon_rules): per_member_limit claims per limit_period.
    per_member_limit: int = 1
    limit_period: str = "month"  # campaign / year / month
    # Stock still claimable after the seeded claims (total_stock = issued + this); None = unlimited.
    stock_left: int | None = None
    # Claim window in days from the as-of midnight (negative = before); None = open-ended.
    window_days: tuple[int, int] | None = None
    active: bool = True
    # Share of members who claimed it during the window (campaign templates only).
    seeded_claim_share: float = 0.0


# Category-scoped coupons: category -> (kind, value, min_spend).
_CATEGORY_COUPON_TERMS: dict[str, tuple[str, int, int]] = {
    "beauty": ("amount_off", 30, 200),
    "apparel": ("amount_off", 40, 300),
    "digital": ("amount_off", 100, 1000),
    "home": ("amount_off", 30, 200),
    "food": ("amount_off", 15, 99),
    "mother_baby": ("amount_off", 40, 300),
    "sports": ("percent_off", 10, 299),
    "appliances": ("amount_off", 120, 1000),
    "books": ("amount_off", 20, 100),
    "pets": ("amount_off", 20, 150),
}

COUPON_TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "WELCOME_99_20",
        "新人专享券",
        "New-member welcome coupon",
        "amount_off",
        20,
        99,
        None,
        30,
        "new_member",
        limit_period="campaign",
        stock_left=5000,
    ),
    TemplateSpec(
        "SHOP_300_50", "全场通用券", "Store-wide coupon", "amount_off", 50, 300, None, 30, "all", stock_left=20000
    ),
    TemplateSpec("SHOP_199_95", "全场95折券", "Store-wide 5% off", "percent_off", 5, 199, None, 30, "all"),
    *(
        TemplateSpec(
            f"CAT_{c.key.upper()}",
            f"{c.zh}专享券",
            f"{c.en} coupon",
            _CATEGORY_COUPON_TERMS[c.key][0],
            _CATEGORY_COUPON_TERMS[c.key][1],
            _CATEGORY_COUPON_TERMS[c.key][2],
            c.key,
            30,
            "all",
            stock_left=3000,
        )
        for c in CATEGORIES
    ),
    TemplateSpec(
        "BIRTHDAY_200_50",
        "生日礼券",
        "Birthday coupon",
        "amount_off",
        50,
        200,
        None,
        30,
        "birthday",
        limit_period="year",
    ),
    TemplateSpec(
        "WINBACK_150_40",
        "老朋友回归券",
        "Welcome-back coupon",
        "amount_off",
        40,
        150,
        None,
        14,
        "winback",
        limit_period="year",
    ),
    TemplateSpec(
        "TIER_SILVER_300_30", "银卡专享券", "Silver members' coupon", "amount_off", 30, 300, None, 30, "tier:silver"
    ),
    TemplateSpec(
        "TIER_GOLD_500_80", "金卡专享券", "Gold members' coupon", "amount_off", 80, 500, None, 30, "tier:gold"
    ),
    TemplateSpec(
        "TIER_DIAMOND_800_150",
        "钻石专享券",
        "Diamond members' coupon",
        "amount_off",
        150,
        800,
        None,
        30,
        "tier:diamond",
    ),
    # Campaigns with a claim window and a budget: one running and nearly exhausted, one running
    # with stock, one over, one paused.
    TemplateSpec(
        "FLASH_DIGITAL_999_120",
        "数码限时抢券",
        "Electronics flash coupon",
        "amount_off",
        120,
        999,
        "digital",
        7,
        "all",
        limit_period="campaign",
        stock_left=3,
        window_days=(-3, 4),
        seeded_claim_share=0.06,
    ),
    TemplateSpec(
        "FESTIVAL_400_60",
        "双11狂欢券",
        "Singles' Day coupon",
        "amount_off",
        60,
        400,
        None,
        20,
        "all",
        per_member_limit=2,
        limit_period="campaign",
        stock_left=800,
        window_days=(-5, 27),
        seeded_claim_share=0.10,
    ),
    TemplateSpec(
        "SUMMER_200_25",
        "夏日清凉券",
        "Summer coupon",
        "amount_off",
        25,
        200,
        None,
        14,
        "all",
        limit_period="campaign",
        stock_left=1000,
        window_days=(-120, -60),
    ),
    TemplateSpec(
        "BOOKFAIR_100_25",
        "读书节专享券",
        "Book fair coupon",
        "amount_off",
        25,
        100,
        "books",
        14,
        "all",
        limit_period="campaign",
        stock_left=500,
        window_days=(-10, 20),
        active=False,
    ),
)
TEMPLATE_BY_ID = {t.template_id: t for t in COUPON_TEMPLATES}
TIER_COUPON = {t.audience.split(":", 1)[1]: t.template_id for t in COUPON_TEMPLATES if t.audience.startswith("tier:")}

CITY_EN: dict[str, str] = {
    "上海": "Shanghai",
    "北京": "Beijing",
    "广州": "Guangzhou",
    "深圳": "Shenzhen",
    "杭州": "Hangzhou",
    "成都": "Chengdu",
    "南京": "Nanjing",
    "武汉": "Wuhan",
    "西安": "Xi'an",
    "重庆": "Chongqing",
    "苏州": "Suzhou",
    "天津": "Tianjin",
    "长沙": "Changsha",
    "郑州": "Zhengzhou",
    "青岛": "Qingdao",
    "厦门": "Xiamen",
    "昆明": "Kunming",
    "沈阳": "Shenyang",
    "合肥": "Hefei",
    "宁波": "Ningbo",
}
WAREHOUSES: tuple[tuple[str, str], ...] = (
    ("嘉兴", "Jiaxing"),
    ("广州", "Guangzhou"),
    ("武汉", "Wuhan"),
    ("天津", "Tianjin"),
    ("成都", "Chengdu"),
)
# (Chinese name, English name, tracking number prefix, digits after the prefix, share of parcels)
CARRIERS: tuple[tuple[str, str, str, int, float], ...] = (
    ("顺丰速运", "SF Express", "SF", 13, 0.30),
    ("京东物流", "JD Logistics", "JDVA", 11, 0.25),
    ("中通快递", "ZTO Express", "7", 13, 0.20),
    ("圆通速递", "YTO Express", "YT", 13, 0.15),
    ("韵达快递", "Yunda Express", "43", 11, 0.10),
)
# Shipping timeline texts by step, formatted with warehouse, city and carrier names.
STEP_TEXT: dict[str, tuple[str, str]] = {
    "created": ("订单已提交，等待付款", "Order placed, awaiting payment"),
    "paid": ("付款成功，商家正在备货", "Payment received; the seller is preparing your order"),
    "cancelled_unpaid": ("订单超时未付款，已自动取消", "Order cancelled: payment not received in time"),
    "cancelled": ("订单已取消，款项将原路退回", "Order cancelled; the payment will be refunded"),
    "shipped": (
        "商品已从【{warehouse}仓】发出，{carrier}已揽收",
        "Shipped from the {warehouse_en} warehouse; picked up by {carrier_en}",
    ),
    "hub": ("快件已到达【{warehouse}转运中心】", "Arrived at the {warehouse_en} sorting centre"),
    "city_hub": ("快件已到达【{city}转运中心】", "Arrived at the {city_en} sorting centre"),
    "out_for_delivery": (
        "快件正在派送中（{city}），请保持电话畅通",
        "Out for delivery in {city_en}; please keep your phone reachable",
    ),
    "delivered": (
        "已签收，签收人：本人。感谢使用{carrier}",
        "Delivered and signed for by the recipient. Thank you for choosing {carrier_en}",
    ),
    "return_requested": (
        "已申请七天无理由退货，等待寄回",
        "7-day return requested; waiting for the parcel to come back",
    ),
    "returned": ("退货已入库，退款已原路退回", "Return received; the refund went back to your original payment method"),
    "auto_completed": (
        "签收满7天，系统自动确认收货，交易完成",
        "Receipt confirmed automatically 7 days after delivery; order completed",
    ),
    "completed": ("已确认收货，交易完成", "Receipt confirmed; order completed"),
}
# Timeline event status stored for a step (default: the step's own name).
STEP_STATUS = {
    "cancelled_unpaid": "cancelled",
    "hub": "in_transit",
    "city_hub": "in_transit",
    "auto_completed": "completed",
}
# Order status once its latest event is this one.
ORDER_STATUS_AFTER = {
    "created": "pending_payment",
    "paid": "paid",
    "shipped": "shipped",
    "in_transit": "shipped",
    "out_for_delivery": "shipped",
    "delivered": "delivered",
    "return_requested": "delivered",  # the return is under way, not done
    "completed": "completed",
    "cancelled": "cancelled",
    "returned": "returned",
}
VARIANT_PRICE_FACTOR = (1.0, 1.2, 1.5, 0.8)  # aligned with catalog_data.VARIANTS
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)
# How often members pick each category as a favourite.
CATEGORY_POPULARITY = {
    "beauty": 0.16,
    "apparel": 0.15,
    "digital": 0.11,
    "home": 0.11,
    "food": 0.13,
    "mother_baby": 0.06,
    "sports": 0.09,
    "appliances": 0.07,
    "books": 0.06,
    "pets": 0.06,
}
# Categories with items big enough for gold/diamond spending.
BIG_TICKET_CATEGORIES = ("beauty", "apparel", "digital", "sports", "appliances", "mother_baby")
BRAND_TIERS = ("mass", "mid", "premium")
# Brand-tier taste by target tier (price sensitivity).
BRAND_TIER_TASTE = {
    "normal": (0.55, 0.35, 0.10),
    "silver": (0.35, 0.45, 0.20),
    "gold": (0.20, 0.45, 0.35),
    "diamond": (0.10, 0.35, 0.55),
}
# Target growth value band (yuan) per tier, inside the thresholds with room for rounding and discounts.
GROWTH_TARGET = {"normal": (150, 1700), "silver": (2500, 7200), "gold": (9200, 18000), "diamond": (23000, 42000)}
TYPICAL_BASKET_YUAN = {"normal": 160, "silver": 420, "gold": 1000, "diamond": 2200}
TIER_MIX = {  # target tier mix per lifecycle stage
    "new": (0.86, 0.11, 0.03, 0.0),
    "active": (0.42, 0.32, 0.17, 0.09),
    "dormant": (0.58, 0.27, 0.11, 0.04),
}
LIFECYCLE_MIX = (0.10, 0.62, 0.28)
ACTIVITY_BY_TIER = {"normal": 0.6, "silver": 1.0, "gold": 1.5, "diamond": 2.1}
ACTIVITY_BY_LIFECYCLE = {"new": 0.2, "active": 1.0, "dormant": 0.55}
MAX_ORDERS_NEW_MEMBER = 6
PER_ORDER_GROWTH_YUAN = 7000  # orders needed to reach a growth target: ceil(target / this)
MAX_ITEMS_PER_ORDER = 5
MAX_ATTEMPTS = 20
CANCEL_RATE = 0.04
RETURN_RATE = 0.03
REGISTRATION_BONUS = 100
CHUNK = 5000

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


# --------------------------------------------------------------------------------------------
# Working records
# --------------------------------------------------------------------------------------------


@dataclass
class _Product:
    sku: str
    category: str
    brand: str
    brand_tier: str
    price_cents: int
    launched_at: datetime


@dataclass
class _Plan:
    """What is decided about a member before their history is generated."""

    index: int
    member_id: str
    row: dict[str, Any]
    lifecycle: str
    target_tier: str
    forced: bool
    growth_target_cents: int
    designated: int  # orders placed to carry the growth target
    category_pref: list[float]
    brand_tier_taste: tuple[float, float, float]
    favourite_brand: dict[str, str]
    basket_cents: int
    n_orders: int = 0


@dataclass
class _Order:
    member_index: int
    local_index: int
    created_at: datetime
    city: str
    cancel: bool = False
    ret: bool = False
    status: str = "pending_payment"
    events: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    completed_at: datetime | None = None
    carrier: str | None = None
    tracking_no: str | None = None
    items: list[tuple[_Product, int]] = field(default_factory=list)
    discount_cents: int = 0
    coupon: _Coupon | None = None
    order_id: str = ""

    @property
    def subtotal_cents(self) -> int:
        return sum(p.price_cents * q for p, q in self.items)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents

    def scope_cents(self, category: str | None) -> int:
        return sum(p.price_cents * q for p, q in self.items if category is None or p.category == category)


@dataclass
class _Coupon:
    template: TemplateSpec
    issued_at: datetime
    valid_until: datetime
    status: str = "available"
    order: _Order | None = None
    code: str = ""
    claim_key: str = ""


@dataclass
class _Points:
    at: datetime
    amount: int
    kind: str
    reason: str
    expires_at: datetime | None = None
    order: _Order | None = None


@dataclass
class _History:
    orders: list[_Order]
    coupons: list[_Coupon]
    growth: int
    tier: str
    browse: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, sku, kind)
    points: list[_Points] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _shelf_price_cents(yuan: float) -> int:
    """Shop-style prices: ¥684 -> ¥689, ¥11.4 -> ¥11.9."""
    if yuan >= 20:
        return (max(int(round(yuan / 10)) * 10 - 1, 19)) * 100
    return int(math.floor(yuan)) * 100 + 90


def _uniform_time(rnd: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    seconds = (end - start).total_seconds()
    return (start + timedelta(seconds=rnd.uniform(0, seconds))).replace(microsecond=0)


def _weighted(rnd: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rnd.choices(items, weights=weights, k=1)[0]


def _dirichlet(rnd: random.Random, alpha: float, n: int) -> list[float]:
    draws = [rnd.gammavariate(alpha, 1.0) for _ in range(n)]
    total = sum(draws) or 1.0
    return [d / total for d in draws]


def _year_ends_between(start: datetime, end: datetime) -> list[datetime]:
    """Points expiry instants (31 Dec 23:59:59) after ``start`` and before ``end``."""
    return [
        datetime(year, 12, 31, 23, 59, 59)
        for year in range(start.year, end.year + 1)
        if start < datetime(year, 12, 31, 23, 59, 59) < end
    ]


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


class _Generator:
    def __init__(self, *, n_members: int, n_orders: int, seed: int, as_of: date) -> None:
        if n_members < 1:
            raise ValueError("members must be at least 1")
        if n_orders < n_members:
            raise ValueError(f"orders ({n_orders}) must be at least members ({n_members}): every member owns an order")
        self.n_members = n_members
        self.n_orders = n_orders
        self.seed = seed
        self.ref = datetime.combine(as_of, time(0, 0))
        self.rng = np.random.default_rng(seed)

    # ---- catalogue ------------------------------------------------------------------------

    def build_products(self) -> None:
        rng, ref = self.rng, self.ref
        products: list[_Product] = []
        self.product_rows: list[dict[str, Any]] = []
        for brand in BRANDS:
            for line_zh, line_en, base_price, tags in PRODUCT_LINES[brand.category]:
                n_variants = int(rng.integers(2, 4))
                for v in sorted(rng.choice(len(VARIANTS), size=n_variants, replace=False).tolist()):
                    variant_zh, variant_en = VARIANTS[v]
                    sku = f"SKU{10001 + len(products)}"
                    roll = rng.random()
                    if roll < 0.75:
                        launched = ref - timedelta(days=float(rng.uniform(4 * 365, 6 * 365)))
                    elif roll < 0.92:
                        launched = ref - timedelta(days=float(rng.uniform(31, 4 * 365)))
                    else:
                        launched = ref - timedelta(days=float(rng.uniform(1, 29)))
                    launched = launched.replace(microsecond=0)
                    price = _shelf_price_cents(base_price * TIER_PRICE_FACTOR[brand.tier] * VARIANT_PRICE_FACTOR[v])
                    stock = 0 if rng.random() < 0.08 else int(rng.integers(5, 800))
                    product_tags = [*tags, variant_zh]
                    if launched > ref - timedelta(days=30):
                        product_tags.append("新品")
                    if brand.tier == "premium":
                        product_tags.append("大牌")
                    products.append(_Product(sku, brand.category, brand.key, brand.tier, price, launched))
                    self.product_rows.append(
                        {
                            "sku": sku,
                            "title_zh": f"{brand.zh} {line_zh} {variant_zh}",
                            "title_en": f"{brand.en} {line_en} - {variant_en}",
                            "category": brand.category,
                            "brand": brand.key,
                            "price": _cents_to_decimal(price),
                            "tags": product_tags,
                            "stock": stock,
                            "launched_at": launched,
                        }
                    )
        self.by_category: dict[str, list[_Product]] = {}
        for product in sorted(products, key=lambda p: (p.launched_at, p.sku)):
            self.by_category.setdefault(product.category, []).append(product)
        self.launch_times = {c: [p.launched_at for p in ps] for c, ps in self.by_category.items()}
        self.max_price = {c: max(p.price_cents for p in ps) for c, ps in self.by_category.items()}

    def available(self, category: str, at: datetime) -> list[_Product]:
        """Products of the category already launched at ``at``."""
        pool = self.by_category.get(category, [])
        return pool[: bisect_right(self.launch_times.get(category, []), at)]

    # ---- members --------------------------------------------------------------------------

    def plan_members(self) -> list[_Plan]:
        rng, ref, n = self.rng, self.ref, self.n_members
        combos = [(tier.code, stage) for tier in TIERS for stage in LIFECYCLES]
        forced_at = {int(i): combos[j] for j, i in enumerate(rng.choice(n, size=min(n, len(combos)), replace=False))}
        city_weights = np.linspace(2.0, 0.6, len(CITIES))
        city_weights /= city_weights.sum()
        cat_prior = np.array([CATEGORY_POPULARITY[c] for c in CATEGORY_KEYS])
        cat_prior /= cat_prior.sum()
        phones: set[str] = set()
        plans: list[_Plan] = []
        weights: list[float] = []
        for i in range(n):
            member_id = f"M{100001 + i}"
            if i in forced_at:
                target_tier, stage = forced_at[i]
                forced = True
            else:
                stage = LIFECYCLES[int(rng.choice(3, p=LIFECYCLE_MIX))]
                target_tier = TIERS[int(rng.choice(4, p=TIER_MIX[stage]))].code
                forced = False
            high = target_tier != "normal"

            if stage == "new":
                days_ago = rng.uniform(16, 29.5) if high else rng.uniform(1, 29.5)
            elif stage == "active":
                days_ago = rng.uniform(31, 4 * 365)
            else:
                days_ago = rng.uniform(200, 5 * 365)
            registered = (ref - timedelta(days=float(days_ago))).replace(microsecond=0)

            gender = ("F", "M", "U")[int(rng.choice(3, p=(0.58, 0.38, 0.04)))]
            given_pool = (
                GIVEN_NAMES_FEMALE
                if gender == "F"
                else GIVEN_NAMES_MALE
                if gender == "M"
                else (GIVEN_NAMES_FEMALE + GIVEN_NAMES_MALE)
            )
            name = SURNAMES[int(rng.integers(len(SURNAMES)))] + given_pool[int(rng.integers(len(given_pool)))]
            birthday: date | None = None
            if rng.random() >= 0.03:
                birthday = ref.date() - timedelta(days=int(rng.uniform(18 * 365.25, 62 * 365.25)))
                if birthday.month == 2 and birthday.day == 29:
                    birthday = birthday.replace(day=28)
            while True:
                phone = "1" + "35789"[int(rng.integers(5))] + "".join(str(d) for d in rng.integers(0, 10, size=9))
                if phone not in phones:
                    phones.add(phone)
                    break
            consent = bool(rng.random() >= 0.05)
            consent_at = (
                registered
                if consent
                else (registered + (ref - _HOUR - registered) * float(rng.random())).replace(microsecond=0)
            )
            language = "zh" if rng.random() < 0.85 else "en"

            n_fav = int(rng.integers(2, 4))
            favourites = [
                CATEGORY_KEYS[j] for j in rng.choice(len(CATEGORY_KEYS), size=n_fav, replace=False, p=cat_prior)
            ]
            if target_tier in ("gold", "diamond") and not set(favourites) & set(BIG_TICKET_CATEGORIES):
                candidates = [c for c in BIG_TICKET_CATEGORIES if c not in favourites]
                favourites[-1] = candidates[int(rng.integers(len(candidates)))]
            fav_weights = rng.dirichlet([2.0] * n_fav)
            pref = [0.1 / len(CATEGORY_KEYS)] * len(CATEGORY_KEYS)
            for key, w in zip(favourites, fav_weights, strict=True):
                pref[CATEGORY_KEYS.index(key)] += 0.9 * float(w)
            taste_noise = rng.dirichlet([1.0, 1.0, 1.0])
            taste = tuple(
                0.7 * b + 0.3 * float(t) for b, t in zip(BRAND_TIER_TASTE[target_tier], taste_noise, strict=True)
            )
            favourite_brand = {}
            for key in CATEGORY_KEYS:
                brands = [b.key for b in BRANDS if b.category == key]
                favourite_brand[key] = brands[int(rng.integers(len(brands)))]

            lo, hi = GROWTH_TARGET[target_tier]
            growth_target = int(rng.uniform(lo, hi)) * 100
            designated = math.ceil(growth_target / 100 / PER_ORDER_GROWTH_YUAN) if high else 0
            basket = int(TYPICAL_BASKET_YUAN[target_tier] * float(rng.lognormal(0, 0.35)) * 100)
            tenure_years = (ref - registered).days / 365
            weights.append(
                float(rng.lognormal(0, 0.6))
                * ACTIVITY_BY_TIER[target_tier]
                * ACTIVITY_BY_LIFECYCLE[stage]
                * max(min(tenure_years, 3.0), 0.3) ** 0.5
            )
            plans.append(
                _Plan(
                    index=i,
                    member_id=member_id,
                    row={
                        "member_id": member_id,
                        "name": name,
                        "gender": gender,
                        "birthday": birthday,
                        "city": CITIES[int(rng.choice(len(CITIES), p=city_weights))],
                        "phone": phone,
                        "registered_at": registered,
                        "consent_personalization": consent,
                        "consent_updated_at": consent_at,
                        "preferred_language": language,
                    },
                    lifecycle=stage,
                    target_tier=target_tier,
                    forced=forced,
                    growth_target_cents=growth_target,
                    designated=designated,
                    category_pref=pref,
                    brand_tier_taste=taste,  # type: ignore[arg-type]
                    favourite_brand=favourite_brand,
                    basket_cents=basket,
                )
            )
        self._allocate_orders(plans, weights)
        return plans

    def _allocate_orders(self, plans: list[_Plan], weights: list[float]) -> None:
        """Every member gets the orders their plan needs; the rest follow activity weights."""
        minimum = [max(1, p.designated + (1 if p.lifecycle == "active" else 0)) for p in plans]
        spare = self.n_orders - sum(minimum)
        if spare < 0:
            raise ValueError(f"orders ({self.n_orders}) too few for the members' histories (need {sum(minimum)})")
        w = np.array(weights)
        extra = self.rng.multinomial(spare, w / w.sum())
        counts = [m + int(e) for m, e in zip(minimum, extra, strict=True)]
        # New members joined less than 30 days ago: cap them and give the excess to active members.
        excess = 0
        for i, plan in enumerate(plans):
            if plan.lifecycle == "new" and counts[i] > max(MAX_ORDERS_NEW_MEMBER, minimum[i]):
                cap = max(MAX_ORDERS_NEW_MEMBER, minimum[i])
                excess += counts[i] - cap
                counts[i] = cap
        if excess:
            receivers = [i for i, p in enumerate(plans) if p.lifecycle != "new"] or list(range(len(plans)))
            rw = w[receivers]
            for i, e in zip(receivers, self.rng.multinomial(excess, rw / rw.sum()), strict=True):
                counts[i] += int(e)
        for plan, count in zip(plans, counts, strict=True):
            plan.n_orders = count

    # ---- one member's history ---------------------------------------------------------------

    def member_history(self, plan: _Plan) -> _History:
        """Generate the member's history, retrying until it lands in the target tier."""
        history: _History | None = None
        for attempt in range(MAX_ATTEMPTS):
            rnd = random.Random(f"{self.seed}:{plan.index}:{attempt}")
            history = self._orders_and_coupons(plan, rnd)
            if history.tier == plan.target_tier:
                break
        assert history is not None
        if plan.forced and history.tier != plan.target_tier:
            raise RuntimeError(f"could not give {plan.member_id} the tier {plan.target_tier}")
        history.browse = self._browse(plan, rnd)
        history.points = self._points(plan, history, rnd)
        history.coupons.extend(self._campaign_claims(plan, rnd))  # drawn last: the rest stays put
        return history

    def campaign_window(self, template: TemplateSpec) -> tuple[datetime | None, datetime | None]:
        """A template's claim window as instants (None = open-ended)."""
        if template.window_days is None:
            return None, None
        start_days, end_days = template.window_days
        return self.ref + timedelta(days=start_days), self.ref + timedelta(days=end_days) - timedelta(seconds=1)

    def _campaign_claims(self, plan: _Plan, rnd: random.Random) -> list[_Coupon]:
        """Claims of windowed campaigns by this member, between the window's start and the as-of instant."""
        claims = []
        for template in COUPON_TEMPLATES:
            if template.seeded_claim_share <= 0:
                continue
            start, end = self.campaign_window(template)
            roll = rnd.random()
            first = max(start or plan.row["registered_at"], plan.row["registered_at"])
            if roll >= template.seeded_claim_share or first >= self.ref - _HOUR:
                continue
            issued_at = _uniform_time(rnd, first, self.ref - _HOUR)
            claims.append(
                _Coupon(
                    template=template,
                    issued_at=issued_at,
                    valid_until=coupon_valid_until(
                        valid_days=template.valid_days, template_valid_until=end, claimed_at=issued_at
                    ),
                    claim_key=claim_key(template.limit_period, issued_at, 1),
                )
            )
        return claims

    def _order_times(self, plan: _Plan, rnd: random.Random) -> list[tuple[datetime, bool]]:
        ref, reg = self.ref, plan.row["registered_at"]
        year_ago = ref - timedelta(days=GROWTH_WINDOW_DAYS - 1)
        # A timeline reaches "completed" within 12 days, so orders placed 13+ days ago can count.
        if plan.lifecycle == "dormant":
            designated_range = (max(reg, year_ago) + _HOUR, ref - timedelta(days=DORMANT_DAYS + 1))
            free_range = (reg + _HOUR, ref - timedelta(days=DORMANT_DAYS + 1))
        else:
            designated_range = (max(reg, year_ago) + _HOUR, ref - timedelta(days=13))
            free_range = (reg + _HOUR, ref - _HOUR)
        times = [(_uniform_time(rnd, *designated_range), True) for _ in range(plan.designated)]
        if plan.lifecycle == "active":
            recent_start = max(reg, ref - timedelta(days=DORMANT_DAYS - 1))
            times.append((_uniform_time(rnd, recent_start, ref - _HOUR), False))
        while len(times) < plan.n_orders:
            times.append((_uniform_time(rnd, *free_range), False))
        return sorted(times, key=lambda t: t[0])

    def _timeline(self, order: _Order, rnd: random.Random) -> None:
        """Shipping timeline of the order, cut at the as-of instant; sets status and carrier."""
        warehouse_zh, warehouse_en = WAREHOUSES[rnd.randrange(len(WAREHOUSES))]
        carrier_zh, carrier_en, prefix, digits, _ = _weighted(rnd, CARRIERS, [c[4] for c in CARRIERS])
        t = order.created_at
        steps = [(t, "created")]

        def step(key: str, delay: timedelta) -> None:
            nonlocal t
            t += delay
            steps.append((t, key))

        if order.cancel and rnd.random() < 0.4:
            step("cancelled_unpaid", timedelta(minutes=rnd.uniform(5, 30)))
        else:
            step("paid", timedelta(minutes=rnd.uniform(1, 30)))
            if order.cancel:
                step("cancelled", timedelta(hours=rnd.uniform(0.5, 20)))
            else:
                step("shipped", timedelta(hours=rnd.uniform(2, 30)))
                step("hub", timedelta(hours=rnd.uniform(4, 20)))
                step("city_hub", timedelta(hours=rnd.uniform(6, 20)))
                step("out_for_delivery", timedelta(hours=rnd.uniform(6, 40)))
                step("delivered", timedelta(hours=rnd.uniform(1, 6)))
                if order.ret:
                    step("return_requested", timedelta(days=rnd.uniform(0.5, 5)))
                    step("returned", timedelta(days=rnd.uniform(2, 5)))
                elif rnd.random() < 0.4:
                    step("auto_completed", timedelta(days=7))
                else:
                    step("completed", timedelta(days=rnd.uniform(0.2, 6.5)))

        names = {
            "warehouse": warehouse_zh,
            "warehouse_en": warehouse_en,
            "city": order.city,
            "city_en": CITY_EN.get(order.city, order.city),
            "carrier": carrier_zh,
            "carrier_en": carrier_en,
        }
        order.events = [
            (
                at.replace(microsecond=0),
                STEP_STATUS.get(key, key),
                STEP_TEXT[key][0].format(**names),
                STEP_TEXT[key][1].format(**names),
            )
            for at, key in steps
            if at < self.ref
        ]
        last = order.events[-1][1]
        order.status = ORDER_STATUS_AFTER[last]
        order.completed_at = order.events[-1][0] if last == "completed" else None
        if any(e[1] == "shipped" for e in order.events):
            order.carrier = carrier_zh
            order.tracking_no = prefix + "".join(str(rnd.randrange(10)) for _ in range(digits))

    def _fill(self, plan: _Plan, order: _Order, target_cents: int, rnd: random.Random) -> None:
        """Pick items from the member's favourite categories and brand tiers, close to the target amount."""
        remaining = target_cents
        used: set[str] = set()
        for _ in range(MAX_ITEMS_PER_ORDER * 2):
            if len(order.items) >= MAX_ITEMS_PER_ORDER:
                break
            # Big amounts go to categories that have big-ticket items.
            weights = [
                p * min(1.0, self.max_price[c] / max(remaining, 1))
                for c, p in zip(CATEGORY_KEYS, plan.category_pref, strict=True)
            ]
            category = _weighted(rnd, CATEGORY_KEYS, weights)
            pool = [p for p in self.available(category, order.created_at) if p.sku not in used]
            if not pool:
                continue
            present = [bt for bt in BRAND_TIERS if any(p.brand_tier == bt for p in pool)]
            taste = [plan.brand_tier_taste[BRAND_TIERS.index(bt)] for bt in present]
            brand_tier = _weighted(rnd, present, taste)
            fits = [p for p in pool if p.brand_tier == brand_tier and p.price_cents <= remaining]
            fits = fits or [p for p in pool if p.price_cents <= remaining]
            if not fits:
                if order.items:
                    break
                fits = [min(pool, key=lambda p: (p.price_cents, p.sku))]
            loyal = [p for p in fits if p.brand == plan.favourite_brand[category]]
            if loyal and rnd.random() < 0.5:
                fits = loyal
            product = fits[rnd.randrange(len(fits))]
            price = product.price_cents
            usual = (1, 1, 2, 2, 3) if price < 10000 else (1, 1, 1, 2) if price < 30000 else (1,)
            # Big spenders in categories without big-ticket items buy several (gifts, stocking up).
            needed = math.ceil(remaining / (price * (MAX_ITEMS_PER_ORDER - len(order.items))))
            quantity = max(1, min(remaining // price, max(rnd.choice(usual), min(needed, 6))))
            order.items.append((product, quantity))
            used.add(product.sku)
            remaining -= price * quantity
            if remaining <= max(target_cents * 0.08, 2000):
                break

    def _orders_and_coupons(self, plan: _Plan, rnd: random.Random) -> _History:
        ref = self.ref
        orders = []
        for j, (created, designated) in enumerate(self._order_times(plan, rnd)):
            order = _Order(plan.index, j, created, plan.row["city"])
            if not designated:
                order.cancel = rnd.random() < CANCEL_RATE
                order.ret = not order.cancel and rnd.random() < RETURN_RATE
            self._timeline(order, rnd)
            orders.append(order)

        window_start = ref - timedelta(days=GROWTH_WINDOW_DAYS)
        counted = [o for o in orders if o.status == "completed" and o.created_at > window_start]
        shares = _dirichlet(rnd, 4.0, len(counted)) if counted else []
        targets = {id(o): int(plan.growth_target_cents * s) for o, s in zip(counted, shares, strict=True)}
        shortfall = 0  # what earlier counted orders missed of their share, carried to the next one
        for order in orders:
            if id(order) in targets:
                target = targets[id(order)] + shortfall
                self._fill(plan, order, max(target, 1000), rnd)
                shortfall = target - order.subtotal_cents
            else:
                self._fill(plan, order, max(int(plan.basket_cents * rnd.lognormvariate(0, 0.5)), 1000), rnd)

        coupons = self._coupons(plan, orders, rnd)
        growth = sum(o.total_cents for o in counted) // 100
        return _History(orders=orders, coupons=coupons, growth=growth, tier=tier_for_growth(growth, TIER_THRESHOLDS))

    def _coupons(self, plan: _Plan, orders: list[_Order], rnd: random.Random) -> list[_Coupon]:
        ref, reg = self.ref, plan.row["registered_at"]
        issues: list[tuple[str, datetime, float]] = [("WELCOME_99_20", reg, 0.8)]  # (template, issued, use rate)
        birthday: date | None = plan.row["birthday"]
        if birthday is not None:
            for year in (ref.year - 1, ref.year):
                start = datetime(year, birthday.month, 1)
                if reg <= start <= ref and start > ref - timedelta(days=400):
                    issues.append(("BIRTHDAY_200_50", start, 0.6))
        if plan.lifecycle == "dormant":
            issues.append(("WINBACK_150_40", _uniform_time(rnd, ref - timedelta(days=10), ref - _HOUR), 0.0))
        if plan.target_tier != "normal":
            month = datetime(ref.year, ref.month, 1)
            for _ in range(3):
                if month >= reg:
                    issues.append((TIER_COUPON[plan.target_tier], month, 0.6))
                month = (month - _DAY).replace(day=1)
        favourites = sorted(range(len(CATEGORY_KEYS)), key=lambda j: -plan.category_pref[j])[:3]
        for _ in range(rnd.choice((0, 1, 1, 2, 2, 3, 4))):
            if rnd.random() < 0.45:
                template_id = rnd.choice(("SHOP_300_50", "SHOP_199_95"))
            else:
                template_id = f"CAT_{CATEGORY_KEYS[rnd.choice(favourites)].upper()}"
            start = max(reg, ref - timedelta(days=GROWTH_WINDOW_DAYS))
            issues.append((template_id, _uniform_time(rnd, start, ref - _HOUR), 0.5))

        coupons = []
        claimed: Counter[tuple[str, str]] = Counter()  # (template, claim period) -> claims
        for template_id, issued_at, use_rate in sorted(issues, key=lambda x: (x[1], x[0])):
            template = TEMPLATE_BY_ID[template_id]
            roll = rnd.random()  # drawn even for a skipped claim, so later draws stay where they were
            slot = (template_id, period_key(template.limit_period, issued_at))
            if claimed[slot] >= template.per_member_limit:
                continue  # the template's per-member limit allows no more claims in this period
            claimed[slot] += 1
            coupon = _Coupon(
                template=template,
                issued_at=issued_at,
                valid_until=issued_at + timedelta(days=template.valid_days) - timedelta(seconds=1),
                claim_key=claim_key(template.limit_period, issued_at, claimed[slot]),
            )
            if roll < use_rate:
                for order in orders:
                    if (
                        coupon.issued_at <= order.created_at <= coupon.valid_until
                        and order.coupon is None
                        and order.status != "cancelled"
                        and order.scope_cents(template.category) >= template.min_spend * 100
                    ):
                        scope = order.scope_cents(template.category)
                        off = template.value * 100 if template.kind == "amount_off" else scope * template.value // 100
                        order.discount_cents = min(off, scope)
                        order.coupon = coupon
                        coupon.order = order
                        coupon.status = "used"
                        break
            if coupon.status == "available" and coupon.valid_until < ref:
                coupon.status = "expired"
            coupons.append(coupon)
        return coupons

    def _browse(self, plan: _Plan, rnd: random.Random) -> list[tuple[datetime, str, str]]:
        ref, reg = self.ref, plan.row["registered_at"]
        count = min(80, max(2, int(rnd.gauss(6 + 1.5 * plan.n_orders, 4))))
        events = []
        for _ in range(count):
            if plan.lifecycle == "dormant":
                at = (
                    _uniform_time(rnd, reg, ref - timedelta(days=DORMANT_DAYS + 1))
                    if rnd.random() < 0.88
                    else _uniform_time(rnd, ref - timedelta(days=60), ref - _HOUR)
                )
            elif rnd.random() < 0.6:
                at = _uniform_time(rnd, max(reg, ref - timedelta(days=45)), ref - _HOUR)
            else:
                at = _uniform_time(rnd, reg, ref - _HOUR)
            category = _weighted(rnd, CATEGORY_KEYS, plan.category_pref)
            pool = self.available(category, at)
            if not pool:
                continue
            fresh = [p for p in pool if p.launched_at > at - timedelta(days=45)]
            if fresh and rnd.random() < 0.15:
                pool = fresh
            present = [bt for bt in BRAND_TIERS if any(p.brand_tier == bt for p in pool)]
            brand_tier = _weighted(rnd, present, [plan.brand_tier_taste[BRAND_TIERS.index(bt)] for bt in present])
            pool = [p for p in pool if p.brand_tier == brand_tier]
            loyal = [p for p in pool if p.brand == plan.favourite_brand[category]]
            if loyal and rnd.random() < 0.4:
                pool = loyal
            kind = _weighted(rnd, ("view", "cart", "favorite"), (0.78, 0.12, 0.10))
            events.append((at, pool[rnd.randrange(len(pool))].sku, kind))
        return sorted(events)

    def _points(self, plan: _Plan, history: _History, rnd: random.Random) -> list[_Points]:
        """Ledger: sign-up bonus, earnings per completed order, FIFO redemptions, year-end expiries."""
        ref, reg = self.ref, plan.row["registered_at"]
        entries = [_Points(reg, REGISTRATION_BONUS, "earn", "新会员注册礼", end_of_next_year(reg))]
        completed = sorted((o for o in history.orders if o.completed_at), key=lambda o: o.completed_at)  # type: ignore[arg-type, return-value]
        timeline: list[tuple[datetime, int, Any]] = [(o.completed_at, 0, o) for o in completed]  # type: ignore[misc]
        if rnd.random() < 0.45 and ref - reg > timedelta(days=30):
            for _ in range(rnd.choice((1, 1, 2, 3))):
                timeline.append((_uniform_time(rnd, reg + timedelta(days=20), ref - _HOUR), 1, None))
        timeline.extend((at, 2, None) for at in _year_ends_between(reg, ref))

        def as_lines() -> list[LedgerLine]:
            return [LedgerLine(e.at, e.amount, e.kind, e.expires_at) for e in entries]

        for at, kind, order in sorted(timeline, key=lambda x: (x[0], x[1])):
            if kind == 0:
                window_start = at - timedelta(days=GROWTH_WINDOW_DAYS)
                growth = (
                    sum(
                        o.total_cents
                        for o in completed
                        if o.completed_at <= at and o.created_at > window_start  # type: ignore[operator]
                    )
                    // 100
                )
                multiplier = TIER_BY_CODE[tier_for_growth(growth, TIER_THRESHOLDS)].multiplier
                earned = int(Decimal(order.total_cents) * multiplier) // 100
                if earned > 0:
                    entries.append(_Points(at, earned, "earn", "购物奖励", end_of_next_year(at), order))
            elif kind == 1:
                balance = balance_of(replay_ledger(as_lines(), now=at), now=at)
                options = [a for a in (100, 200, 300, 500, 1000, 2000, 5000) if a <= balance]
                if options:
                    reason = rnd.choice(("积分抵现", "兑换10元无门槛券", "兑换礼品：保温杯", "兑换礼品：帆布袋"))
                    entries.append(_Points(at, -rnd.choice(options), "redeem", reason))
            else:
                lapsing = sum(lot.remaining for lot in replay_ledger(as_lines(), now=at) if lot.expires_at == at)
                if lapsing > 0:
                    entries.append(_Points(at, -lapsing, "expire", f"{at.year - 1}年获得的积分到期"))
        return entries


# --------------------------------------------------------------------------------------------
# Rows and writing
# --------------------------------------------------------------------------------------------


@dataclass
class DemoData:
    """Rows per model, in insert order."""

    rows: dict[type[Base], list[dict[str, Any]]]

    def counts(self) -> dict[str, int]:
        return {model.__tablename__: len(rows) for model, rows in self.rows.items()}


def generate_demo_data(*, members: int, orders: int, seed: int, as_of: date, progress: bool = False) -> DemoData:
    """Build every demo row in memory (no database needed).

    Args:
        members: number of members (at least 12 to cover every tier x lifecycle stage).
        orders: number of orders (at least one per member).
        seed: random seed; the same seed and ``as_of`` give the same rows.
        as_of: the data end just before midnight at the start of this date.
        progress: show a progress bar on stderr.

    Raises:
        ValueError: for sizes that cannot be satisfied.
    """
    gen = _Generator(n_members=members, n_orders=orders, seed=seed, as_of=as_of)
    gen.build_products()
    plans = gen.plan_members()
    histories = [
        gen.member_history(plan)
        for plan in tqdm(plans, desc="members", unit="member", file=sys.stderr, disable=not progress)
    ]
    _check_coverage(gen, plans, histories)
    _assign_order_ids(gen, histories)
    _assign_coupon_codes(gen, histories)

    tier_rows = [
        {
            "code": t.code,
            "rank": t.rank,
            "name_zh": t.name_zh,
            "name_en": t.name_en,
            "threshold": t.threshold,
            "points_multiplier": t.multiplier,
            "benefits_zh": list(t.benefits_zh),
            "benefits_en": list(t.benefits_en),
            "perks": dict(TIER_PERKS[t.code]),
        }
        for t in TIERS
    ]
    issued = Counter(c.template.template_id for h in histories for c in h.coupons)
    template_rows = [
        {
            "template_id": t.template_id,
            "title_zh": t.title_zh,
            "title_en": t.title_en,
            "kind": t.kind,
            "value": Decimal(t.value),
            "min_spend": Decimal(t.min_spend),
            "category": t.category,
            "valid_days": t.valid_days,
            "audience": t.audience,
            "valid_from": gen.campaign_window(t)[0],
            "valid_until": gen.campaign_window(t)[1],
            "per_member_limit": t.per_member_limit,
            "limit_period": t.limit_period,
            "issued_count": issued[t.template_id],
            "total_stock": None if t.stock_left is None else issued[t.template_id] + t.stock_left,
            "active": t.active,
        }
        for t in COUPON_TEMPLATES
    ]
    member_rows, order_rows, item_rows, event_rows, browse_rows, coupon_rows, point_rows = [], [], [], [], [], [], []
    for plan, history in zip(plans, histories, strict=True):
        member_rows.append({**plan.row, "tier_code": history.tier, "growth_value": history.growth})
        for order in history.orders:
            order_rows.append(
                {
                    "order_id": order.order_id,
                    "member_id": plan.member_id,
                    "created_at": order.created_at,
                    "status": order.status,
                    "total_amount": _cents_to_decimal(order.total_cents),
                    "shipping_city": order.city,
                    "carrier": order.carrier,
                    "tracking_no": order.tracking_no,
                    "coupon_code": order.coupon.code if order.coupon else None,
                }
            )
            item_rows.extend(
                {
                    "order_id": order.order_id,
                    "sku": p.sku,
                    "quantity": q,
                    "unit_price": _cents_to_decimal(p.price_cents),
                }
                for p, q in order.items
            )
            event_rows.extend(
                {"order_id": order.order_id, "at": at, "status": status, "description_zh": zh, "description_en": en}
                for at, status, zh, en in order.events
            )
        browse_rows.extend(
            {"member_id": plan.member_id, "sku": sku, "at": at, "kind": kind} for at, sku, kind in history.browse
        )
        coupon_rows.extend(
            {
                "code": c.code,
                "member_id": plan.member_id,
                "template_id": c.template.template_id,
                "issued_at": c.issued_at,
                "valid_from": c.issued_at,
                "valid_until": c.valid_until,
                "status": c.status,
                "used_at": c.order.created_at if c.order else None,
                "order_id": c.order.order_id if c.order else None,
                "claim_key": c.claim_key,
            }
            for c in history.coupons
        )
        point_rows.extend(
            {
                "member_id": plan.member_id,
                "at": e.at,
                "amount": e.amount,
                "kind": e.kind,
                "reason": f"{e.reason} {e.order.order_id}" if e.order else e.reason,
                "order_id": e.order.order_id if e.order else None,
                "expires_at": e.expires_at,
            }
            for e in history.points
        )
    order_rows.sort(key=lambda r: r["order_id"])
    return DemoData(
        rows={
            Tier: tier_rows,
            Product: gen.product_rows,
            Member: member_rows,
            CouponTemplate: template_rows,
            Order: order_rows,
            OrderItem: item_rows,
            ShipmentEvent: event_rows,
            BrowseEvent: browse_rows,
            Coupon: coupon_rows,
            PointsEntry: point_rows,
        }
    )


def _check_coverage(gen: _Generator, plans: list[_Plan], histories: list[_History]) -> None:
    """Every member's stage is what was planned, and every tier x stage has a member (when there are 12+)."""
    covered = set()
    for plan, history in zip(plans, histories, strict=True):
        stage = lifecycle_stage(
            registered_at=plan.row["registered_at"],
            last_order_at=max(o.created_at for o in history.orders),
            now=gen.ref,
        )
        if stage != plan.lifecycle:
            raise RuntimeError(f"{plan.member_id} came out {stage}, planned {plan.lifecycle}")
        covered.add((history.tier, stage))
    if len(plans) >= len(TIERS) * len(LIFECYCLES):
        missing = {(t.code, s) for t in TIERS for s in LIFECYCLES} - covered
        if missing:
            raise RuntimeError(f"no member for tier x lifecycle {sorted(missing)}")


def _assign_order_ids(gen: _Generator, histories: list[_History]) -> None:
    """``DD`` + yyyymmdd + a 4-digit daily sequence that starts at a day-specific offset."""
    all_orders = sorted(
        (o for h in histories for o in h.orders), key=lambda o: (o.created_at, o.member_index, o.local_index)
    )
    steps = gen.rng.integers(1, 8, size=len(all_orders))
    day: date | None = None
    sequence = 0
    for order, step in zip(all_orders, steps, strict=True):
        if order.created_at.date() != day:
            day = order.created_at.date()
            sequence = 1 + (day.toordinal() * 7919) % 3000
        else:
            sequence += int(step) if sequence + int(step) <= 9999 else 1
        if sequence > 9999:
            raise ValueError(f"too many orders on {day} for 4-digit order numbers")
        order.order_id = f"DD{day:%Y%m%d}{sequence:04d}"


def _assign_coupon_codes(gen: _Generator, histories: list[_History]) -> None:
    """``CP`` + 8 characters from an alphabet without look-alikes (no 0/O, 1/I)."""
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    seen: set[str] = set()
    for coupon in (c for h in histories for c in h.coupons):
        while True:
            code = "CP" + "".join(alphabet[gen.rng.integers(0, len(alphabet), size=8)])
            if code not in seen:
                seen.add(code)
                coupon.code = code
                break


def write_demo_data(engine: Engine, data: DemoData, *, progress: bool = False) -> None:
    """Drop and recreate every table, then bulk-insert the rows in one transaction."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    total = sum(len(rows) for rows in data.rows.values())
    with (
        Session(engine) as session,
        tqdm(total=total, desc="writing", unit="row", file=sys.stderr, disable=not progress) as bar,
    ):
        for model, rows in data.rows.items():
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                session.execute(insert(model), chunk)
                bar.update(len(chunk))
        session.commit()


def seed_database(
    engine: Engine,
    *,
    members: int,
    orders: int,
    seed: int,
    as_of: date | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Drop and recreate every table and fill them with deterministic demo data.

    Args:
        engine: the database to (re)build.
        members: number of members (``Settings.demo_members``).
        orders: number of orders (``Settings.demo_orders``).
        seed: random seed (``Settings.seed``).
        as_of: the last day before the data end (default: today).
        progress: show progress bars on stderr.

    Returns:
        ``{"as_of", "seed", "seconds", "counts": {table: rows}}``.
    """
    as_of = as_of or date.today()
    started = clock.perf_counter()
    data = generate_demo_data(members=members, orders=orders, seed=seed, as_of=as_of, progress=progress)
    write_demo_data(engine, data, progress=progress)
    return {
        "as_of": as_of.isoformat(),
        "seed": seed,
        "seconds": round(clock.perf_counter() - started, 2),
        "counts": data.counts(),
    }


__all__ = ["COUPON_TEMPLATES", "TIERS", "DemoData", "generate_demo_data", "seed_database", "write_demo_data"]
