"""Helpers of the web app tests (a member's token, an agent's login, reading frames)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from personalization.desk.handoff import request_handoff

RASA_TOKEN = "test-rasa-token"
SECRET = "test-web-secret-0123456789"


@dataclass
class FakeRasa:
    """What the stand-in Rasa received, and how it answers."""

    url: str = ""
    factory: sessionmaker[Session] | None = None
    webhook_calls: list[dict[str, Any]] = field(default_factory=list)
    parse_calls: list[str] = field(default_factory=list)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: bool = False

    def reset(self) -> None:
        self.webhook_calls.clear()
        self.parse_calls.clear()
        self.latest.clear()
        self.fail = False

    @staticmethod
    def nlu(text: str) -> dict[str, Any]:
        """What ``/model/parse`` says (only the angry case matters to the tests)."""
        if text.startswith("生气") or "气死" in text:
            return {"text": text, "intent": {"name": "complain", "confidence": 0.9},
                    "sentiment": {"polarity": "negative", "emotion": "anger", "score": 0.97}}
        return {"text": text, "intent": {"name": "greet", "confidence": 0.9},
                "sentiment": {"polarity": "neutral", "emotion": "neutral", "score": 0.8}}

    def answer(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        sender, text = body["sender"], body["message"]
        intent, sentiment = "greet", {"polarity": "neutral", "emotion": "neutral", "score": 0.9}
        if text.startswith("转人工"):
            intent = "request_human"
            assert self.factory is not None
            with self.factory() as session:
                handoff = request_handoff(session, sender, reason="member_request")
                session.commit()
            items = [{"recipient_id": sender, "text": "正在为您转接人工客服"},
                     {"recipient_id": sender, "custom": {"type": "handoff", "handoff_id": handoff["handoff_id"],
                                                         "reason": "member_request", "priority": handoff["priority"]}}]
        elif text.startswith("???"):
            intent = "nlu_fallback"
            items = [{"recipient_id": sender, "text": "抱歉，我没太明白。"}]
        elif text.startswith("生气"):
            intent, sentiment = "complain", {"polarity": "negative", "emotion": "anger", "score": 0.97}
            items = [{"recipient_id": sender, "text": "非常抱歉"}]
        elif text.startswith("/ask_coupons"):
            intent = "ask_coupons"
            items = [{"recipient_id": sender, "text": "这些优惠券可以领取",
                      "buttons": [{"title": "领取", "payload": "/ask_coupons{\"coupon_template\": \"T1\"}"}]}]
        else:
            items = [{"recipient_id": sender, "text": f"您好！收到：{text}"}]
        self.latest[sender] = {"intent": {"name": intent, "confidence": 0.9}, "sentiment": sentiment, "text": text}
        return items


def rasa_handler(fake: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, data: Any) -> None:
            raw = json.dumps(data).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            url = urlparse(self.path)
            if url.path == "/model/parse":
                if parse_qs(url.query).get("token") != [RASA_TOKEN]:
                    return self._send(401, {"error": "token"})
                fake.parse_calls.append(body["text"])
                return self._send(200, fake.nlu(body["text"]))
            if self.path != "/webhooks/rest_nlu/webhook":
                return self._send(404, {})
            fake.webhook_calls.append(body)
            if fake.fail:
                return self._send(500, {"error": "boom"})
            items = fake.answer(body)
            latest = fake.latest[body["sender"]]
            nlu = {"intent": latest["intent"]["name"], "confidence": latest["intent"]["confidence"],
                   "sentiment": latest["sentiment"]}
            return self._send(200, {"messages": items, "nlu": nlu})

    return Handler


@dataclass(frozen=True)
class WebDb:
    url: str
    factory: sessionmaker[Session]
    members: list[str]




def member_token(client: TestClient, member_id: str | None) -> dict[str, Any]:
    response = client.post("/demo/token", json={"member_id": member_id})
    assert response.status_code == 200, response.text
    return response.json()


def login(client: TestClient, username: str, password: str) -> Any:
    """Log in through the form (CSRF cookie + hidden field); returns the POST response."""
    client.get("/agent/login")
    csrf = client.cookies.get("desk_csrf")
    return client.post("/agent/login", data={"username": username, "password": password, "csrf_token": csrf},
                       follow_redirects=False)


def csrf_headers(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies.get("desk_csrf") or ""}


def receive_until(ws: Any, predicate: Any, limit: int = 30) -> list[dict[str, Any]]:
    """Frames up to and including the first one for which ``predicate`` holds."""
    frames = []
    for _ in range(limit):
        frame = ws.receive_json()
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(f"no matching frame in {frames}")
