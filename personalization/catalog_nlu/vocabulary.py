"""The words the parser knows: brands, categories and product lines, from the catalog data or the
products table, plus the price bands behind "便宜点的" / "high-end".

Built from ``catalog_data`` (no database needed) or, given a session, from the ``products``
table: then product lines, keywords and price bands follow the real shelf.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from personalization.catalog_data import BRANDS, CATEGORIES, PRODUCT_LINES, TIER_PRICE_FACTOR, VARIANTS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TermLabel = Literal["brand", "category", "product"]

# Words members use that the catalog data does not list: product types that name a category,
# and product names that name a brand. Parser vocabulary only; Rasa's synonyms stay as they are.
EXTRA_CATEGORY_TERMS: dict[str, tuple[str, ...]] = {
    "beauty": ("精华液", "面膜", "防晒", "防晒霜", "洁面", "洗面奶", "粉底", "眼霜", "香水",
               "lipstick", "serum", "sunscreen", "skin care", "face cream", "moisturizer", "perfume"),
    "apparel": ("羽绒服", "T恤", "牛仔裤", "裙子", "连衣裙", "卫衣", "开衫", "毛衣", "裤子", "托特包",
                "围巾", "帽子", "袜子", "双肩包",
                "jacket", "jeans", "t-shirt", "dress", "sweater", "coat", "cardigan", "tote bag"),
    "digital": ("笔记本电脑", "平板电脑", "蓝牙耳机", "智能手机", "智能手表", "手表", "充电器",
                "earphones", "earbuds", "headphones", "laptop", "tablet", "smartphone", "smart watch", "charger"),
    "home": ("枕头", "毛毯", "被子", "餐具", "加湿器", "pillow", "blanket", "bedding", "dinnerware"),
    "food": ("牛肉干", "芒果干", "面包", "nuts", "milk", "jerky", "bread"),
    "mother_baby": ("婴儿车", "推车", "湿巾", "安全座椅", "stroller", "diaper", "baby formula", "car seat"),
    "sports": ("跑步鞋", "篮球鞋", "球鞋", "瑜伽垫", "冲锋衣", "登山包", "sneakers", "running shoes", "trainers",
               "yoga mat", "basketball shoes", "sportswear"),
    "appliances": ("电饭煲", "空气炸锅", "吹风机", "豆浆机", "洗衣机", "vacuum", "air fryer", "rice cooker",
                   "hair dryer", "air conditioner", "fridge", "refrigerator"),
    "books": ("中性笔", "手账本", "本子", "绘本", "pens", "planner", "book"),
    "pets": ("猫咪", "狗狗", "cat food", "dog food", "cat litter", "pet"),
}
# term -> (brand key, category key): product names that say both.
EXTRA_BRAND_TERMS: dict[str, tuple[str, str | None]] = {
    "iPhone": ("apple", "digital"),
    "iPad": ("apple", "digital"),
    "MacBook": ("apple", "digital"),
    "AirPods": ("apple", "digital"),
    "苹果手机": ("apple", "digital"),
    "红米": ("xiaomi", "digital"),
    "Redmi": ("xiaomi", "digital"),
    "ThinkPad": ("lenovo", "digital"),
    "雅诗": ("estee_lauder", None),
    "Li Ning": ("lining", None),
    "LiNing": ("lining", None),
}

_CJK = re.compile(r"[\u4e00-\u9fff]")
# Leading size/model parts of a product line: "11英寸平板电脑" -> "平板电脑", "65W" -> "".
_LEADING_SPEC = re.compile(r"^[\dA-Za-z.×x]+(?:英寸|寸|段|码|片装)?")


@dataclass(frozen=True)
class CatalogTerm:
    """A phrase and what it says: a brand, a category, or both (a product line implies its category)."""

    text: str
    label: TermLabel
    brand: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class ProductText:
    """What one product (or product line) is called; tokenised by the parser into keywords."""

    category: str
    line_zh: str
    line_en: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PriceBand:
    """The cheapest third of a category ends at ``low_max``; the dearest third starts at ``high_min``."""

    low_max: Decimal
    high_min: Decimal


@dataclass(frozen=True)
class CatalogVocabulary:
    terms: tuple[CatalogTerm, ...]
    products: tuple[ProductText, ...]
    # Price bands by category key; ``None`` holds the whole catalog's.
    price_bands: dict[str | None, PriceBand]
    # Words that name no product: brand names and variant names ("经典款").
    non_keywords: frozenset[str]


def english_variants(term: str) -> set[str]:
    """``sneakers`` and ``sneaker``: members write both."""
    lower = term.lower()
    forms = {lower}
    if lower[-1:].isascii() and lower[-1:].isalpha():
        if lower.endswith("s") and not lower.endswith("ss") and len(lower) > 4:
            forms.add(lower[:-1])
        elif not lower.endswith("s"):
            forms.add(lower + "s")
    return forms


def _base_terms() -> list[CatalogTerm]:
    """Brands, categories and the extra words; earlier terms win when two share a text."""
    terms = [CatalogTerm(text, "brand", brand, category) for text, (brand, category) in EXTRA_BRAND_TERMS.items()]
    for brand in BRANDS:
        terms += [CatalogTerm(brand.zh, "brand", brand.key), CatalogTerm(brand.en, "brand", brand.key)]
    for category in CATEGORIES:
        for text in (category.zh, category.en, *category.synonyms, *EXTRA_CATEGORY_TERMS.get(category.key, ())):
            terms.append(CatalogTerm(text, "category", category=category.key))
    return terms


def _line_names(line_zh: str) -> list[str]:
    """Chinese names a member may use for a product line: "5G 智能手机 256GB" -> ["智能手机"]."""
    names = []
    for part in line_zh.split():
        part = _LEADING_SPEC.sub("", part)
        if len(_CJK.findall(part)) >= 2 and _CJK.match(part):
            names.append(part)
    return names


def _product_terms(products: Iterable[ProductText]) -> list[CatalogTerm]:
    terms = []
    for product in products:
        for name in _line_names(product.line_zh):
            terms.append(CatalogTerm(name, "product", category=product.category))
        terms.append(CatalogTerm(product.line_en, "product", category=product.category))
    return terms


def _bands(prices: dict[str, list[Decimal]]) -> dict[str | None, PriceBand]:
    def band(values: list[Decimal]) -> PriceBand:
        ordered = sorted(values)
        return PriceBand(ordered[(len(ordered) - 1) // 3], ordered[(2 * (len(ordered) - 1)) // 3])

    bands: dict[str | None, PriceBand] = {key: band(values) for key, values in prices.items() if values}
    everything = [p for values in prices.values() for p in values]
    if everything:
        bands[None] = band(everything)
    return bands


def _non_keywords() -> frozenset[str]:
    words = {w.lower() for b in BRANDS for w in (b.zh, b.en)}
    words |= {w.lower() for v in VARIANTS for w in v}
    return frozenset(words)


def vocabulary_from_catalog() -> CatalogVocabulary:
    """Vocabulary from ``catalog_data`` alone; price bands from base prices times brand tiers."""
    products = tuple(
        ProductText(category, line_zh, line_en, tuple(tags))
        for category, lines in PRODUCT_LINES.items()
        for line_zh, line_en, _price, tags in lines
    )
    prices: dict[str, list[Decimal]] = defaultdict(list)
    for brand in BRANDS:
        for _zh, _en, base, _tags in PRODUCT_LINES.get(brand.category, ()):
            prices[brand.category].append(Decimal(str(base * TIER_PRICE_FACTOR[brand.tier])).quantize(Decimal("0.01")))
    return CatalogVocabulary(
        terms=tuple(_base_terms() + _product_terms(products)),
        products=products,
        price_bands=_bands(prices),
        non_keywords=_non_keywords(),
    )


def _strip_title(title: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
    """A product title without its brand and variant: "耐克 缓震跑步鞋 经典款" -> "缓震跑步鞋"."""
    text = title.strip()
    for prefix in prefixes:
        if prefix and text.lower().startswith(prefix.lower()):
            text = text[len(prefix) :].strip()
            break
    for suffix in suffixes:
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)].rstrip(" -–")
            break
    return text or title


def vocabulary_from_products(*, session: Session) -> CatalogVocabulary:
    """Vocabulary from the ``products`` table: product lines, tags and price bands of the real shelf."""
    from sqlalchemy import select

    from personalization.models import Product

    brand_names = {b.key: (b.zh, b.en) for b in BRANDS}
    variants_zh = tuple(zh for zh, _en in VARIANTS)
    variants_en = tuple(en for _zh, en in VARIANTS)
    products: dict[tuple[str, str], ProductText] = {}
    prices: dict[str, list[Decimal]] = defaultdict(list)
    rows = session.execute(
        select(Product.title_zh, Product.title_en, Product.category, Product.brand, Product.price, Product.tags)
    )
    for title_zh, title_en, category, brand, price, tags in rows:
        zh_name, en_name = brand_names.get(brand, ("", ""))
        line_zh = _strip_title(title_zh, (zh_name, brand), variants_zh)
        line_en = _strip_title(title_en, (en_name, brand), variants_en)
        products.setdefault((category, line_zh), ProductText(category, line_zh, line_en, tuple(tags or ())))
        prices[category].append(Decimal(price).quantize(Decimal("0.01")))
    if not products:
        return vocabulary_from_catalog()
    ordered = tuple(products[key] for key in sorted(products))
    return CatalogVocabulary(
        terms=tuple(_base_terms() + _product_terms(ordered)),
        products=ordered,
        price_bands=_bands(prices),
        non_keywords=_non_keywords(),
    )
