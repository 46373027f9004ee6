"""Catalog understanding: category, brand, price range and keywords from a member's message.

Complements Rasa's entities (category/brand/order_id) with prices, product words and phrasing
the NLU model never saw::

    parser = CatalogParser()                      # or CatalogParser(session=session)
    parser.parse("三百块以内的耳机")                # category="digital", price_max=Decimal("300.00")

Importing this package loads neither spaCy nor jieba; building a parser does.
"""

from personalization.catalog_nlu.filters import MatchedSpan, RecommendationFilters
from personalization.catalog_nlu.parser import CatalogParser, get_catalog_parser
from personalization.catalog_nlu.prices import PriceMatch, find_price_band, find_prices, parse_amount

__all__ = [
    "CatalogParser",
    "MatchedSpan",
    "PriceMatch",
    "RecommendationFilters",
    "find_price_band",
    "find_prices",
    "get_catalog_parser",
    "parse_amount",
]
