"""Finding and masking personal data (PII) in free text: chat turns, log lines, exports.

Only the standard library: the Rasa server's environment (``.venv-rasa``) imports this module for
its log filter, so nothing here may import SQLAlchemy models or other app code.

=============  ===============================================  ===========================
kind           what is found                                    masked as
=============  ===============================================  ===========================
``phone``      Chinese mobile numbers, ``+86``/``86`` prefix,   ``138****5678``
               spaces or dashes between digit groups
``id_card``    resident ID numbers: 18 characters with a valid  ``1101**********1233``
               GB 11643 check character and birth date, or
               15-digit legacy numbers with a valid birth date
``bank_card``  13-19 digits (spaces/dashes allowed) that pass   ``***************0123``
               the Luhn check; other digit runs are left alone
``email``      e-mail addresses                                 ``a***@example.com``
``order``      order numbers ``DD`` + 10-14 digits              ``DD2026******23``
``address``    Chinese street/compound addresses (the city      ``上海市浦东新区********``
               and district stay) and English street addresses  ``*** (address)``
``name``       the names the caller knows (names cannot be      ``张*``, ``A*********``
               found by pattern)
=============  ===============================================  ===========================

How digit runs are read: a *run* is digits with single spaces or dashes between groups
(``6222 0212 3456 7890``), not glued to other digits or to ``*`` (so the ``5678`` of an already
masked ``138****5678`` is not a run). Letters around a run do not stop it: ``tel13812345678``
is a phone, and a Luhn-valid tracking number ``SF1234567890123`` is masked like a card (over-masking
a code is cheaper than leaking a number). Phones, ID numbers and cards are whole-group sequences
inside a run. When candidates overlap, the longest wins (it hides more; ``DD`` + digits is an order
number, not a card). Masked output never contains a run that is found again, so masking is
idempotent: ``mask_text(mask_text(x)) == mask_text(x)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import NamedTuple

__all__ = [
    "KINDS",
    "Span",
    "find_pii",
    "id_card_valid",
    "luhn_valid",
    "mask_name",
    "mask_phone",
    "mask_text",
]

KINDS = ("id_card", "bank_card", "phone", "email", "order", "address", "name")


class Span(NamedTuple):
    """One piece of personal data: ``text[start:end]`` is of ``kind`` (one of :data:`KINDS`)."""

    kind: str
    start: int
    end: int


# -- checks -------------------------------------------------------------------------------------

_ASCII_DIGITS = re.compile(r"[0-9]+")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def id_card_valid(value: str) -> bool:
    """Whether ``value`` is a resident ID number: 18 chars (GB 11643 check) or 15 digits (legacy).

    Both need an area code starting 1-8 and a real birth date (1900 onwards for 18-char numbers).

    >>> id_card_valid("110101199003071233"), id_card_valid("110101199003071234")
    (True, False)
    """
    if len(value) == 18:
        body, check = value[:17], value[17].upper()
        if not _ASCII_DIGITS.fullmatch(body) or check not in _ID_CHECK or body[0] not in "12345678":
            return False
        if not (1900 <= int(body[6:10]) <= 2099 and _valid_date(int(body[6:10]), int(body[10:12]), int(body[12:14]))):
            return False
        return _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11] == check
    if len(value) == 15 and _ASCII_DIGITS.fullmatch(value) and value[0] in "12345678":
        return _valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    return False


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a card number given as digits only.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    if not _ASCII_DIGITS.fullmatch(digits):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# -- patterns -----------------------------------------------------------------------------------

# A run of digit groups (see the module docstring); ``+`` may open it (``+86 138...``), and the
# last group may end in X (an ID number's check character).
_RUN = re.compile(r"(?<![0-9*+])\+?[0-9]+(?:[ -][0-9]+)*[Xx]?(?![0-9*])")
_GROUP = re.compile(r"\+?[0-9]+[Xx]?")
_MOBILE = re.compile(r"(?:86)?1[3-9][0-9]{9}")
_ORDER = re.compile(r"(?<![A-Za-z0-9*])DD[0-9]{10,14}(?![0-9A-Za-z*])", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_HAN = "\u4e00-\u9fff"
# Chinese addresses: an optional province/city/district part (kept when masking), then the street
# and number (or a residential compound and building), with building/unit/room parts.
_CN_REGION = rf"((?:[{_HAN}]{{2,6}}(?:省|市|自治区))?(?:[{_HAN}]{{1,6}}(?:市|区|县))?)"
_CN_TAIL = rf"(?:\s*[{_HAN}0-9A-Za-z\-]{{0,12}}?(?:号楼|栋|幢|单元|室|层))*"
_CN_ADDRESS = re.compile(
    _CN_REGION
    + rf"([{_HAN}0-9A-Za-z]{{1,20}}(?:路|街|大道|大街|巷|胡同)\s*[0-9]+(?:-[0-9]+)?\s*(?:号|弄)"
    + _CN_TAIL
    + rf"|[{_HAN}]{{2,12}}(?:小区|花园|公寓|大厦|家园|新村|苑)\s*[0-9]+\s*(?:号楼|栋|幢)"
    + _CN_TAIL
    + ")"
)
_EN_ADDRESS = re.compile(
    r"\b[0-9]{1,5}\s+(?:[A-Z][a-z]+\s){1,3}"
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Dr|Way|Court|Ct)\b\.?"
)


# Full-width forms (ｆｕｌｌ-ｗｉｄｔｈ digits, letters, ＋, －, ＠ and the ideographic space) read as
# their ASCII twins: members type them with Chinese input methods. One character for one, so the
# spans found in the translated text are the spans of the original.
_HALF_WIDTH = {0xFF01 + i: 0x21 + i for i in range(0x5E)} | {0x3000: 0x20}


def _half_width(text: str) -> str:
    return text.translate(_HALF_WIDTH)


# -- finding ------------------------------------------------------------------------------------


def _digit_candidates(text: str) -> Iterable[tuple[Span, int]]:
    """Phones, ID numbers and cards in the digit runs of ``text``, with a tie-break rank."""
    for run in _RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start(), m.group(0)) for m in _GROUP.finditer(run.group(0))]
        for i, (start, _, first) in enumerate(groups):
            digits = ""
            for j in range(i, len(groups)):
                group = groups[j][2].lstrip("+")
                if j > i and groups[j][2].startswith("+"):
                    break
                digits += group
                if len(digits) > 19:
                    break
                end = groups[j][1]
                x_end = digits[-1] in "Xx"
                if len(digits) in (15, 18) and id_card_valid(digits):
                    yield Span("id_card", start, end), 0
                if x_end:
                    break  # only an ID number ends in X; nothing goes on after it
                if 13 <= len(digits) <= 19 and not first.startswith("+") and luhn_valid(digits):
                    yield Span("bank_card", start, end), 1
                if _MOBILE.fullmatch(digits) and (not first.startswith("+") or digits.startswith("86")):
                    yield Span("phone", start, end), 2


def _pattern_candidates(text: str) -> Iterable[tuple[Span, int]]:
    for match in _ORDER.finditer(text):
        yield Span("order", match.start(), match.end()), 3
    for match in _EMAIL.finditer(text):
        yield Span("email", match.start(), match.end()), 3
    for match in _CN_ADDRESS.finditer(text):
        if match.end(2) > match.start(2):
            yield Span("address", match.start(2), match.end(2)), 4
    for match in _EN_ADDRESS.finditer(text):
        yield Span("address", match.start(), match.end()), 4


def _name_candidates(text: str, names: Iterable[str | None]) -> Iterable[tuple[Span, int]]:
    for name in {_half_width(n.strip()) for n in names if n and n.strip()}:
        if len(name) < 2:
            continue  # one character is not a name we can find safely
        start = text.find(name)
        while start >= 0:
            yield Span("name", start, start + len(name)), 5
            start = text.find(name, start + 1)


def find_pii(text: str | None, names: Iterable[str | None] = ()) -> list[Span]:
    """The personal data in ``text``: non-overlapping spans, in text order.

    Args:
        text: any string (``None`` and ``""`` have none).
        names: names known to belong to people (the member's, an agent's); they are found as given.

    >>> find_pii("电话 138-1234-5678，邮箱 a@b.cn")
    [Span(kind='phone', start=3, end=16), Span(kind='email', start=20, end=26)]
    """
    if not text:
        return []
    text = _half_width(text)
    candidates = [*_digit_candidates(text), *_pattern_candidates(text), *_name_candidates(text, names)]
    # The longest first (it hides the most); then the stronger evidence (checksums), then the leftmost.
    candidates.sort(key=lambda c: (-(c[0].end - c[0].start), c[1], c[0].start))
    taken: list[Span] = []
    for span, _ in candidates:
        if all(span.end <= other.start or span.start >= other.end for other in taken):
            taken.append(span)
    return sorted(taken, key=lambda s: s.start)


# -- masking ------------------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    """``13812345678`` (or ``+86 138-1234-5678``) -> ``138****5678``."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(name: str | None) -> str | None:
    """``"张伟"`` -> ``"张*"``, ``"Alice Wong"`` -> ``"A*********"``: enough to greet, not to identify."""
    if not name:
        return None
    return name[0] + "*" * max(len(name) - 1, 1)


def _mask_id_card(value: str) -> str:
    chars = re.sub(r"[^0-9Xx]", "", value)
    return chars[:4] + "*" * (len(chars) - 8) + chars[-4:]


def _mask_card(value: str) -> str:
    digits = re.sub(r"[^0-9]", "", value)
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_order(value: str) -> str:
    return value[:6] + "*" * (len(value) - 8) + value[-2:]


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[0]}***@{domain}"


def _mask_address(value: str) -> str:
    return "*" * 8 if re.search(f"[{_HAN}]", value) else "*** (address)"


_MASKERS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "id_card": _mask_id_card,
    "bank_card": _mask_card,
    "order": _mask_order,
    "email": _mask_email,
    "address": _mask_address,
    "name": lambda value: mask_name(value) or "*",
}


def mask_text(text: str | None, names: Iterable[str | None] = ()) -> str:
    """``text`` with every span of :func:`find_pii` masked; ``None`` gives ``""``.

    >>> mask_text("我是张伟，电话13812345678，订单DD202610150123", names=["张伟"])
    '我是张*，电话138****5678，订单DD2026******23'
    """
    if not text:
        return ""
    out: list[str] = []
    position = 0
    half = _half_width(text)
    for span in find_pii(text, names):
        out.append(text[position : span.start])
        out.append(_MASKERS[span.kind](half[span.start : span.end]))
        position = span.end
    out.append(text[position:])
    return "".join(out)
