"""``rest_nlu``: Rasa's REST channel that also returns what NLU made of the member's message.

The web gateway needs each member message's intent and sentiment (for the agent console and the
analytics), and the bot's answer. With the stock REST channel that is two requests per turn (the
webhook, then ``GET /conversations/{id}/tracker``, which loads and serialises the whole tracker).
This channel answers ``POST /webhooks/rest_nlu/webhook`` (same body as ``/webhooks/rest/webhook``)
with ``{"messages": [...the REST channel's items...], "nlu": {"intent", "confidence", "sentiment"},
"failed_actions": [...custom actions that could not run in this turn...]}`` (the gateway then asks the
member to try again instead of showing a half answer).

The parse data is caught where Rasa computes it: :func:`install` wraps
``MessageProcessor.parse_message`` so that a message whose output channel is a
:class:`NluCollectingOutputChannel` keeps its parse result there. ``python -m rasa_ext`` installs
it; :meth:`RestNluInput.blueprint` installs it too (idempotent), so the channel works wherever it is
configured in ``credentials.yml``.
"""

from __future__ import annotations

import copy
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import structlog
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

structlogger = structlog.get_logger()
_original_parse_message = MessageProcessor.parse_message
_original_remote_run = RemoteAction.run


class NluCollectingOutputChannel(CollectingOutputChannel):
    """Collects the bot's messages, and the parse data of the message they answer."""

    def __init__(self) -> None:
        super().__init__()
        self.parse_data: Optional[Dict[Text, Any]] = None
        # Custom actions that failed in this turn (action server down or crashed). Rasa itself only
        # logs them ("Bot will continue, but the actions events are lost") and answers what it has.
        self.failed_actions: List[Text] = []


async def parse_message_keeping_result(
    self: MessageProcessor,
    message: UserMessage,
    tracker: Optional[DialogueStateTracker] = None,
    only_output_properties: bool = True,
) -> Dict[Text, Any]:
    """``MessageProcessor.parse_message``, also handing the result to an NLU-collecting channel."""
    parse_data = await _original_parse_message(self, message, tracker, only_output_properties)
    if isinstance(message.output_channel, NluCollectingOutputChannel):
        message.output_channel.parse_data = parse_data
    return parse_data


async def remote_run_noting_failure(
    self: RemoteAction, output_channel: Any, nlg: Any, tracker: DialogueStateTracker, domain: Any
) -> Any:
    """``RemoteAction.run``, also telling an NLU-collecting channel that the action failed."""
    try:
        return await _original_remote_run(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise  # a form rejecting a slot value: part of the dialogue, not a failure
    except Exception:
        if isinstance(output_channel, NluCollectingOutputChannel):
            output_channel.failed_actions.append(self.name())
        raise


def install() -> None:
    """Wrap the processor's ``parse_message`` and ``RemoteAction.run`` (idempotent)."""
    MessageProcessor.parse_message = parse_message_keeping_result  # type: ignore[method-assign]
    RemoteAction.run = remote_run_noting_failure  # type: ignore[method-assign]


def nlu_summary(parse_data: Optional[Dict[Text, Any]]) -> Dict[Text, Any]:
    """The part of the parse data the gateway stores: intent name, its confidence, sentiment."""
    parse_data = parse_data or {}
    intent = parse_data.get("intent") if isinstance(parse_data.get("intent"), dict) else {}
    return {
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "sentiment": parse_data.get("sentiment"),
    }


class RestNluInput(RestInput):
    """The REST channel whose answer carries the NLU result of the member's message."""

    @classmethod
    def name(cls) -> Text:
        return "rest_nlu"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        install()
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender_id = await self._extract_sender(request)
            text = self._extract_message(request)
            collector = NluCollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        input_channel=self._extract_input_channel(request),
                        metadata=self.get_metadata(request),
                    )
                )
            except CancelledError:
                structlogger.error("rest_nlu.message.received.timeout", text=copy.deepcopy(text))
            except Exception:  # noqa: BLE001 - answer what was collected, like the REST channel
                structlogger.exception("rest_nlu.message.received.failure", text=copy.deepcopy(text))
            return response.json({"messages": collector.messages, "nlu": nlu_summary(collector.parse_data),
                                  "failed_actions": collector.failed_actions})

        return webhook
