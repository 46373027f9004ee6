"""A small client for Rasa's REST channel (used by the tests, the benchmarks and the CLI chat)."""

from __future__ import annotations

from typing import Any, Optional

import requests


class RestChannelClient:
    """Sends member messages to ``/webhooks/rest/webhook`` with ``metadata.member_id``."""

    def __init__(self, rasa_url: str, timeout: float = 30.0) -> None:
        self.webhook = f"{rasa_url.rstrip('/')}/webhooks/rest/webhook"
        self.timeout = timeout
        self._http = requests.Session()

    def send(self, sender: str, text: str, member_id: Optional[str] = None) -> list[dict[str, Any]]:
        """Send one message; returns the bot's messages (text, buttons, custom payloads)."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if member_id is not None:
            body["metadata"] = {"member_id": member_id}
        response = self._http.post(self.webhook, json=body, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()


def texts(messages: list[dict[str, Any]]) -> str:
    """All text of the bot's messages, joined by newlines."""
    return "\n".join(m["text"] for m in messages if m.get("text"))


def payloads(messages: list[dict[str, Any]], kind: Optional[str] = None) -> list[dict[str, Any]]:
    """Structured (custom) payloads, optionally only those of one ``type``."""
    found = [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]
    return [p for p in found if kind is None or p.get("type") == kind]
