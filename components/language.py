"""Language detection as a Rasa NLU component.

Adds an entity ``language`` (``zh`` or ``en``) to every message that contains Chinese
characters or Latin letters, so the ``language`` slot follows the language the member
writes in and responses pick their Chinese or English variation. A message with neither
(emoji only, digits, punctuation) adds nothing and the slot keeps its previous value.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.base import StatelessComponent
from personalization.language import detect_language

ENTITY_NAME = "language"


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
