"""Which language a member writes in. Dependency-free: the Rasa NLU component and the actions both use it."""

from __future__ import annotations

import re
from typing import Optional

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Codes such as order ids (DD202610150123), SKUs, coupon codes and member ids carry letters
# but say nothing about the language the member reads.
_IDENTIFIER = re.compile(r"\b[A-Za-z]{1,4}\d{3,}\b|\b[A-Z0-9]{6,}\b", re.ASCII)


def has_chinese(text: Optional[str]) -> bool:
    """True if the text contains a Chinese character."""
    return bool(text and _CJK.search(text))


def detect_language(text: Optional[str]) -> Optional[str]:
    """``zh`` if the text has any Chinese character, ``en`` if it has Latin letters, else None.

    Mixed messages such as "我的coupon呢" count as Chinese: members who mix in English
    words still read Chinese best. A bare code ("DD202610150123") has no language.
    """
    if not text:
        return None
    if has_chinese(text):
        return "zh"
    if _LATIN.search(_IDENTIFIER.sub(" ", text)):
        return "en"
    return None
