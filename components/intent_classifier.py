"""Rasa intent classifier backed by :class:`components.char_ngram_model.CharNgramIntentModel`.

It comes after DIET in the pipeline (DIET keeps extracting entities) and sets ``intent`` and
``intent_ranking``, which the :class:`FallbackClassifier` then reads.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.char_ngram_model import CharNgramIntentModel, ModelConfig

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CharNgramIntentClassifier(GraphComponent):
    """Character n-gram TF-IDF + logistic regression over the message text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        defaults = ModelConfig()
        return {
            "min_ngram": defaults.min_ngram,
            "max_ngram": defaults.max_ngram,
            "C": defaults.c,
            "max_iter": defaults.max_iter,
            "random_seed": defaults.random_seed,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[CharNgramIntentModel] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config, model_storage, resource)

    def _model_config(self) -> ModelConfig:
        return ModelConfig(
            min_ngram=int(self._config["min_ngram"]),
            max_ngram=int(self._config["max_ngram"]),
            c=float(self._config["C"]),
            max_iter=int(self._config["max_iter"]),
            random_seed=int(self._config["random_seed"]),
        )

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        if len({m.get(INTENT) for m in examples}) < 2:
            logger.warning("CharNgramIntentClassifier: fewer than two intents to learn; not trained.")
            return self._resource
        self._model = CharNgramIntentModel.fit(
            [m.get(TEXT) for m in examples], [m.get(INTENT) for m in examples], self._model_config()
        )
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(directory)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> GraphComponent:
        try:
            with model_storage.read_from(resource) as directory:
                model = CharNgramIntentModel.load(directory)
        except (ValueError, FileNotFoundError):
            logger.warning("CharNgramIntentClassifier: no trained model in storage; intents are left unset.")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        limit = int(self._config["ranking_length"])
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text.strip():
                # As Rasa's own classifiers do: no intent, zero confidence (the fallback takes it).
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            ranking = [{"name": name, "confidence": score} for name, score in self._model.rank(text, limit)]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
