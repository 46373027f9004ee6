"""Keep the sentiment tag on button payloads (``/intent{...}`` messages).

Rasa's ``RegexMessageHandler`` (added at the end of every NLU pipeline) answers a payload message
with a *new* message holding only the payload's intent and entities, so whatever the pipeline's
components set (here ``components.sentiment.SentimentAnnotator``'s ``sentiment``) is dropped and
the user event of a button click would carry no tag. :func:`install` wraps the handler so that the
new message keeps the tag the pipeline computed (neutral for payloads). Nothing else changes.
"""

from __future__ import annotations

from typing import Any, List, Optional

from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.training_data.message import Message

SENTIMENT = "sentiment"
_original_process = RegexMessageHandler.process


def process_keeping_sentiment(
    self: RegexMessageHandler, messages: List[Message], domain: Optional[Domain] = None
) -> List[Message]:
    """``RegexMessageHandler.process`` that copies the sentiment tag onto unpacked payload messages."""
    handled = _original_process(self, messages, domain)
    for original, new in zip(messages, handled):
        tag: Any = original.get(SENTIMENT)
        if new is not original and tag is not None and new.get(SENTIMENT) is None:
            new.set(SENTIMENT, tag, add_to_output=True)
    return handled


def install() -> None:
    """Wrap the handler (idempotent)."""
    RegexMessageHandler.process = process_keeping_sentiment  # type: ignore[method-assign]
