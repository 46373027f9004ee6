"""A dialogue policy that reacts to the member's mood and to repeated misunderstandings.

The rules live in :mod:`personalization.sentiment.reactions` (pure functions, unit-tested); this
policy feeds them the current session from the tracker and turns their plan into predictions.
It predicts only while a reaction plan is being carried out (confidence 1.0, priority above
RulePolicy's) and predicts nothing otherwise, so every other turn is left to the ordinary rules,
memoization and TED. Nothing is trained.

The member's mood comes from the ``sentiment`` tag that ``components.sentiment.SentimentAnnotator``
puts on each user event (strong anger = anger with a score of at least ``strong_anger``). Test
stories cannot carry that tag (Rasa's story reader keeps only intents and entities), so a ``mood``
entity on a user step (angry / anxious / negative / joyful; declared in the domain, not
featurized) states the mood there and wins over the tag.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from personalization.sentiment.reactions import (
    MOOD_ENTITY,
    MOODS,
    STRONG_ANGER_SCORE,
    SessionView,
    UserTurn,
    mood_of,
    next_action,
    plan_reaction,
)

# Actions Rasa runs by itself around a user message; they are not steps of a plan.
_IGNORED_ACTIONS = frozenset({"action_extract_slots", "action_session_start"})


def _user_turn(event: UserUttered, strong_anger: float) -> UserTurn:
    entities = [e for e in (event.entities or []) if isinstance(e, dict)]
    mood: Optional[str] = None
    for entity in entities:
        if entity.get("entity") == MOOD_ENTITY and entity.get("value") in MOODS:
            mood = str(entity["value"])
    if mood is None:
        mood = mood_of((event.parse_data or {}).get("sentiment"), strong_anger)  # type: ignore[arg-type]
    return UserTurn(
        intent=(event.intent or {}).get("name"),
        mood=mood,
        entities=frozenset(str(e.get("entity")) for e in entities),
    )


def session_view(tracker: DialogueStateTracker, strong_anger: float) -> tuple[SessionView, list[str]]:
    """The session up to the latest member message, and the actions run since that message."""
    turns: list[UserTurn] = []
    before: list[str] = []
    since: list[str] = []
    for event in tracker.applied_events():
        if isinstance(event, SessionStarted):
            turns, before, since = [], [], []
        elif isinstance(event, UserUttered):
            turns.append(_user_turn(event, strong_anger))
            before.extend(since)
            since = []
        elif isinstance(event, ActionExecuted) and event.action_name and event.action_name not in _IGNORED_ACTIONS:
            since.append(event.action_name)
    return SessionView(turns=turns, actions=tuple(before)), since


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class ServiceReactionPolicy(Policy):
    """Carries out :func:`~personalization.sentiment.reactions.plan_reaction` for each message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # RulePolicy has priority 6; a reaction must win a tie with a rule for the same message.
        return {"priority": 7, "strong_anger": STRONG_ANGER_SCORE}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self._strong_anger = float(config.get("strong_anger", STRONG_ANGER_SCORE))

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn; the resource is persisted so that the trained model can load it."""
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """1.0 for the next step of the current reaction plan; all zeros when there is none."""
        probabilities = self._default_predictions(domain)
        view, since = session_view(tracker, self._strong_anger)
        action = next_action(plan_reaction(view), since)
        if action is not None and (action == ACTION_LISTEN_NAME or action in domain.action_names_or_texts):
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
