"""spaCy pipelines that read catalog filters out of a member's message.

``zh``: ``spacy.blank("zh")`` with the jieba segmenter, its own jieba dictionary holding the
catalog words (the entries of ``personalization.jieba_dict`` plus product lines and extra
product words), so "雅诗兰黛" and "纸尿裤" come out as one token. ``en``: ``spacy.blank("en")``.
Both carry an EntityRuler (a PhraseMatcher on lower-cased tokens) built from the catalog:
brands, categories and their synonyms, product lines. Prices come from
:mod:`personalization.catalog_nlu.prices` and are mapped onto the tokens.

spaCy and jieba load when a parser is built, never at import.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from personalization.catalog_nlu.filters import MatchedSpan, RecommendationFilters
from personalization.catalog_nlu.prices import PriceMatch, find_price_band, find_prices
from personalization.catalog_nlu.vocabulary import (
    CatalogTerm,
    CatalogVocabulary,
    english_variants,
    vocabulary_from_catalog,
    vocabulary_from_products,
)
from personalization.jieba_dict import dictionary_entries
from personalization.language import detect_language

if TYPE_CHECKING:
    import jieba
    from spacy.language import Language
    from spacy.tokens import Doc, Span
    from sqlalchemy.orm import Session

LANGUAGES = ("zh", "en")
# Longer messages are cut: no one asks for a product in 500 characters, and parse time stays flat.
DEFAULT_MAX_CHARS = 500
MAX_KEYWORDS = 8
MAX_WORD_CHARS = 24  # longer "words" are noise (a pasted link, a key held down)
_JIEBA_FREQ = 2000  # as in personalization.jieba_dict: enough for jieba to keep the word whole

_CJK = re.compile(r"[\u4e00-\u9fff]")
_IDENTIFIER = re.compile(r"^[A-Za-z]{0,4}\d[\dA-Za-z-]*$")
# "美的" is also "beautiful": after these adverbs it is not the brand.
_ADVERBS_BEFORE_ADJECTIVE = frozenset("很 好 真 太 超 最 挺 蛮 特别 非常 更 多么 那么 这么 好看 漂亮".split())

_ZH_FILLER = frozenset(
    """推荐 推荐一下 推荐几款 几款 一款 几个 一个 有没有 有没 想 想要 想买 想买个 买个 买点 买些 买 要 给 帮 帮我
    给我 我要 我想 东西 款 元 块 之间 看看 挑 挑个 选 选个 来点 来个 好用 好看 值得 入手 送 商品 产品 宝贝 亲
    请问 麻烦 谢谢 你好 啥 哪个 哪款 哪些 有啥 什么样 价格 价位 预算 价钱 多少钱 钱 贵 便宜 便宜点 实惠 划算
    高端 不错 比较 最好 一些 一点 需要 打算 准备 可以 能 吗 呢 吧 嘛 呀 啊 哦 款式 类型 牌子 品牌 一下 合适
    好 什么 怎么 怎么样 如何 最近 现在 还有 其他 别的 一双 一件 一台 一部 东东 有些 哪里 在哪 多少""".split()
)
_EN_FILLER = frozenset(
    """recommend recommends recommendation recommendations suggest suggestion suggestions want wanna need looking
    look buy get show find good best nice great cheap cheaper cheapest something anything stuff thing things product
    products item items pick picks please thanks thank hi hello hey like would could price prices budget yuan rmb
    dollars bucks got buying shopping option options brand brands kind sort type cost costs worth i'm im""".split()
)


class CatalogParser:
    """Reads category, brand, price range and keywords out of Chinese or English messages.

    Build once (1–2 s cold, most of it jieba loading its dictionary; about 0.5 s once jieba
    is loaded), then call :meth:`parse` per message (a fraction of a millisecond for a chat
    message). A built parser holds no session: build it once per process and reuse it.

    Args:
        session: when given, product lines, keywords and price bands come from the
            ``products`` table; otherwise from ``catalog_data``.
        vocabulary: a prepared vocabulary (overrides ``session``).
        languages: the pipelines to build; messages in another language go to the first.
        max_chars: longer messages are cut to this many characters before parsing.
    """

    def __init__(
        self,
        *,
        session: Session | None = None,
        vocabulary: CatalogVocabulary | None = None,
        languages: tuple[str, ...] = LANGUAGES,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        unknown = [lang for lang in languages if lang not in LANGUAGES]
        if unknown or not languages:
            raise ValueError(f"languages must be among {LANGUAGES}, got {languages!r}")
        if max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        if vocabulary is None:
            vocabulary = vocabulary_from_products(session=session) if session is not None else vocabulary_from_catalog()
        self.vocabulary = vocabulary
        self.max_chars = max_chars
        self._terms = _unique_terms(vocabulary.terms)
        self._cjk_terms = {t.text: i for i, t in enumerate(self._terms) if len(t.text) >= 2 and _CJK.fullmatch(t.text)}
        self._cjk_term_max = max((len(t) for t in self._cjk_terms), default=0)
        self._pipelines: dict[str, Language] = {}
        keyword_vocabulary: set[str] = set()
        for lang in languages:
            self._pipelines[lang], words = _build_pipeline(lang, self._terms, vocabulary)
            keyword_vocabulary |= words
        self._keyword_vocabulary = frozenset(keyword_vocabulary)
        self._default_language = languages[0]
        self._stop_words = _stop_words()

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._pipelines)

    def parse(self, text: str | None, language: str | None = None) -> RecommendationFilters:
        """The filters one message asks for; empty filters for empty or meaningless text.

        Args:
            text: the member's message (None counts as empty).
            language: ``zh`` or ``en`` (``zh-CN`` and ``en-US`` work too); detected when None.

        Raises:
            TypeError: ``text`` is neither a string nor None.
            ValueError: ``language`` is not one this parser reads.
        """
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        normalized = unicodedata.normalize("NFKC", (text or "")[: self.max_chars])[: self.max_chars]
        lang = self._language(normalized, language)
        if not normalized.strip():
            return RecommendationFilters(text=normalized, language=lang)
        doc = self._pipelines[lang](normalized)
        term_spans = self._term_spans(doc)
        prices = find_prices(normalized)
        band = None if prices else find_price_band(normalized)
        spans: list[MatchedSpan] = [
            MatchedSpan(
                term.label,
                span.text,
                span.start_char,
                span.end_char,
                term.brand if term.label == "brand" else term.category,
            )
            for span, term in term_spans
        ]
        spans += [MatchedSpan("price", p.text, p.start, p.end, p.kind) for p in prices]
        if band:
            spans.append(MatchedSpan("price", band.text, band.start, band.end, band.kind))
        spans.sort(key=lambda s: (s.start, s.end))

        category = next((t.category for _s, t in term_spans if t.category), None)
        brand = next((t.brand for _s, t in term_spans if t.brand), None)
        price_min, price_max = _combine_prices(prices)
        price_band = None
        if band:
            price_band = "low" if band.kind == "band_low" else "high"
            limits = self.vocabulary.price_bands.get(category) or self.vocabulary.price_bands.get(None)
            if limits:
                price_min, price_max = (None, limits.low_max) if price_band == "low" else (limits.high_min, None)
        keywords, unknown = self._words(doc, term_spans, prices, band)
        return RecommendationFilters(
            text=normalized,
            language=lang,
            category=category,
            brand=brand,
            price_min=price_min,
            price_max=price_max,
            price_band=price_band,
            keywords=keywords,
            unknown_terms=unknown,
            spans=tuple(spans),
        )

    def _language(self, text: str, language: str | None) -> str:
        if language is None:
            detected = detect_language(text)
            return detected if detected in self._pipelines else self._default_language
        code = str(language).strip().lower().replace("_", "-").split("-")[0]
        if code not in self._pipelines:
            raise ValueError(f"unsupported language {language!r}: this parser reads {', '.join(self._pipelines)}")
        return code

    def _term_spans(self, doc: Doc) -> list[tuple[Span, CatalogTerm]]:
        """Catalog terms in the doc: whole-token phrase matches, then terms inside longer tokens."""
        found: list[tuple[Span, CatalogTerm]] = []
        covered: set[int] = set()
        for ent in doc.ents:
            term = self._terms[int(ent.ent_id_)]
            if term.text == "美的" and ent.start > 0 and doc[ent.start - 1].text in _ADVERBS_BEFORE_ADJECTIVE:
                continue
            found.append((ent, term))
            covered.update(range(ent.start, ent.end))
        # jieba keeps some longer words whole ("笔记本电脑", "精华液"): find the catalog word inside.
        for token in doc:
            if token.i in covered or len(token.text) < 3 or not _CJK.search(token.text):
                continue
            inside = self._term_inside(token.text)
            if inside is not None:
                found.append((doc[token.i : token.i + 1], inside))
        found.sort(key=lambda item: item[0].start)
        return found

    def _term_inside(self, word: str) -> CatalogTerm | None:
        for length in range(min(len(word) - 1, self._cjk_term_max), 1, -1):
            for start in range(len(word) - length + 1):
                index = self._cjk_terms.get(word[start : start + length])
                if index is not None:
                    return self._terms[index]
        return None

    def _words(
        self,
        doc: Doc,
        term_spans: list[tuple[Span, CatalogTerm]],
        prices: list[PriceMatch],
        band: PriceMatch | None,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Catalog keywords and other content words, in text order, without repeats."""
        keywords: list[str] = []
        unknown: list[str] = []
        price_ranges = [(p.start, p.end) for p in prices] + ([(band.start, band.end)] if band else [])
        term_at: dict[int, tuple[Span, CatalogTerm]] = {}
        for span, term in term_spans:
            for i in range(span.start, span.end):
                term_at[i] = (span, term)
        seen_spans: set[int] = set()
        for token in doc:
            start, end = token.idx, token.idx + len(token.text)
            if any(start < p_end and p_start < end for p_start, p_end in price_ranges):
                continue
            if token.i in term_at:
                span, term = term_at[token.i]
                if term.label == "brand" or span.start in seen_spans:
                    continue
                seen_spans.add(span.start)
                whole = span.text.lower()
                if whole in self._keyword_vocabulary:
                    keywords.append(whole)
                else:
                    keywords += [t.lower_ for t in span if t.lower_ in self._keyword_vocabulary]
                continue
            word = token.lower_.strip("'’")
            if not _is_content_word(word, self._stop_words):
                continue
            (keywords if word in self._keyword_vocabulary else unknown).append(word)
        return _dedupe(keywords), _dedupe(unknown)


def _is_content_word(word: str, stop_words: frozenset[str]) -> bool:
    if len(word) > MAX_WORD_CHARS or word in stop_words or _IDENTIFIER.match(word):
        return False
    if not any(ch.isalpha() for ch in word):
        return False
    if _CJK.search(word):
        return len(word) >= 2
    return len(word) >= 2 and word.isascii()


def _dedupe(words: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))[:MAX_KEYWORDS]


def _combine_prices(prices: list[PriceMatch]) -> tuple[Decimal | None, Decimal | None]:
    """Later bounds refine earlier ones ("200以上，500以下" -> 200..500); a contradiction keeps the last."""
    low: Decimal | None = None
    high: Decimal | None = None
    for price in prices:
        if price.kind in ("range", "around"):
            low, high = price.low, price.high
        elif price.kind == "max":
            high = price.high
        elif price.kind == "min":
            low = price.low
    if low is not None and high is not None and low > high and prices:
        low, high = prices[-1].low, prices[-1].high
    return low, high


def _stop_words() -> frozenset[str]:
    """spaCy's Chinese and English stop words plus the filler of shopping requests ("推荐", "looking")."""
    from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
    from spacy.lang.zh.stop_words import STOP_WORDS as ZH_STOP_WORDS

    return frozenset(ZH_STOP_WORDS | EN_STOP_WORDS | _ZH_FILLER | _EN_FILLER)


def _unique_terms(terms: tuple[CatalogTerm, ...]) -> list[CatalogTerm]:
    """One term per lower-cased text (the first wins), English plural/singular forms added."""
    unique: dict[str, CatalogTerm] = {}
    for term in terms:
        texts = [term.text] if _CJK.search(term.text) else sorted(english_variants(term.text))
        for text in texts:
            key = text.lower().strip()
            if key and key not in unique:
                unique[key] = CatalogTerm(text, term.label, term.brand, term.category)
    return list(unique.values())


def _build_pipeline(lang: str, terms: list[CatalogTerm], vocabulary: CatalogVocabulary) -> tuple[Language, set[str]]:
    """A blank pipeline with the catalog EntityRuler, and the catalog keywords as it tokenises them."""
    import spacy

    if lang == "zh":
        with _quiet_jieba():
            nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        segmenter = _catalog_jieba()
        # Product titles are tokenised with jieba's own dictionary first, so that "缓震跑步鞋"
        # also yields "缓震" and "跑步鞋" as keywords; then the catalog words join the dictionary.
        cast(Any, nlp.tokenizer).jieba_seg = segmenter
        words = _keyword_vocabulary(nlp, vocabulary)
        for word in _jieba_words(terms):
            segmenter.add_word(word, _JIEBA_FREQ, "n")
    else:
        nlp = spacy.blank("en")
        words = _keyword_vocabulary(nlp, vocabulary)
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "validate": False})
    patterns = [
        {"label": term.label.upper(), "pattern": term.text, "id": str(index)}
        for index, term in enumerate(terms)
        if lang == "zh" or not _CJK.search(term.text)
    ]
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return nlp, words


def _catalog_jieba() -> jieba.Tokenizer:
    """A private jieba tokenizer (the global one stays untouched) sharing jieba's loaded dictionary.

    spaCy's jieba segmenter has already loaded jieba's default dictionary into ``jieba.dt``;
    copying it (tens of milliseconds) spares loading it a second time (about a second).
    """
    import jieba

    segmenter = jieba.Tokenizer()
    with _quiet_jieba():
        jieba.dt.check_initialized()
    segmenter.FREQ = dict(jieba.dt.FREQ)
    segmenter.total = jieba.dt.total
    segmenter.initialized = True
    return segmenter


@contextmanager
def _quiet_jieba() -> Iterator[None]:
    """jieba logs at DEBUG level on the console while it loads its dictionary; keep that quiet."""
    import jieba

    logger = jieba.default_logger
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _jieba_words(terms: list[CatalogTerm]) -> list[str]:
    words = {word for word, _freq, _tag in dictionary_entries()}
    words |= {t.text for t in terms if _CJK.search(t.text) and " " not in t.text}
    return sorted(words)


def _keyword_vocabulary(nlp: Language, vocabulary: CatalogVocabulary) -> set[str]:
    """Lower-cased words of product lines and tags (brand and variant names left out)."""
    stop_words = _stop_words()
    words: set[str] = set()
    texts: list[str] = []
    for product in vocabulary.products:
        texts += [product.line_zh, product.line_en, *product.tags]
        words |= {tag.lower() for tag in product.tags}
        words |= {name.lower() for name in (product.line_zh, product.line_en)}
    for doc in cast(Any, nlp.tokenizer).pipe(texts):
        for token in doc:
            if _is_content_word(token.lower_, stop_words):
                words |= english_variants(token.lower_) if token.is_ascii else {token.lower_}
    return words - vocabulary.non_keywords


@lru_cache(maxsize=1)
def get_catalog_parser() -> CatalogParser:
    """A process-wide parser built from ``catalog_data`` on first use."""
    return CatalogParser()
