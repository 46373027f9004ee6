"""What an action needs to know about the current turn: who is asking, in which language, about what.

Reads only the tracker (and the static catalog reference data); no database access here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker

from personalization.catalog_data import BRANDS, CATEGORIES
from personalization.language import has_chinese
from personalization.services.orders import normalize_order_id

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# DD + 12 digits, as typed: any case, optionally with spaces or a hyphen after "DD".
_ORDER_ID_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[Dd]{2}[\s-]?(\d{12})(?!\d)")
_ORDER_ID = re.compile(r"^DD\d{12}$")
# Words that signal a worried member when the sentiment tagger is not in the pipeline.
_ANXIOUS_WORDS = (
    "着急",
    "急死",
    "急用",
    "怎么还没",
    "还没到",
    "还没收到",
    "还没发货",
    "催",
    "urgent",
    "asap",
    "still not",
    "still hasn't",
)


def latest_text(tracker: Tracker) -> str:
    """The text of the latest user message ("" if none)."""
    return str((tracker.latest_message or {}).get("text") or "")


def _metadata_member_id(metadata: Any) -> str | None:
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get("member_id")
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def member_id(tracker: Tracker) -> str | None:
    """The member behind this conversation, or None for an anonymous visitor.

    The gateway's metadata on the latest message wins; then the ``member_id`` slot (set at
    session start); then the metadata that started the session.
    """
    found = _metadata_member_id((tracker.latest_message or {}).get("metadata"))
    if found:
        return found
    slot = tracker.get_slot("member_id")
    if slot:
        return str(slot).strip() or None
    return _metadata_member_id(tracker.get_slot("session_started_metadata"))


def session_metadata_member_id(tracker: Tracker) -> str | None:
    """The member id in the metadata of the message that starts the session, if any."""
    return _metadata_member_id(tracker.get_slot("session_started_metadata")) or _metadata_member_id(
        (tracker.latest_message or {}).get("metadata")
    )


def language(tracker: Tracker, preferred: str | None = None) -> str:
    """The language to answer in: the ``language`` slot, else Chinese if the latest text has
    Chinese characters, else the member's preferred language, else Chinese."""
    slot = tracker.get_slot("language")
    if slot in LANGUAGES:
        return str(slot)
    if has_chinese(latest_text(tracker)):
        return "zh"
    if preferred in LANGUAGES:
        return str(preferred)
    return DEFAULT_LANGUAGE


def order_id(tracker: Tracker) -> str | None:
    """The order id the member mentioned in the latest message (entity first, then the text)."""
    for value in tracker.get_latest_entity_values("order_id"):
        normalized = normalize_order_id(value)
        if normalized:
            return normalized
    match = _ORDER_ID_IN_TEXT.search(latest_text(tracker))
    if match:
        return "DD" + match.group(1)
    return None


def is_order_id(value: str | None) -> bool:
    """Whether ``value`` has the shape of an order id (DD + 12 digits)."""
    return bool(value and _ORDER_ID.match(value))


@lru_cache(maxsize=1)
def _category_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for category in CATEGORIES:
        for word in (category.key, category.zh, category.en, *category.synonyms):
            lookup[word.lower()] = category.key
    return lookup


@lru_cache(maxsize=1)
def _brand_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for brand in BRANDS:
        for word in (brand.key, brand.zh, brand.en):
            lookup[word.lower()] = brand.key
    return lookup


def _catalog_entity(tracker: Tracker, entity: str, lookup: Mapping[str, str]) -> str | None:
    for value in tracker.get_latest_entity_values(entity):
        key = lookup.get(str(value).strip().lower())
        if key:
            return key
    return None


def coupon_template(tracker: Tracker) -> str | None:
    """The coupon template a claim button asked for (``/ask_coupons{"coupon_template": "..."}``)."""
    for value in tracker.get_latest_entity_values("coupon_template"):
        text = str(value).strip()
        if text:
            return text[:64]
    return None


def category(tracker: Tracker) -> str | None:
    """The category key the member asked about (entity value or any of its names), if any."""
    return _catalog_entity(tracker, "category", _category_lookup())


def brand(tracker: Tracker) -> str | None:
    """The brand key the member asked about (entity value or its Chinese/English name), if any."""
    return _catalog_entity(tracker, "brand", _brand_lookup())


def emotion(tracker: Tracker) -> str | None:
    """The emotion the sentiment tagger put on the latest message (anger, anxiety, ...), if any."""
    sentiment = (tracker.latest_message or {}).get("sentiment")
    if isinstance(sentiment, Mapping):
        value = sentiment.get("emotion")
        return str(value) if value else None
    return None


def is_anxious(tracker: Tracker) -> bool:
    """Whether the member sounds worried (tagged anxiety, or worried words when untagged)."""
    tagged = emotion(tracker)
    if tagged is not None:
        return tagged == "anxiety"
    text = latest_text(tracker).lower()
    return any(word in text for word in _ANXIOUS_WORDS)


def is_angry(tracker: Tracker) -> bool:
    """Whether the sentiment tagger found anger in the latest message."""
    return emotion(tracker) == "anger"
