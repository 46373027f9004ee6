"""Sentiment and emotion of every member message, as a Rasa NLU component.

Sets ``message.set("sentiment", {"polarity", "emotion", "score"}, add_to_output=True)``, so
the tag appears in ``/model/parse`` and in each user event's ``parse_data`` in the tracker store
and event broker. The model (any Hugging Face text-classification directory, see
``personalization.sentiment``) loads once, on the first message, from ``model_path`` (config), else
``SENTIMENT_MODEL``, else ``models/sentiment``; relative paths are relative to the project root.

The dialogue policy ``components.reaction_policy.ServiceReactionPolicy`` reads the tag from the
user event. Button payloads (``/intent{...}``) are not free text: they are tagged neutral without
running the model (``rasa_ext.payload_sentiment`` keeps that tag on the unpacked payload message).

Needs torch 2.13.0 (CPU) and transformers 4.36.x in the Rasa environment; the module itself
imports without them (they are imported when the model loads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from components.base import StatelessComponent
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
        return {"model_path": None, "num_threads": 1}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentimentAnnotator":
        """Loads the model and tags one message, so the server's first member does not wait for it
        (and a missing or broken model stops the server at start, with the tagger's message)."""
        annotator = cls(config)
        annotator._tagger().tag("你好")
        return annotator

    def _tagger(self) -> SentimentTagger:
        threads = self._config.get("num_threads")
        return get_tagger(
            resolve_model_path(self._config.get("model_path")), num_threads=int(threads) if threads else None
        )

    def process(self, messages: List[Message]) -> List[Message]:
        texts = [message.get(TEXT) if isinstance(message.get(TEXT), str) else "" for message in messages]
        # Button payloads ("/ask_coupons{...}") are tagged neutral: the model reads only free text.
        tags = self._tagger().tag_many(["" if t.startswith("/") else t for t in texts])
        for message, tag in zip(messages, tags):
            message.set(SENTIMENT, tag.tag(), add_to_output=True)
        return messages
