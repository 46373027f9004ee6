"""Language detection as a Rasa NLU component.

Adds an entity ``language`` (``zh`` or ``en``) to every message that contains Chinese
characters or Latin letters, so the ``language`` slot follows the language the member
writes in and responses pick their Chinese or English variation. A message with neither
(emoji only, digits, punctuation) adds nothing and the slot keeps its previous value.
"""

from __future__ import annotations

import re
from typing import List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.base import StatelessComponent

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Codes such as order ids (DD202610150123), SKUs, coupon codes and member ids carry letters
# but say nothing about the language the member reads.
_IDENTIFIER = re.compile(r"\b[A-Za-z]{1,4}\d{3,}\b|\b[A-Z0-9]{6,}\b", re.ASCII)
ENTITY_NAME = "language"


def detect_language(text: Optional[str]) -> Optional[str]:
    """``zh`` if the text has any Chinese character, ``en`` if it has Latin letters, else None.

    Mixed messages such as "我的coupon呢" count as Chinese: members who mix in English
    words still read Chinese best. A bare code ("DD202610150123") has no language.
    """
    if not text:
        return None
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(_IDENTIFIER.sub(" ", text)):
        return "en"
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(StatelessComponent):
    """Tags each message with the language it is written in."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            language = detect_language(text)
            if language is None:
                continue
            entities = list(message.get(ENTITIES, []))
            entities.append(
                {
                    "entity": ENTITY_NAME,
                    "value": language,
                    "start": 0,
                    "end": len(text),
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
