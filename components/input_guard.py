"""Guards for messages that are not ordinary text.

- :class:`InputNormalizer` (first in the pipeline) removes control characters and keeps the
  first ``max_chars`` characters, so a 6,000-character paste is understood from its start
  in bounded time instead of tying up the model.
- :class:`ContentFreeFallback` (last in the pipeline) turns a message with no letter, Chinese
  character or digit (emoji only, punctuation, empty) into ``nlu_fallback``, so the bot asks
  what the member needs instead of guessing an intent from noise.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.base import StatelessComponent

_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
FALLBACK_INTENT = "nlu_fallback"


def normalize_text(text: str, max_chars: int) -> str:
    """Drop control characters (keeping spaces), collapse whitespace runs, keep ``max_chars``."""
    cleaned = "".join(
        " " if ch in "\t\r\n" else ch for ch in text if ch in "\t\r\n" or unicodedata.category(ch) != "Cc"
    )
    return re.sub(r"\s{2,}", " ", cleaned).strip()[:max_chars]


def has_content(text: str | None) -> bool:
    """True if the text has at least one letter, Chinese character or digit."""
    return bool(text and _CONTENT.search(text))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class InputNormalizer(StatelessComponent):
    """Cleans and bounds the text before tokenization."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": 500}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, normalize_text(text, int(self._config["max_chars"])))
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class ContentFreeFallback(StatelessComponent):
    """Emoji-only, punctuation-only and empty messages become ``nlu_fallback``."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if has_content(message.get(TEXT)):
                continue
            fallback = {"name": FALLBACK_INTENT, "confidence": 1.0}
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback], add_to_output=True)
        return messages
