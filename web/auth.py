"""Agent authentication: signed session cookie, double-submit CSRF tokens, login throttling.

The session cookie ``desk_session`` holds the agent id, role and expiry, HMAC-signed
(HttpOnly, SameSite=Strict). Every request re-reads the agent from the database, so a
deactivated agent or a changed role takes effect at once. State-changing requests carry the
CSRF token twice: in the ``desk_csrf`` cookie and in a form field or ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from web.errors import ApiError
from web.guards import is_secure
from web.signing import BadSignature, sign, unsign

SESSION_COOKIE = "desk_session"
CSRF_COOKIE = "desk_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL_S = 12 * 3600
CSRF_TTL_S = 24 * 3600
AGENT_ROLES = ("agent", "admin")
OPS_ROLES = ("ops", "admin")


@dataclass(frozen=True)
class AgentPrincipal:
    """The logged-in agent as the web app uses it (read fresh from the database per request)."""

    agent_id: int
    username: str
    display_name: str
    role: str
    goodwill_limit: str
    goodwill_daily_count: int

    def public(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id, "username": self.username, "display_name": self.display_name,
            "role": self.role, "goodwill_limit": self.goodwill_limit,
            "goodwill_daily_count": self.goodwill_daily_count,
        }


def principal_from_agent(agent: Any) -> AgentPrincipal:
    """An :class:`AgentPrincipal` from a ``personalization.models.Agent`` row."""
    return AgentPrincipal(
        agent_id=int(agent.id), username=str(agent.username), display_name=str(agent.display_name),
        role=str(agent.role), goodwill_limit=str(agent.goodwill_limit),
        goodwill_daily_count=int(agent.goodwill_daily_count or 0),
    )


def load_principal(session: Session, agent_id: int, role: str) -> AgentPrincipal | None:
    """The active agent with this id whose role still matches the cookie, else None."""
    from personalization.desk.agents import get_agent

    agent = get_agent(session, agent_id)
    if agent is None or not agent.active or agent.role != role:
        return None
    return principal_from_agent(agent)


# -- session cookie ---------------------------------------------------------------------------

def make_session_token(secret: str, principal: AgentPrincipal, *, now: float | None = None) -> str:
    return sign(secret, "desk_session", {"a": principal.agent_id, "r": principal.role}, ttl_s=SESSION_TTL_S, now=now)


def read_session_token(secret: str, token: str | None) -> tuple[int, str] | None:
    """(agent id, role) of a valid session cookie, else None."""
    if not token:
        return None
    try:
        data = unsign(secret, "desk_session", token)
    except BadSignature:
        return None
    agent_id, role = data.get("a"), data.get("r")
    if not isinstance(agent_id, int) or not isinstance(role, str):
        return None
    return agent_id, role


def _secure(request: Request) -> bool:
    """Secure cookies with ``Settings.web_secure_cookies``, or when the request came over https."""
    return is_secure(request, request.app.state.ctx.settings)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, httponly=True, samesite="strict",
                        secure=_secure(request), path="/")


def clear_session_cookie(response: Response, request: Request | None = None) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request is not None and _secure(request))


# -- CSRF (double submit, signed so that a planted cookie of the attacker's own making fails) ---

def new_csrf_token(secret: str) -> str:
    return sign(secret, "csrf", {"n": secrets.token_hex(16)}, ttl_s=CSRF_TTL_S)


def csrf_token_for(request: Request, secret: str) -> tuple[str, bool]:
    """The request's valid CSRF cookie value, or a new one; the flag says whether it is new."""
    current = request.cookies.get(CSRF_COOKIE)
    if current:
        try:
            unsign(secret, "csrf", current)
            return current, False
        except BadSignature:
            pass
    return new_csrf_token(secret), True


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    # Readable by the console's script (it copies it into the X-CSRF-Token header).
    response.set_cookie(CSRF_COOKIE, token, max_age=CSRF_TTL_S, httponly=False, samesite="strict",
                        secure=_secure(request), path="/")


def check_csrf(request: Request, secret: str, submitted: str | None) -> None:
    """Raise ``ApiError("csrf")`` unless ``submitted`` equals the CSRF cookie and both are valid."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not secrets.compare_digest(cookie.encode(), submitted.encode()):
        raise ApiError("csrf")
    try:
        unsign(secret, "csrf", cookie)
    except BadSignature as exc:
        raise ApiError("csrf") from exc


def check_origin(headers: Any) -> None:
    """Refuse cross-site requests: an ``Origin`` header, when present, must name this host."""
    origin = headers.get("origin")
    if not origin:
        return
    host = headers.get("host", "")
    if origin.split("://", 1)[-1].rstrip("/") != host:
        raise ApiError("bad_origin")


# -- login throttling -------------------------------------------------------------------------

class LoginThrottle:
    """At most ``max_failures`` failed logins per username in ``window_s``; then locked for ``lock_s``.

    Kept in memory (one web process); counts by username only, so the answer is the same whether
    or not the username exists (no user enumeration).
    """

    def __init__(self, max_failures: int = 5, window_s: float = 600.0, lock_s: float = 600.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lock_s = lock_s
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._mutex = threading.Lock()

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().lower()[:64]

    def locked(self, username: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._mutex:
            until = self._locked_until.get(self._key(username))
            if until is None:
                return False
            if until <= now:
                del self._locked_until[self._key(username)]
                return False
            return True

    def failed(self, username: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = self._key(username)
        with self._mutex:
            recent = self._failures.setdefault(key, deque())
            recent.append(now)
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            if len(recent) >= self.max_failures:
                self._locked_until[key] = now + self.lock_s
                recent.clear()

    def succeeded(self, username: str) -> None:
        with self._mutex:
            self._failures.pop(self._key(username), None)
