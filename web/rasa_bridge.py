"""The Rasa server as the gateway calls it: the ``rest_nlu`` channel (the bot's answer and the NLU
result of the member's message in one request, see ``rasa_ext.channels``) and ``/model/parse``.

Failures, as the member meets them:

- Rasa down or restarting (connection refused, timeout, HTTP error): :class:`RasaUnavailable`; the
  gateway answers with the ``bot_unavailable`` error frame (the member's message is already stored).
- The action server down or crashed: Rasa still answers 200, but the custom action's answer is
  missing (Rasa logs "Bot will continue, but the actions events are lost"); ``rest_nlu`` lists the
  action in ``failed_actions``. The bridge then replaces the turn's items by one
  :data:`BOT_RETRY_MARKER` item, which ``web.flows.store_bot_items`` stores as a polite
  "系统繁忙，请稍后再试" system message (as it does for a turn with no answer at all).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)


# A response item standing for "the dialogue could not answer this turn; ask the member to retry".
BOT_RETRY_MARKER = "bot_retry"


class RasaUnavailable(RuntimeError):
    """Rasa did not answer, or answered with an error."""


@dataclass(frozen=True)
class ParseResult:
    """What NLU made of the member's latest message."""

    intent: str | None
    sentiment: dict[str, Any] | None


@dataclass(frozen=True)
class BotTurn:
    """The bot's answer to one member message, and the NLU result of that message."""

    items: list[dict[str, Any]]
    parse: ParseResult


class RasaBridge:
    """Async client of one Rasa server (REST channel + HTTP API with its token)."""

    def __init__(self, rasa_url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base = rasa_url.rstrip("/")
        self.token = token
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> BotTurn:
        """Send one member message; returns Rasa's response items (text, buttons, custom) and what
        NLU made of the message."""
        body = {"sender": sender, "message": message, "metadata": metadata}
        try:
            response = await self._http().post(f"{self.base}/webhooks/rest_nlu/webhook", json=body)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("Rasa REST channel failed: %s", type(exc).__name__)
            raise RasaUnavailable(str(type(exc).__name__)) from exc
        items = answer.get("messages") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise RasaUnavailable("unexpected response")
        failed = answer.get("failed_actions")
        if isinstance(failed, list) and failed:
            # What the bot said around a failed action (a follow-up to an answer that never came) would
            # mislead; the member is asked to retry instead.
            logger.warning("custom action(s) failed in Rasa (action server down?): %s",
                           ", ".join(str(name)[:64] for name in failed[:5]))
            return BotTurn(items=[{"custom": {"type": BOT_RETRY_MARKER}}], parse=_parse_result(answer.get("nlu")))
        return BotTurn(items=[item for item in items if isinstance(item, dict)], parse=_parse_result(answer.get("nlu")))

    async def parse(self, text: str) -> ParseResult:
        """NLU only (``POST /model/parse``): no tracker, no dialogue. For messages the bot must not answer
        (the conversation is with an agent) whose sentiment the agent should still see."""
        try:
            response = await self._http().post(f"{self.base}/model/parse", params={"token": self.token},
                                               json={"text": text})
            response.raise_for_status()
            return _parse_result(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("Rasa parse request failed: %s", type(exc).__name__)
            return ParseResult(intent=None, sentiment=None)


def _parse_result(parsed: object) -> ParseResult:
    """Intent name and sentiment of a parse result (``/model/parse`` or the ``rest_nlu`` channel's ``nlu``)."""
    if not isinstance(parsed, dict):
        return ParseResult(intent=None, sentiment=None)
    intent = parsed.get("intent")
    name = intent.get("name") if isinstance(intent, dict) else intent  # /model/parse nests it
    sentiment = parsed.get("sentiment")
    return ParseResult(
        intent=name if isinstance(name, str) else None,
        sentiment=sentiment if isinstance(sentiment, dict) else None,
    )
