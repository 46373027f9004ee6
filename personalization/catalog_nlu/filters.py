"""What a message asks of the catalog: the typed result of :class:`CatalogParser.parse`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from personalization.catalog_data import BRANDS, CATEGORIES

SpanLabel = Literal["brand", "category", "product", "price"]

_CATEGORY_NAMES = {c.key: (c.zh, c.en) for c in CATEGORIES}
_BRAND_NAMES = {b.key: (b.zh, b.en) for b in BRANDS}


@dataclass(frozen=True)
class MatchedSpan:
    """One recognised piece of the message, for explanations ("因为你说了「三百块以内」").

    ``start``/``end`` are character offsets into :attr:`RecommendationFilters.text`.
    ``key`` is the catalog key (brand, category) or, for prices, the kind of bound
    (``max``, ``min``, ``range``, ``around``, ``band_low``, ``band_high``).
    """

    label: SpanLabel
    text: str
    start: int
    end: int
    key: str | None = None


@dataclass(frozen=True)
class RecommendationFilters:
    """Catalog filters found in one message; every field is optional.

    Attributes:
        text: the message as parsed (Unicode NFKC-normalised, cut to the parser's limit).
        language: ``zh`` or ``en``: the pipeline that read it.
        category: a category key of ``catalog_data.CATEGORIES`` (first one mentioned).
        brand: a brand key of ``catalog_data.BRANDS`` (first one mentioned).
        price_min / price_max: bounds in yuan, inclusive.
        price_band: ``low`` or ``high`` when the member only said "cheap" / "high-end".
        keywords: content words that occur in the catalog's product titles and tags
            (``跑鞋``, ``降噪``): usable to narrow or rank products.
        unknown_terms: other content words (``adidas``, ``小棕瓶``): the catalog knows
            nothing about them; they are not filters but help to explain a miss.
        spans: every recognised span, in text order.
    """

    text: str = ""
    language: str | None = None
    category: str | None = None
    brand: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    price_band: str | None = None
    keywords: tuple[str, ...] = ()
    unknown_terms: tuple[str, ...] = ()
    spans: tuple[MatchedSpan, ...] = field(default=())

    def is_empty(self) -> bool:
        """True when the message names no category, brand, price or catalog keyword."""
        return not (
            self.category
            or self.brand
            or self.price_min is not None
            or self.price_max is not None
            or self.price_band
            or self.keywords
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (prices as yuan floats), e.g. for a slot or a custom payload."""
        summary_zh, summary_en = self.describe()
        return {
            "language": self.language,
            "category": self.category,
            "brand": self.brand,
            "price_min": _yuan(self.price_min),
            "price_max": _yuan(self.price_max),
            "price_band": self.price_band,
            "keywords": list(self.keywords),
            "unknown_terms": list(self.unknown_terms),
            "spans": [
                {"label": s.label, "text": s.text, "start": s.start, "end": s.end, "key": s.key}
                for s in self.spans
            ],
            "summary_zh": summary_zh,
            "summary_en": summary_en,
        }

    def describe(self) -> tuple[str, str]:
        """What was understood, in Chinese and in English ("品牌：耐克；价格：300元以内")."""
        zh: list[str] = []
        en: list[str] = []
        if self.category:
            name_zh, name_en = _CATEGORY_NAMES.get(self.category, (self.category, self.category))
            zh.append(f"品类：{name_zh}")
            en.append(f"category: {name_en}")
        if self.brand:
            name_zh, name_en = _BRAND_NAMES.get(self.brand, (self.brand, self.brand))
            zh.append(f"品牌：{name_zh}")
            en.append(f"brand: {name_en}")
        price = _price_text(self.price_min, self.price_max)
        if price:
            zh.append(f"价格：{price[0]}")
            en.append(f"price: {price[1]}")
        elif self.price_band:
            zh.append("价格：" + ("偏低" if self.price_band == "low" else "偏高"))
            en.append("price: " + ("lower range" if self.price_band == "low" else "upper range"))
        if self.keywords:
            zh.append("关键词：" + "、".join(self.keywords))
            en.append("keywords: " + ", ".join(self.keywords))
        return "；".join(zh), "; ".join(en)


def _yuan(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _amount(value: Decimal) -> str:
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.2f}"


def _price_text(low: Decimal | None, high: Decimal | None) -> tuple[str, str] | None:
    if low is not None and high is not None:
        return f"{_amount(low)}–{_amount(high)}元", f"¥{_amount(low)}–{_amount(high)}"
    if high is not None:
        return f"{_amount(high)}元以内", f"up to ¥{_amount(high)}"
    if low is not None:
        return f"{_amount(low)}元以上", f"¥{_amount(low)} and up"
    return None
