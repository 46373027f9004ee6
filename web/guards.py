"""Input hardening shared by the web app's routes: request size limits, per-IP rate limits,
member text cleaning and the "is this request over https" question for cookies.

:class:`RequestGuard` is a plain ASGI middleware (outermost of the app's own): before any route
runs it refuses oversized headers (431), over-long URLs (414), bodies over
``Settings.web_max_body_kb`` (413, read at most once and replayed to the route) and clients over
their per-IP request budget (429 with ``Retry-After``), all in the app's JSON error format.
"""

from __future__ import annotations

import re
import unicodedata

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personalization.settings import Settings
from web.errors import ApiError, rate_limited
from web.ratelimit import RateLimits, check, client_ip

MAX_HEADER_BYTES = 16 * 1024
MAX_URL_BYTES = 4096
# Paths outside the per-IP budget: health checks of a load balancer must never be refused.
UNLIMITED_PATHS = ("/healthz",)

# Control characters that have no place in chat text: C0 (but tab and newline), DEL, C1, and the
# bidirectional embedding/override/isolate controls (they can make text read backwards in the
# console: "‮gpj.exe" shows as "exe.jpg"). Zero-width joiners stay (emoji sequences need them).
_STRIP = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), *range(0x7F, 0xA0),
                            *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
_INVISIBLE = ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me")
CONVERSATION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def clean_text(text: str) -> str:
    """Member or agent text as stored: valid UTF-8 (lone surrogates become "?"), ``\\r\\n`` as
    ``\\n``, without control and bidi-override characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\r\n", "\n").translate(_STRIP)


def has_visible_text(text: str) -> bool:
    """Whether ``text`` shows anything (not only spaces, zero-width or combining characters)."""
    return any(unicodedata.category(ch) not in _INVISIBLE for ch in text)


def is_secure(conn: HTTPConnection, settings: Settings) -> bool:
    """Whether cookies set on this response should be ``Secure``: always with
    ``Settings.web_secure_cookies``, else when the request came over https (behind a trusted
    proxy, as its ``X-Forwarded-Proto`` says)."""
    if settings.web_secure_cookies or conn.url.scheme in ("https", "wss"):
        return True
    if settings.web_trusted_proxy:
        proto = conn.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        return proto == "https"
    return False


class RequestGuard:
    """ASGI middleware: header, URL and body size limits and the per-IP request budget."""

    def __init__(self, app: ASGIApp, *, settings: Settings, limits: RateLimits) -> None:
        self.app = app
        self.settings = settings
        self.limits = limits
        self.max_body = settings.web_max_body_kb * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        error = self._check_head(scope)
        if error is None and scope["type"] == "http" and scope.get("path") not in UNLIMITED_PATHS:
            decision = check(self.limits.api_per_ip, "ip:" + client_ip(
                HTTPConnection(scope), trusted_proxy=self.settings.web_trusted_proxy))
            if not decision.allowed:
                error = rate_limited(decision.retry_after_s)
        if error is not None:
            await self._refuse(scope, receive, send, error)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        body = await self._read_body(receive)
        if isinstance(body, ApiError):
            await self._refuse(scope, receive, send, body)
            return
        if body is None:  # the client went away
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_head(self, scope: Scope) -> ApiError | None:
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        if sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            return ApiError("headers_too_large")
        if len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > MAX_URL_BYTES:
            return ApiError("uri_too_long")
        if scope["type"] == "http":
            declared = [v for k, v in headers if k.lower() == b"content-length"]
            if declared:
                if len(declared) > 1 or not declared[0].isdigit() or len(declared[0]) > 15:
                    return ApiError("bad_request")
                if int(declared[0]) > self.max_body:
                    return ApiError("payload_too_large")
        return None

    async def _read_body(self, receive: Receive) -> bytes | ApiError | None:
        """The whole body (at most ``max_body`` bytes), an ApiError when larger, None on disconnect."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return ApiError("payload_too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
        if scope["type"] == "websocket":
            # Before the handshake a close turns into an HTTP 403 for the client; good enough for
            # a socket whose URL or headers are absurdly large.
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {**error.headers, "X-Content-Type-Options": "nosniff"}
        if error.status == 413:
            headers["Connection"] = "close"  # the rest of the body is never read
        response = JSONResponse(error.body(), status_code=error.status, headers=headers)
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

