"""Member tokens: who is chatting (a member id, or an anonymous visitor id), signed and expiring.

The shop's own backend would mint these for its logged-in members; the demo page gets them from
``POST /demo/token``. A token is bound to one identity, so it cannot be reused for another member.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from web.signing import BadSignature, sign, unsign

PURPOSE = "member"
DEFAULT_TTL_S = 86400
# Bounds of a token's lifetime: a token that would outlive MAX_TTL_S is refused even when signed
# (a backend minting year-long tokens would make a leaked one good for a year).
MIN_TTL_S = 1
MAX_TTL_S = 7 * 86400
_VISITOR_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
MEMBER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class MemberIdentity:
    """A verified chat identity: ``member_id`` is None for an anonymous visitor."""

    member_id: str | None
    visitor_id: str | None


class InvalidToken(ValueError):
    """The member token is missing, malformed, forged or expired (``.code``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_visitor_id() -> str:
    """A fresh random anonymous visitor id (``V`` + 20 hex chars)."""
    return "V" + secrets.token_hex(10)


def sign_member_token(
    secret: str, *, member_id: str | None, visitor_id: str | None, ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
) -> str:
    """A token for a member (``member_id``) or an anonymous visitor (``visitor_id``, required then)."""
    if member_id is None and not visitor_id:
        raise ValueError("an anonymous token needs a visitor id")
    if member_id is not None and not MEMBER_ID_RE.fullmatch(member_id):
        raise ValueError("a member id is 1-32 letters, digits, '_' or '-'")
    if visitor_id is not None and not _VISITOR_RE.fullmatch(visitor_id):
        raise ValueError("a visitor id is 1-40 letters, digits, '_' or '-'")
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"a member token lives {MIN_TTL_S} s to {MAX_TTL_S} s")
    return sign(secret, PURPOSE, {"m": member_id, "v": visitor_id}, ttl_s=ttl_s, now=now)


def verify_member_token(secret: str, token: str | None, *, now: float | None = None) -> MemberIdentity:
    """The identity in ``token``; raises :class:`InvalidToken` (code "missing", "malformed",
    "bad_signature" or "expired")."""
    if not token:
        raise InvalidToken("missing")
    now = time.time() if now is None else now
    try:
        data = unsign(secret, PURPOSE, token, now=now)
    except BadSignature as exc:
        raise InvalidToken(exc.code) from exc
    if data["exp"] > now + MAX_TTL_S:
        raise InvalidToken("malformed")  # signed, but for longer than any token may live
    member_id, visitor_id = data.get("m"), data.get("v")
    if member_id is not None and not (isinstance(member_id, str) and MEMBER_ID_RE.fullmatch(member_id)):
        raise InvalidToken("malformed")
    if visitor_id is not None and not (isinstance(visitor_id, str) and _VISITOR_RE.fullmatch(visitor_id)):
        raise InvalidToken("malformed")
    if member_id is None and visitor_id is None:
        raise InvalidToken("malformed")
    return MemberIdentity(member_id=member_id, visitor_id=visitor_id)
