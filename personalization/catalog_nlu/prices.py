"""Price expressions in member messages: "三百块以内", "200到500", "under ¥300", "1.5k左右".

Found with regular expressions on characters rather than on tokens: jieba cuts the same
expression differently depending on its neighbours ("三百块/以内", "两百/五/左右",
"1.5/k/以内"), and a price is a pattern of characters. The parser maps the character
spans back onto its spaCy tokens.

A number is a price only with a price word around it: a bound (以内, under, 以上, at least),
an approximation (左右, around), a budget (预算), a range (200到500) or a currency (元, ¥).
"300" alone, "3个", "5G", "256GB", an order number and "满300减50" are not prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "十百千万"
# Around ±20 %.
AROUND_TOLERANCE = Decimal("0.2")
_CENT = Decimal("0.01")

# A number: arabic (1,500 / 1.5 / 2千5 / 1.5k / 3w) or Chinese (三百 / 一千五 / 两百五 / 一万二).
_NUM = (
    rf"(?:\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|[{_CN_CHARS}])"
    rf"(?:[{_CN_CHARS}]|\d+(?:\.\d+)?)*"
    rf"(?:\s?[kKwW](?![A-Za-z]))?"
)
_CUR_PRE = r"(?:[¥$]|rmb|cny|人民币)"
_CUR_SUF = r"(?:元|块钱|块(?!儿)|圆|刀|rmb|cny|yuan|kuai|bucks?|dollars?)"

# Words around a number and what they make of it.
_MAX_PRE = (
    "不要超过", "不能超过", "别超过", "不超过", "不要高于", "不高于", "不大于", "不多于", "不超",
    "低于", "少于", "小于", "不到", "最多", "顶多", "至多", "最高", "最贵", "控制在", "限制在", "限定在",
    "no more than", "not more than", "no higher than", "not over", "less than", "lower than",
    "cheaper than", "up to", "at most", "maximum", "max", "under", "below", "within", "<=", "≤", "<",
)
_MIN_PRE = (
    "不低于", "不少于", "不小于", "超过", "高于", "大于", "多于", "至少", "最少", "起码", "最低",
    "more than", "at least", "no less than", "starting at", "starting from", "upwards of",
    "minimum", "min", "over", "above", ">=", "≥", ">",
)
_AROUND_PRE = (
    "大概", "大约", "差不多", "将近", "接近", "估计", "大致", "约",
    "somewhere around", "close to", "approximately", "approx", "roughly", "around", "about", "circa", "~",
)
_BUDGET_PRE = ("预算", "budget of", "budget is", "budget")
# "价位500" names a price point: read as "around".
_POINT_PRE = ("价位", "价格", "价钱", "售价", "单价", "price")
_MAX_SUF = (
    "及以下", "以下", "以内", "之内", "之下", "封顶", "为限", "内",
    "or less", "or under", "or below", "and under", "and below", "at most", "tops",
)
# No "max"/"plus" suffix: "iPhone 15 Plus" names a phone, not a price.
_MIN_SUF = ("及以上", "以上", "起步", "往上", "开外", "起", "or more", "or above", "and up", "and above", "+")
_AROUND_SUF = ("左右", "上下", "附近", "前后", "的样子", "or so", "-ish", "ish")
_MORE_SUF = ("出头", "多")  # 三百多 / 三百出头: from 300 to the next step (400)
_LINK = r"(?:是|在|有|为|:|：)"

_KIND_BY_WORD: dict[str, str] = {}
for _word_kind, _words in (
    ("max", _MAX_PRE + _MAX_SUF),
    ("min", _MIN_PRE + _MIN_SUF),
    ("around", _AROUND_PRE + _AROUND_SUF + _POINT_PRE),
    ("budget", _BUDGET_PRE),
    ("more", _MORE_SUF),
):
    for _w in _words:
        _KIND_BY_WORD[_w] = _word_kind


def _alternation(words: tuple[str, ...]) -> str:
    """Longest first, so "不超过" wins over "超过"; English words only at word boundaries."""
    parts = []
    for word in sorted(words, key=len, reverse=True):
        escaped = re.escape(word)
        if word[0].isascii() and word[0].isalpha():
            escaped = rf"(?<![A-Za-z]){escaped}"
        if word[-1].isascii() and word[-1].isalpha():
            escaped = rf"{escaped}(?![A-Za-z])"
        parts.append(escaped)
    return "(?:" + "|".join(parts) + ")"


_PRE_TERM = _alternation(_MAX_PRE + _MIN_PRE + _AROUND_PRE + _BUDGET_PRE + _POINT_PRE)
_PRE = rf"(?P<pre>{_PRE_TERM}(?:\s*{_LINK}?\s*{_PRE_TERM})?\s*{_LINK}?)"
_SUF = rf"(?P<suf>{_alternation(_MAX_SUF + _MIN_SUF + _AROUND_SUF)}|多(?![少久大长远重高么])|出头)"
_PRICE_WORD_RE = re.compile(_alternation(tuple(_KIND_BY_WORD)), re.IGNORECASE)
_RANGE_SUF = r"(?P<suf>之间|以内|范围内|范围|区间|的区间|(?<![A-Za-z])range(?![A-Za-z]))"


def _amount(name: str) -> str:
    """A number with an optional currency before or after it; never the tail of a code ("SO2026…")."""
    return (
        rf"(?<![A-Za-z0-9_{_CN_CHARS}])(?<!\d[.,])(?:(?P<{name}_pre>{_CUR_PRE})\s?)?(?P<{name}>{_NUM})"
        rf"(?P<{name}_more>多(?![少久大长远重高么]))?"
        rf"(?:\s?(?P<{name}_cur>{_CUR_SUF})(?![A-Za-z]))?"
    )


_RANGE_PRE = _alternation(("在", "介于", "从", "between", "from") + _BUDGET_PRE + _POINT_PRE)
_RANGE_RE = re.compile(
    rf"(?P<pre>{_RANGE_PRE}(?:\s*{_LINK})?)?\s*{_amount('a')}\s*"
    rf"(?P<link>到|至|~|〜|-|–|—|和|与|跟|(?<![A-Za-z])(?:to|and)(?![A-Za-z]))\s*{_amount('b')}\s*{_RANGE_SUF}?",
    re.IGNORECASE,
)
_SINGLE_RE = re.compile(rf"{_PRE}?\s*{_amount('a')}\s*{_SUF}?", re.IGNORECASE)
# 几百块, 两三百, 一两千: loose amounts, read as a range.
_FUZZY_RE = re.compile(
    rf"(?<![{_CN_CHARS}\d])(?:(?P<d1>[一二两三四五六七八])(?P<d2>[二两三四五六七八九])|(?P<few>几))(?P<unit>[十百千万])(?P<more>多)?"
    rf"\s?(?P<a_cur>{_CUR_SUF})?\s*{_SUF}?",
    re.IGNORECASE,
)

# After a bare number (no currency), these make it a count, a size or a date, not a price.
_UNIT_AFTER = re.compile(
    r"\s?(?:[个件只双条张本台部瓶支盒袋包片套箱罐斤克升米寸码号段岁月天日年周时分秒点次人位折度倍层款种样名期集页代核匹瓦%]"
    r"|积分|公斤|千克|毫升|厘米|毫米|英寸|小时|分钟)"
    r"|\s?(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|yrs?|items?|pieces?|pcs|pairs?"
    r"|products?|things|people|persons?|points?|pts|orders?|stars?|percent|times|kg|lbs?|ml|gb|tb|mb"
    r"|inch(?:es)?|cm|mm|mah|hz)(?![A-Za-z])",
    re.IGNORECASE,
)
# A number straight after these is a coupon threshold or a refund ("满300减50"), not a price wish.
_NOT_A_PRICE_BEFORE = set("满减省返抵扣赔退")
_LOW_BAND_RE = re.compile(
    r"(?<!不)(?:便宜|实惠|划算)|平价|不贵|不太贵|别太贵|不要太贵|白菜价|低价|省钱"
    r"|(?<![A-Za-z])(?:cheap(?:er|est)?|inexpensive|affordable|low[- ]cost|bargain|budget-friendly)(?![A-Za-z])",
    re.IGNORECASE,
)
_HIGH_BAND_RE = re.compile(
    r"高端|高档|奢华|奢侈|轻奢|贵一点|贵点|贵一些|贵些|档次高"
    r"|(?<![A-Za-z])(?:premium|high[- ]end|luxury|luxurious|upscale|fancy)(?![A-Za-z])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PriceMatch:
    """A price expression: its character span, its kind and the bounds it sets (yuan)."""

    start: int
    end: int
    text: str
    kind: str  # max | min | range | around | band_low | band_high
    low: Decimal | None = None
    high: Decimal | None = None


def parse_amount(raw: str) -> Decimal | None:
    """Yuan in a number written as "300", "1,500", "1.5k", "3w", "三百", "一千五", "两百五", "2千5".

    Returns None for anything that is not a well-formed positive amount ("三四", "万一").
    """
    text = raw.replace(",", "").replace(" ", "")
    if not text:
        return None
    factor = 1
    if text[-1] in "kK":
        factor, text = 1000, text[:-1]
    elif text[-1] in "wW":
        factor, text = 10000, text[:-1]
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        value: Decimal | None = Decimal(text)
    else:
        value = _parse_chinese(text)
    if value is None or value <= 0:
        return None
    return value * factor


def _parse_chinese(text: str) -> Decimal | None:
    """Chinese numerals, possibly mixed with arabic digits; None if malformed."""
    total = Decimal(0)  # completed 万 groups
    section = Decimal(0)  # value below 万
    current: Decimal | None = None  # the digit waiting for its unit
    current_is_digit_char = False
    last_unit = 0  # unit just applied; "一千五" means 一千五百
    zero_seen = False
    for token in re.findall(r"\d+(?:\.\d+)?|.", text):
        if token[0].isdecimal():  # not "²": isdigit() but no Decimal
            if current is not None:
                return None
            current, current_is_digit_char = Decimal(token), len(token) == 1
        elif token in _CN_DIGITS:
            digit = _CN_DIGITS[token]
            if current is not None:
                return None  # "三四", "二零二六"
            if digit == 0:
                zero_seen = True
                continue
            current, current_is_digit_char = Decimal(digit), True
        elif token in _CN_UNITS:
            unit = _CN_UNITS[token]
            if last_unit and last_unit < 10000 and unit >= last_unit:
                return None  # units must fall: "一百千"
            section += (current if current is not None else Decimal(1)) * unit
            current, last_unit, zero_seen = None, unit, False
        elif token == "万":
            group = section + (current or 0)
            if not group or total:
                return None  # "万一", "一万二万"
            total, section, current, last_unit, zero_seen = group * 10000, Decimal(0), None, 10000, False
        else:
            return None
    if current is not None:
        if last_unit and not zero_seen and current_is_digit_char:
            section += current * (last_unit // 10)
        else:
            section += current
    return total + section


def find_prices(text: str) -> list[PriceMatch]:
    """Every price expression in ``text`` (NFKC-normalised), in text order."""
    found: list[PriceMatch] = []
    masked = text
    for match in _RANGE_RE.finditer(text):
        price = _range(match, text)
        if price:
            found.append(price)
            masked = masked[: match.start()] + "#" * (match.end() - match.start()) + masked[match.end() :]
    for match in _FUZZY_RE.finditer(masked):
        price = _fuzzy(match, text)
        if price:
            found.append(price)
            masked = masked[: match.start()] + "#" * (match.end() - match.start()) + masked[match.end() :]
    for match in _SINGLE_RE.finditer(masked):
        price = _single(match, text)
        if price:
            found.append(price)
    return sorted(found, key=lambda p: p.start)


def find_price_band(text: str) -> PriceMatch | None:
    """A vague price wish ("便宜点的", "affordable", "高端"), when no amount is given."""
    for regex, kind in ((_LOW_BAND_RE, "band_low"), (_HIGH_BAND_RE, "band_high")):
        match = regex.search(text)
        if match:
            return PriceMatch(match.start(), match.end(), match.group(), kind)
    return None


def _kind(words: str | None) -> str | None:
    """The strongest kind among the price words of a prefix or suffix (a bound beats a budget)."""
    if not words:
        return None
    kinds = {_KIND_BY_WORD.get(w.lower()) for w in _PRICE_WORD_RE.findall(words)}
    for preferred in ("max", "min", "around", "more", "budget"):
        if preferred in kinds:
            return preferred
    return None


def _is_bare_number_unit(match: re.Match[str], name: str, text: str) -> bool:
    """A number without currency followed by a unit ("3个", "5 days"), or glued to letters ("5G")."""
    if match.group(f"{name}_cur") or match.group(f"{name}_pre"):
        return False
    end = match.end(f"{name}_more") if match.group(f"{name}_more") else match.end(name)
    if end < len(text) and text[end].isascii() and text[end].isalpha():
        return True
    return bool(_UNIT_AFTER.match(text, end))


def _preceded_by_coupon_word(match: re.Match[str], text: str) -> bool:
    before = text[: match.start()].rstrip()
    return bool(before) and before[-1] in _NOT_A_PRICE_BEFORE


def _range(match: re.Match[str], text: str) -> PriceMatch | None:
    low, high = parse_amount(match.group("a")), parse_amount(match.group("b"))
    if low is None or high is None or _preceded_by_coupon_word(match, text):
        return None
    if _is_bare_number_unit(match, "a", text) or _is_bare_number_unit(match, "b", text):
        return None
    link = match.group("link").lower()
    has_currency = any(match.group(g) for g in ("a_pre", "a_cur", "b_pre", "b_cur"))
    framed = bool(match.group("pre") or match.group("suf"))
    if link in ("和", "与", "跟", "and"):
        accepted = framed
    elif link in ("到", "至", "~", "〜"):
        accepted = True
    else:  # "to", dashes: "200-500" may be a date or a model number without a currency
        accepted = has_currency or framed
    if not accepted:
        return None
    # "两到三千": the unit of the upper number carries over to a lone digit.
    raw_low = match.group("a").strip()
    if len(raw_low) == 1 and low < 10 and high >= 100 and re.search(r"[十百千万kKwW]", match.group("b")):
        low *= Decimal(10) ** (len(str(int(high))) - 1)
    if low > high:
        low, high = high, low
    return _make(match, text, "range", low, high)


def _fuzzy(match: re.Match[str], text: str) -> PriceMatch | None:
    bare = not (match.group("a_cur") or match.group("suf"))
    if bare and (match.group("unit") == "十" or _UNIT_AFTER.match(text, match.end())):
        return None  # "几十个", "两三百人" are counts
    unit = 10000 if match.group("unit") == "万" else _CN_UNITS[match.group("unit")]
    if match.group("few"):
        low, high = Decimal(unit), Decimal(unit * 10)
    else:
        first, second = _CN_DIGITS[match.group("d1")], _CN_DIGITS[match.group("d2")]
        if second != first + 1:
            return None
        low, high = Decimal(first * unit), Decimal(second * unit)
        if match.group("more"):
            high += unit
    kind = _kind(match.group("suf"))
    if kind == "max":
        return _make(match, text, "max", None, high)
    if kind == "min":
        return _make(match, text, "min", low, None)
    return _make(match, text, "range", low, high)


def _single(match: re.Match[str], text: str) -> PriceMatch | None:
    value = parse_amount(match.group("a"))
    if value is None or _preceded_by_coupon_word(match, text) or _is_bare_number_unit(match, "a", text):
        return None
    currency = match.group("a_cur") or match.group("a_pre")
    kind = _kind(match.group("suf")) or _kind(match.group("pre")) or ("more" if match.group("a_more") else None)
    if len(match.group("a")) == 1 and match.group("a") in _CN_DIGITS:
        # A lone 一/两/三 is nearly always a count or part of a word: 一起, 三只, 一块手表.
        if not currency or (currency == "块" and kind is None):
            return None
    if kind is None:
        if not currency:
            return None  # a bare number says nothing about price
        kind = "around"
    if match.group("a_more"):  # 三百多: from 300 up to the next step
        high = value + _step(value)
        if kind == "min":
            return _make(match, text, "min", value, None)
        return _make(match, text, "max", None, high) if kind == "max" else _make(match, text, "range", value, high)
    if kind in ("max", "budget"):
        return _make(match, text, "max", None, value)
    if kind == "min":
        return _make(match, text, "min", value, None)
    if kind == "more":
        return _make(match, text, "range", value, value + _step(value))
    return _make(match, text, "around", value * (1 - AROUND_TOLERANCE), value * (1 + AROUND_TOLERANCE))


def _step(value: Decimal) -> Decimal:
    """The place value of the last non-zero digit: 300 -> 100, 1500 -> 100, 2000 -> 1000."""
    if value != value.to_integral_value() or value < 1:
        return Decimal(1)
    step = Decimal(1)
    integer = int(value)
    while integer % 10 == 0:
        integer //= 10
        step *= 10
    return step


def _make(
    match: re.Match[str], text: str, kind: str, low: Decimal | None, high: Decimal | None
) -> PriceMatch:
    start, end = match.start(), match.end()
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return PriceMatch(
        start,
        end,
        text[start:end],
        kind,
        None if low is None else low.quantize(_CENT),
        None if high is None else high.quantize(_CENT),
    )
