"""What the fault tests share: the running stack, a member socket that says one thing at a time,
Rasa's tracker of a conversation, and an agent logged in to the console API."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bench.web_delivery import MemberClient
from launcher.stack import Stack, ensure_rasa_token

TIMEOUT_S = 60.0
ANSWER_SENDERS = ("bot", "system")


@dataclass
class Said:
    """What became of one member message: its ack (seq), the first answer after it, an error frame."""

    client_id: str
    seq: int | None
    answer: dict[str, Any] | None
    error: dict[str, Any] | None


class FaultStack:
    """The running stack plus what the tests need to reach it."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.token = ensure_rasa_token(stack.settings)

    @property
    def web_url(self) -> str:
        return self.stack.web_url

    @property
    def database_path(self) -> str:
        return self.stack.settings.database_url.removeprefix("sqlite:///")

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        """Rasa's tracker of a conversation (HTTP API with the token)."""
        response = httpx.get(f"{self.stack.rasa_url}/conversations/{conversation_id}/tracker",
                             params={"token": self.token}, timeout=TIMEOUT_S)
        response.raise_for_status()
        return dict(response.json())

    def log(self, name: str) -> str:
        path = self.stack.log_dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


async def member_socket(web_url: str, member_id: str | None) -> MemberClient:
    """A member's (or, with ``None``, a visitor's) ``/ws/chat`` socket, connected."""
    async with httpx.AsyncClient(base_url=web_url, timeout=TIMEOUT_S) as web:
        response = await web.post("/demo/token", json={"member_id": member_id} if member_id else {})
        response.raise_for_status()
        token = response.json()["token"]
    member = MemberClient(member_id or "visitor")
    await member.connect("ws" + web_url[len("http"):], token)
    return member


async def say(member: MemberClient, text: str, *, client_id: str | None = None,
              timeout: float = TIMEOUT_S) -> Said:
    """Send one message; wait for its ack (or an error frame), then its answer (or an error frame)."""
    client_id = client_id or uuid.uuid4().hex
    errors = len(member.errors)
    waiter = member.ack_waiters[client_id] = asyncio.get_running_loop().create_future()
    await member.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}, ensure_ascii=False))
    await member.wait_for(lambda: waiter.done() or len(member.errors) > errors, timeout)
    if not waiter.done():
        return Said(client_id, None, None, member.errors[errors] if len(member.errors) > errors else None)
    seq = int(waiter.result())

    def first_answer() -> dict[str, Any] | None:
        later = [s for s, m in member.messages.items() if s > seq and m["sender"] in ANSWER_SENDERS]
        return member.messages[min(later)] if later else None

    await member.wait_for(lambda: first_answer() is not None or len(member.errors) > errors, timeout)
    await asyncio.sleep(0.3)  # the rest of the turn
    return Said(client_id, seq, first_answer(), member.errors[errors] if len(member.errors) > errors else None)


async def set_language(member: MemberClient, language: str) -> None:
    await member.ws.send(json.dumps({"type": "language", "language": language}))
    await asyncio.sleep(0.3)


class Agent:
    """A demo agent logged in to the console API (cookie + CSRF header)."""

    def __init__(self, web_url: str, username: str = "agent1", password: str = "agent1-demo") -> None:
        self.http = httpx.Client(base_url=web_url, timeout=TIMEOUT_S, follow_redirects=False)
        self.http.get("/agent/login").raise_for_status()
        response = self.http.post("/agent/login", data={"username": username, "password": password,
                                                         "csrf_token": self.http.cookies.get("desk_csrf") or ""})
        assert response.status_code == 303, response.text

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, headers={"X-CSRF-Token": self.http.cookies.get("desk_csrf") or ""}, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def close(self) -> None:
        self.http.close()


def slots_of(tracker: dict[str, Any]) -> dict[str, Any]:
    return dict(tracker.get("slots") or {})


def events_of(tracker: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The tracker's events in a comparable form."""
    return [(e.get("event"), e.get("timestamp"), e.get("text"), e.get("name"),
             json.dumps(e.get("value"), sort_keys=True)) for e in tracker.get("events") or []]
