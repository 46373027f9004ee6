"""Masking of personal data in free text shown by analytics (turn texts, transcripts, exports).

Reuses the store's own helpers (:func:`personalization.services.members.mask_phone`,
:func:`personalization.desk.handoff.mask_name`) and adds patterns for what members type:

=================  =====================================  ==========================
what               example                                masked
=================  =====================================  ==========================
mobile phone       13812345678 / +86 138-1234-5678         138****5678
order number       DD202610150123                         DD2026******23
ID card number     110101199003071234                     1101**********1234
e-mail             alice.wong@example.com                 a***@example.com
address            上海市浦东新区世纪大道100号              上海市浦东新区********
known names        谢若曦 (the member's name)              谢**
=================  =====================================  ==========================

Names cannot be found by pattern; callers pass the names they know (the member's, from the
member store or the ``member_name`` slot).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from personalization.desk.handoff import mask_name
from personalization.services.members import mask_phone

_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
_ORDER = re.compile(r"(?<![A-Za-z0-9])DD\d{10,14}(?!\d)", re.IGNORECASE)
_ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
# A Chinese street address: the district/city part stays, the street and number go.
_ADDRESS = re.compile(
    r"((?:[\u4e00-\u9fff]{2,6}(?:省|市|自治区))?(?:[\u4e00-\u9fff]{1,6}(?:市|区|县))?)"
    r"([\u4e00-\u9fff\dA-Za-z]{1,20}(?:路|街|大道|巷)\s*\d+(?:-\d+)?\s*(?:号|弄)"
    r"(?:[\u4e00-\u9fff\dA-Za-z\-]{0,12}?(?:号楼|栋|幢|单元|室))*)"
)
_EN_ADDRESS = re.compile(r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s){1,3}(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln)\b\.?")


def _mask_order(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[:6] + "*" * (len(text) - 8) + text[-2:]


def _mask_id_card(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_text(text: str | None, *, names: Iterable[str | None] = ()) -> str:
    """``text`` with phones, order numbers, ID numbers, e-mails, addresses and ``names`` hidden.

    >>> mask_text("我是张伟，电话13812345678，订单DD202610150123", names=["张伟"])
    '我是张*，电话138****5678，订单DD2026******23'
    """
    if not text:
        return ""
    out = _ID_CARD.sub(_mask_id_card, text)  # before phones: an ID number contains phone-like runs
    out = _PHONE.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group(0))[-11:]), out)
    out = _ORDER.sub(_mask_order, out)
    out = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", out)
    out = _ADDRESS.sub(lambda m: m.group(1) + "*" * 8, out)
    out = _EN_ADDRESS.sub("*** (address)", out)
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        if len(name) >= 2:
            out = out.replace(name, mask_name(name) or "")
    return out
