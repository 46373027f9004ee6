"""Sentiment and emotion of every member message, as a Rasa NLU component.

Sets ``message.set("sentiment", {"polarity", "emotion", "score"}, add_to_output=True)``, so
the tag appears in ``/model/parse`` and in each user event's ``parse_data`` in the tracker store
and event broker. The model (any Hugging Face text-classification directory, see
``personalization.sentiment``) loads once, on the first message, from ``model_path`` (config), else
``SENTIMENT_MODEL``, else ``models/sentiment``; relative paths are relative to the project root.

It also adds the condensed *mood* (angry / anxious / negative / joyful, see
:mod:`personalization.sentiment.reactions`) as an entity ``mood`` without a text span, which the
dialogue policy ``components.reaction_policy.ServiceReactionPolicy`` reads; the domain declares it
with ``influence_conversation: false``. Button payloads (``/intent{...}``) are not free text: they
are tagged neutral without running the model.

Needs torch 2.13.0 (CPU) and transformers 4.36.x in the Rasa environment; the module itself
imports without them (they are imported when the model loads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.base import StatelessComponent
from personalization.sentiment.reactions import MOOD_ENTITY, STRONG_ANGER_SCORE, mood_of
from personalization.sentiment.tagger import SentimentTagger, get_tagger
from personalization.settings import PROJECT_ROOT, Settings

SENTIMENT = "sentiment"


def resolve_model_path(configured: Optional[str]) -> Path:
    """The model directory: the component's ``model_path``, else ``SENTIMENT_MODEL``, else the default."""
    path = Path(configured or Settings.from_env().sentiment_model)
    return path if path.is_absolute() else PROJECT_ROOT / path


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentimentAnnotator(StatelessComponent):
    """Tags each message with polarity, emotion and score."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"model_path": None, "num_threads": 1, "strong_anger": STRONG_ANGER_SCORE}

    def _tagger(self) -> SentimentTagger:
        threads = self._config.get("num_threads")
        return get_tagger(
            resolve_model_path(self._config.get("model_path")), num_threads=int(threads) if threads else None
        )

    def process(self, messages: List[Message]) -> List[Message]:
        texts = [message.get(TEXT) if isinstance(message.get(TEXT), str) else "" for message in messages]
        # Button payloads ("/ask_coupons{...}") are tagged neutral: the model reads only free text.
        tags = self._tagger().tag_many(["" if t.startswith("/") else t for t in texts])
        strong_anger = float(self._config.get("strong_anger", STRONG_ANGER_SCORE))
        for message, tag in zip(messages, tags):
            sentiment = tag.tag()
            message.set(SENTIMENT, sentiment, add_to_output=True)
            mood = mood_of(sentiment, strong_anger)
            if mood is not None:
                entity = {"entity": MOOD_ENTITY, "value": mood, "confidence": sentiment["score"], "extractor": "SentimentAnnotator"}
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
