"""How the dialogue reacts to a member's mood: the rules, as pure functions.

The sentiment tag of each message (polarity, emotion, score) is condensed into a *mood*
(:func:`mood_of`). The dialogue policy ``components.reaction_policy.ServiceReactionPolicy`` asks
:func:`plan_reaction` what to do first, given this message and the previous ones of the session
(the mood never enters the featurized dialogue state, so the intent-based rules and stories predict
what they always did):

===========================  ==============================================  ====================
situation                    first actions                                   why
===========================  ==============================================  ====================
two fallbacks in a row       utter_fallback_handoff, action_handoff_to_human  the bot cannot help
strong anger                 utter_apologize_anger, action_handoff_to_human   a human, fast
anxiety about an order       action_order_status                              the status first
two negative turns in a row  utter_apologize_offer_human                      apologise, offer
joy after a resolved issue   utter_thanks_ask_csat                            thanks + rating
===========================  ==============================================  ====================

Rows are checked top to bottom; no row → the ordinary intent-based dialogue answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

MOOD_ENTITY = "mood"
ANGRY = "angry"
ANXIOUS = "anxious"
NEGATIVE = "negative"
JOYFUL = "joyful"
MOODS: tuple[str, ...] = (ANGRY, ANXIOUS, NEGATIVE, JOYFUL)
NEGATIVE_MOODS = frozenset({ANGRY, ANXIOUS, NEGATIVE})

# Anger at or above this confidence is "strong": the member goes to a human at once.
STRONG_ANGER_SCORE = 0.8

FALLBACK_INTENT = "nlu_fallback"
HANDOFF_ACTION = "action_handoff_to_human"
ORDER_STATUS_ACTION = "action_order_status"
APOLOGIZE_ANGER = "utter_apologize_anger"
FALLBACK_HANDOFF = "utter_fallback_handoff"
OFFER_HUMAN = "utter_apologize_offer_human"
ASK_CSAT = "utter_thanks_ask_csat"

# Actions that settle something for the member: joy after one of them is joy about the service.
RESOLVING_ACTIONS = frozenset(
    {
        "action_order_status",
        "action_request_return",
        "action_show_coupons",
        "action_points_balance",
        "action_tier_benefits",
        "action_recommend_products",
        "action_manage_privacy",
    }
)
# Intents that carry joy about what happened rather than a new request.
_THANKS_INTENTS = frozenset({"thank", "affirm", "goodbye"})
# Intents about an order that an anxious member should get the status for first.
_ORDER_INTENTS = frozenset({"check_order_status", "complain"})
# Explicit requests that the anxious-order and offer rows must not get in the way of.
_OWN_FLOW_INTENTS = frozenset({"request_human", "request_return", "rate_service", "manage_privacy"})


def mood_of(sentiment: Optional[Mapping[str, object]], strong_anger: float = STRONG_ANGER_SCORE) -> Optional[str]:
    """The mood of one message's sentiment tag; None for a neutral (or missing) tag."""
    if not sentiment:
        return None
    polarity, emotion = sentiment.get("polarity"), sentiment.get("emotion")
    try:
        score = float(sentiment.get("score") or 0.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        score = 0.0
    if polarity == "negative":
        if emotion == "anger" and score >= strong_anger:
            return ANGRY
        if emotion == "anxiety":
            return ANXIOUS
        return NEGATIVE
    if polarity == "positive" and emotion == "joy":
        return JOYFUL
    return None


@dataclass(frozen=True)
class UserTurn:
    """What the reaction rules need from one member message."""

    intent: Optional[str]
    mood: Optional[str] = None
    entities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SessionView:
    """The current session as the reaction rules see it.

    Attributes:
        turns: The member's messages of this session, oldest first; the last one is the current.
        actions: Actions run in this session before the current message, oldest first.
    """

    turns: Sequence[UserTurn]
    actions: Sequence[str] = field(default_factory=tuple)


def _recent_offer(actions: Sequence[str]) -> bool:
    """Whether a human was offered or handed over since the member's previous message or the one before."""
    listens = 0
    for action in reversed(actions):
        if action == "action_listen":
            listens += 1
            if listens > 2:
                return False
        elif action in (OFFER_HUMAN, HANDOFF_ACTION, APOLOGIZE_ANGER, FALLBACK_HANDOFF):
            return True
    return False


def plan_reaction(view: SessionView) -> list[str]:
    """The actions to run first for the current message, or [] for the ordinary dialogue."""
    if not view.turns:
        return []
    current = view.turns[-1]
    previous = view.turns[-2] if len(view.turns) > 1 else None
    if current.intent == FALLBACK_INTENT and previous is not None and previous.intent == FALLBACK_INTENT:
        if not _recent_offer(view.actions):
            return [FALLBACK_HANDOFF, HANDOFF_ACTION]
    if current.mood == ANGRY and current.intent != "rate_service":
        return [APOLOGIZE_ANGER, HANDOFF_ACTION]
    if current.mood == ANXIOUS and current.intent not in _OWN_FLOW_INTENTS:
        if current.intent in _ORDER_INTENTS or "order_id" in current.entities:
            return [ORDER_STATUS_ACTION]
    if (
        current.mood in NEGATIVE_MOODS
        and previous is not None
        and previous.mood in NEGATIVE_MOODS
        and current.intent not in _OWN_FLOW_INTENTS
        and current.intent != "complain"  # the complaint flow apologises and offers a human itself
        and not _recent_offer(view.actions)
    ):
        return [OFFER_HUMAN]
    if (
        current.mood == JOYFUL
        and current.intent in _THANKS_INTENTS
        and any(action in RESOLVING_ACTIONS for action in view.actions)
        and ASK_CSAT not in view.actions
    ):
        return [ASK_CSAT]
    return []


def next_action(plan: Sequence[str], done_since_message: Sequence[str]) -> Optional[str]:
    """The next step of ``plan`` given the actions run since the member's message.

    Returns ``action_listen`` once the plan is complete, and None when the actions run so far
    are not the plan's (something else is answering this message).
    """
    if not plan:
        return None
    done = [action for action in done_since_message if action != "action_listen"]
    if list(plan[: len(done)]) != done:
        return None
    return plan[len(done)] if len(done) < len(plan) else "action_listen"
