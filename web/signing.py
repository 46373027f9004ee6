"""HMAC-signed, expiring JSON blobs (member tokens, agent session cookies, CSRF tokens).

Format: ``base64url(json) + "." + base64url(HMAC-SHA256(secret, purpose + "." + body))``.
The ``purpose`` keeps a token minted for one use (say a member token) from being accepted as
another (an agent session), even though both are signed with the same secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

from personalization.local_secrets import ensure_secret_file
from personalization.settings import Settings

MAX_TOKEN_CHARS = 4096
# body "." mac, both base64url without padding (ASCII only: anything else is refused unread).
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")


class BadSignature(ValueError):
    """The blob is malformed, forged, made for another purpose, or expired (``.code`` says which)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, body: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{purpose}.{body}".encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest)


def sign(secret: str, purpose: str, data: dict[str, Any], *, ttl_s: int, now: float | None = None) -> str:
    """Sign ``data`` (plus an ``exp`` field ``ttl_s`` seconds from now) for ``purpose``."""
    if not secret:
        raise ValueError("empty signing secret")
    issued = time.time() if now is None else now
    body = _b64encode(json.dumps({**data, "exp": int(issued + ttl_s)}, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_mac(secret, purpose, body)}"


def unsign(secret: str, purpose: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The data of a blob made by :func:`sign`; raises :class:`BadSignature` ("malformed",
    "bad_signature", "expired")."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN_RE.fullmatch(token):
        raise BadSignature("malformed")
    body, mac = token.split(".")
    if not hmac.compare_digest(_mac(secret, purpose, body).encode("ascii"), mac.encode("ascii")):
        raise BadSignature("bad_signature")
    try:
        data = json.loads(_b64decode(body))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadSignature("malformed") from exc
    exp = data.get("exp") if isinstance(data, dict) else None
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise BadSignature("malformed")
    if data["exp"] < (time.time() if now is None else now):
        raise BadSignature("expired")
    return data


def ensure_web_secret(settings: Settings) -> str:
    """The web app's signing secret: from settings, else kept in ``var/web_secret`` (created once, mode 0600)."""
    if settings.web_secret:
        return settings.web_secret
    return ensure_secret_file(Path(settings.var_dir) / "web_secret", nbytes=48)
