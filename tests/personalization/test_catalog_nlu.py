"""Catalog understanding: category, brand, price range and keywords from phrasing Rasa never saw.

Every phrase below is checked against the NLU training data and the held-out set
(``test_phrases_are_not_in_the_nlu_data``), so these tests say something Rasa's own tests cannot.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.catalog_data import VARIANTS
from personalization.catalog_nlu import CatalogParser, RecommendationFilters, parse_amount
from personalization.models import Product

ROOT = Path(__file__).resolve().parents[2]

D = Decimal


@pytest.fixture(scope="module")
def parser() -> CatalogParser:
    return CatalogParser()


# (message, expected fields). Only the fields named are checked; "keywords" means "contains".
CASES: list[tuple[str, dict[str, Any]]] = [
    ("推荐几款耐克的跑鞋", {"brand": "nike", "category": "sports", "keywords": ["跑鞋"], "price": (None, None)}),
    ("三百块以内的耳机", {"category": "digital", "price": (None, D(300)), "keywords": ["耳机"]}),
    ("有没有两百到五百之间的护肤品", {"category": "beauty", "price": (D(200), D(500)), "brand": None}),
    ("any Adidas sneakers under 500?", {"category": "sports", "brand": None, "price": (None, D(500)),
                                         "unknown": ["adidas"]}),
    ("想买个iPhone 5000左右", {"brand": "apple", "category": "digital", "price": (D(4000), D(6000))}),
    ("300元以下的兰蔻口红有哪些", {"brand": "lancome", "category": "beauty", "price": (None, D(300))}),
    ("不超过500的猫粮给我看看", {"category": "pets", "price": (None, D(500))}),
    ("200-500元的运动鞋", {"category": "sports", "price": (D(200), D(500))}),
    ("1000以上的吸尘器有哪些", {"category": "appliances", "price": (D(1000), None)}),
    ("戴森的吹风机200到500能买到吗", {"brand": "dyson", "category": "appliances", "price": (D(200), D(500))}),
    ("below ¥300 Uniqlo jackets", {"brand": "uniqlo", "category": "apparel", "price": (None, D(300))}),
    ("between 200 and 500 for a Xiaomi phone", {"brand": "xiaomi", "category": "digital", "price": (D(200), D(500))}),
    ("Estee Lauder serum around 500", {"brand": "estee_lauder", "category": "beauty", "price": (D(400), D(600))}),
    ("预算一千五的平板电脑", {"category": "digital", "price": (None, D(1500))}),
    ("两百五左右的面霜", {"category": "beauty", "price": (D(200), D(300))}),
    ("1.5k以内的降噪耳机", {"category": "digital", "price": (None, D(1500)), "keywords": ["降噪", "耳机"]}),
    ("1千以下的小家电", {"category": "appliances", "price": (None, D(1000))}),
    ("三百多的运动鞋", {"category": "sports", "price": (D(300), D(400))}),
    ("一两百的收纳盒子，无印良品的", {"brand": "muji", "category": "home", "price": (D(100), D(200))}),
    ("笔记本电脑5000以上的", {"category": "digital", "price": (D(5000), None), "keywords": ["笔记本电脑"]}),
    ("Li-Ning running shoes below ¥300", {"brand": "lining", "category": "sports", "price": (None, D(300))}),
    ("Royal Canin cat food 300 or less", {"brand": "royal_canin", "category": "pets", "price": (None, D(300))}),
    ("皇家猫粮三百块以下", {"brand": "royal_canin", "category": "pets", "price": (None, D(300))}),
    ("给宝宝买纸尿裤，帮宝适的，两百块左右", {"brand": "pampers", "category": "mother_baby",
                                            "price": (D(160), D(240))}),
    ("美的空调", {"brand": "midea", "category": "appliances"}),
    ("很美的裙子", {"brand": None, "category": "apparel"}),
    ("缓震跑步鞋有货吗", {"category": "sports", "keywords": ["缓震跑步鞋"]}),
    ("200以上，500以下的口红", {"category": "beauty", "price": (D(200), D(500))}),
    ("这款耳机不便宜吧", {"category": "digital", "price": (None, None), "band": None}),
    # Numbers that are not prices.
    ("300", {"empty": True}),
    ("订单SO20261015000123还没发货", {"price": (None, None), "category": None}),
    ("DD202610150123到哪了", {"price": (None, None)}),
    ("满300减50的券还有吗", {"price": (None, None)}),
    ("我有3000积分", {"price": (None, None)}),
    ("买3个以内的5G手机", {"category": "digital", "price": (None, None)}),
    ("iPhone 15 Plus有现货吗", {"brand": "apple", "price": (None, None)}),
    ("2026-10-15 买的", {"price": (None, None)}),
    # Nothing to filter on.
    ("", {"empty": True}),
    ("🙂🙂🙂👍", {"empty": True}),
    ("今天天气不错啊", {"empty": True}),
    ("？？？。。。", {"empty": True}),
    ("blah blah qwerty", {"empty": True}),
]


def _check(filters: RecommendationFilters, expected: dict[str, Any]) -> None:
    if expected.get("empty"):
        assert filters.is_empty(), filters
    for field in ("brand", "category"):
        if field in expected:
            assert getattr(filters, field) == expected[field], filters
    if "price" in expected:
        assert (filters.price_min, filters.price_max) == expected["price"], filters
    if "band" in expected:
        assert filters.price_band == expected["band"], filters
    for word in expected.get("keywords", []):
        assert word in filters.keywords, filters
    for word in expected.get("unknown", []):
        assert word in filters.unknown_terms, filters


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] or "empty" for c in CASES])
def test_parse_reads_the_filters_a_member_asks_for(parser: CatalogParser, text: str, expected: dict[str, Any]) -> None:
    _check(parser.parse(text), expected)


# Rasa's entity annotations: [口红](category) and [口红]{"entity": "category"}.
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def _nlu_examples() -> set[str]:
    examples = set()
    files = sorted((ROOT / "data" / "nlu").glob("*.yml")) + [ROOT / "tests" / "nlu" / "heldout.yml"]
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("- "):
                # "推荐个[口红](category)吧" -> "推荐个口红吧"
                text = _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line[2:])
                examples.add(text.strip().lower())
    return examples


def test_phrases_are_not_in_the_nlu_data() -> None:
    examples = _nlu_examples()
    assert len(examples) > 100  # the data was read
    phrases = [text for text, expected in CASES if not expected.get("empty")]
    assert len(phrases) >= 25
    assert [p for p in phrases if p.lower() in examples] == []


def test_spans_point_into_the_parsed_text(parser: CatalogParser) -> None:
    for text, _expected in CASES:
        filters = parser.parse(text)
        for span in filters.spans:
            assert filters.text[span.start : span.end] == span.text
        assert [s.start for s in filters.spans] == sorted(s.start for s in filters.spans)


def test_spans_explain_what_was_understood(parser: CatalogParser) -> None:
    filters = parser.parse("三百块以内的耐克跑鞋")
    assert [(s.label, s.text, s.key) for s in filters.spans] == [
        ("price", "三百块以内", "max"),
        ("brand", "耐克", "nike"),
        ("category", "跑鞋", "sports"),
    ]
    summary_zh, summary_en = filters.describe()
    assert summary_zh == "品类：运动户外；品牌：耐克；价格：300元以内；关键词：跑鞋"
    assert summary_en == "category: Sports & Outdoors; brand: Nike; price: up to ¥300; keywords: 跑鞋"


def test_to_dict_is_json_ready(parser: CatalogParser) -> None:
    payload = parser.parse("有没有两百到五百之间的护肤品").to_dict()
    assert json.loads(json.dumps(payload, ensure_ascii=False)) == payload
    assert (payload["category"], payload["price_min"], payload["price_max"]) == ("beauty", 200.0, 500.0)
    assert payload["summary_en"] == "category: Beauty & Skincare; price: ¥200–500"


def test_cheap_maps_to_the_low_band_of_the_category(parser: CatalogParser) -> None:
    filters = parser.parse("给我来点便宜点的零食")
    assert (filters.category, filters.price_band, filters.price_min) == ("food", "low", None)
    assert filters.price_max == parser.vocabulary.price_bands["food"].low_max
    assert filters.price_max < parser.vocabulary.price_bands["food"].high_min


def test_high_end_maps_to_the_high_band(parser: CatalogParser) -> None:
    filters = parser.parse("high-end skincare please")
    assert (filters.category, filters.price_band, filters.price_max) == ("beauty", "high", None)
    assert filters.price_min == parser.vocabulary.price_bands["beauty"].high_min


def test_an_explicit_price_beats_a_vague_one(parser: CatalogParser) -> None:
    filters = parser.parse("便宜点的，300以内")
    assert (filters.price_band, filters.price_max) == (None, D(300))


def test_long_input_is_cut_and_parsed_without_error(parser: CatalogParser) -> None:
    filters = parser.parse("啊" * 3000 + "x" * 3000)
    assert filters.is_empty()
    assert len(filters.text) == parser.max_chars
    assert parser.parse("三百块以内的耳机" + "。" * 6000).price_max == D(300)


def test_none_counts_as_empty(parser: CatalogParser) -> None:
    assert parser.parse(None).is_empty()


def test_non_text_input_gets_a_clear_error(parser: CatalogParser) -> None:
    with pytest.raises(TypeError, match="text must be a string"):
        parser.parse(300)  # type: ignore[arg-type]


def test_language_is_detected_or_given(parser: CatalogParser) -> None:
    assert parser.parse("any sneakers?").language == "en"
    assert parser.parse("想买个iPhone").language == "zh"
    assert parser.parse("under 300", language="en-US").price_max == D(300)
    assert parser.parse("耳机", language="zh_CN").category == "digital"
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        parser.parse("bonjour", language="fr")


def test_unknown_pipeline_languages_are_refused() -> None:
    with pytest.raises(ValueError, match="languages must be among"):
        CatalogParser(languages=("de",))


@pytest.mark.parametrize(
    ("raw", "value"),
    [("三百", 300), ("一千五", 1500), ("两百五", 250), ("1.5k", 1500), ("1千", 1000), ("2千5", 2500),
     ("一万二", 12000), ("三百零五", 305), ("十五", 15), ("1,500", 1500), ("3w", 30000)],
)
def test_amounts_in_chinese_and_arabic_numerals(raw: str, value: int) -> None:
    assert parse_amount(raw) == D(value)


@pytest.mark.parametrize("raw", ["万一", "三四", "一百千", ""])
def test_malformed_amounts_are_not_numbers(raw: str) -> None:
    assert parse_amount(raw) is None


def test_importing_loads_neither_spacy_nor_jieba() -> None:
    code = "import sys, personalization.catalog_nlu; print('spacy' in sys.modules, 'jieba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_the_global_jieba_dictionary_is_left_alone(parser: CatalogParser) -> None:
    import jieba

    assert "缓震跑步鞋" in parser.parse("缓震跑步鞋").keywords
    assert "缓震跑步鞋" not in jieba.lcut("缓震跑步鞋")


def _line_of(product: Product) -> str:
    """"耐克 缓震跑步鞋 经典款" -> "缓震跑步鞋"."""
    parts = product.title_zh.split()
    variants = {zh for zh, _en in VARIANTS}
    return " ".join(p for p in parts[1:] if p not in variants)


def test_with_a_session_product_lines_and_bands_come_from_the_products_table(session: Session) -> None:
    parser = CatalogParser(session=session)
    product = session.scalars(select(Product).where(Product.category == "home").order_by(Product.sku)).first()
    assert product is not None
    line = _line_of(product)
    filters = parser.parse(f"想要{line}，有推荐吗")
    assert filters.category == "home"
    assert any(s.label in ("product", "category") for s in filters.spans)

    prices = sorted(session.scalars(select(Product.price).where(Product.category == "home")))
    cheap = parser.parse("便宜点的家居用品")
    assert cheap.category == "home"
    assert cheap.price_max == prices[(len(prices) - 1) // 3]
