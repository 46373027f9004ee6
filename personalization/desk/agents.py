"""Desk accounts: scrypt password hashes, roles, demo agents and the audit trail of their actions.

Passwords are stored as ``scrypt$n$r$p$salt_hex$hash_hex`` (:func:`hashlib.scrypt`, a random
16-byte salt per hash) and compared in constant time (:func:`hmac.compare_digest`).
Roles: ``agent`` serves members, ``ops`` reads dashboards, ``admin`` does both and sees everything.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.desk.errors import DeskError
from personalization.models import Agent, AgentAction
from personalization.services._common import iso, money, resolve_now

ROLES = ("agent", "ops", "admin")
ACTION_KINDS = ("login", "claim", "reply", "transfer", "resolve", "goodwill_coupon", "logout")
# Per role: (max yuan per goodwill coupon, goodwill coupons per day).
ROLE_GOODWILL: dict[str, tuple[Decimal, int]] = {
    "agent": (Decimal(20), 5),
    "admin": (Decimal(100), 20),
    "ops": (Decimal(0), 0),
}
# (username, display_name, password, role): the demo desk `python -m personalization seed` creates.
DEMO_AGENTS: tuple[tuple[str, str, str, str], ...] = (
    ("agent1", "小王", "agent1-demo", "agent"),
    ("agent2", "小李", "agent2-demo", "agent"),
    ("ops1", "运营小陈", "ops1-demo", "ops"),
    ("admin", "管理员", "admin-demo", "admin"),
)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MIN_PASSWORD = 8
USERNAME = re.compile(r"^[a-z0-9_.\-]{2,64}$")
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=_SCRYPT_MAXMEM)


def hash_password(password: str) -> str:
    """``scrypt$16384$8$1$<salt hex>$<hash hex>`` with a fresh random salt (differs on every call)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time compare; malformed hashes never match)."""
    if not isinstance(password, str) or not isinstance(stored, str):
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
        if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            return False
        actual = _scrypt(password, salt, n, r, p)
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Checked against unknown usernames so that a wrong name costs as long as a wrong password.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    return _DUMMY_HASH


def agent_dict(agent: Agent) -> dict[str, Any]:
    """An account without its password hash."""
    return {
        "id": agent.id,
        "username": agent.username,
        "display_name": agent.display_name,
        "role": agent.role,
        "goodwill_limit": money(agent.goodwill_limit),
        "goodwill_daily_count": int(agent.goodwill_daily_count),
        "active": bool(agent.active),
        "created_at": iso(agent.created_at),
    }


def _validated(username: object, display_name: object, password: object, role: object) -> tuple[str, str, str, str]:
    if not isinstance(username, str) or not USERNAME.match(username.strip()):
        raise DeskError("bad_username")
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name.strip()) > 64:
        raise DeskError("bad_name")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise DeskError("weak_password")
    if role not in ROLES:
        raise DeskError("bad_role")
    return username.strip(), display_name.strip(), password, str(role)


def create_agent(
    session: Session,
    username: str,
    display_name: str,
    password: str,
    role: str,
    *,
    goodwill_limit: Decimal | None = None,
    goodwill_daily_count: int | None = None,
    active: bool = True,
    now: datetime | None = None,
) -> Agent:
    """Create a desk account; goodwill limits default by role (:data:`ROLE_GOODWILL`).

    Raises:
        DeskError: ``bad_username``, ``bad_name``, ``weak_password``, ``bad_role``, ``username_taken``.
    """
    username, display_name, password, role = _validated(username, display_name, password, role)
    if session.scalar(select(Agent.id).where(Agent.username == username)) is not None:
        raise DeskError("username_taken")
    default_limit, default_count = ROLE_GOODWILL[role]
    agent = Agent(
        username=username, display_name=display_name, password_hash=hash_password(password), role=role,
        goodwill_limit=default_limit if goodwill_limit is None else Decimal(goodwill_limit),
        goodwill_daily_count=default_count if goodwill_daily_count is None else int(goodwill_daily_count),
        active=active, created_at=resolve_now(now),
    )  # fmt: skip
    session.add(agent)
    session.flush()
    return agent


def authenticate(session: Session, username: str, password: str) -> Agent | None:
    """The active account with this username and password, else None (same cost either way)."""
    name = username.strip() if isinstance(username, str) else ""
    agent = session.scalar(select(Agent).where(Agent.username == name)) if USERNAME.match(name) else None
    if agent is None:
        verify_password(password if isinstance(password, str) else "", _dummy_hash())
        return None
    if not verify_password(password, agent.password_hash) or not agent.active:
        return None
    return agent


def get_agent(session: Session, agent_id: int) -> Agent | None:
    """The account with this id, or None."""
    if not isinstance(agent_id, int) or isinstance(agent_id, bool):
        return None
    return session.get(Agent, agent_id)


def get_agent_by_username(session: Session, username: str) -> Agent | None:
    """The account with this username, or None (transfer targets are chosen by username)."""
    if not isinstance(username, str):
        return None
    return session.scalar(select(Agent).where(Agent.username == username.strip()))


def list_agents(session: Session, *, active_only: bool = False) -> list[dict[str, Any]]:
    """Every account (no password hashes), by username."""
    query = select(Agent).order_by(Agent.username)
    if active_only:
        query = query.where(Agent.active.is_(True))
    return [agent_dict(a) for a in session.scalars(query)]


def record_action(
    session: Session,
    agent_id: int,
    kind: str,
    conversation_id: str | None = None,
    handoff_id: int | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append to the desk's audit trail; returns the stored action.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind not in ACTION_KINDS:
        raise ValueError(f"unknown agent action kind: {kind!r}")
    action = AgentAction(
        agent_id=agent_id, conversation_id=conversation_id, handoff_id=handoff_id, kind=kind, detail=detail,
        created_at=resolve_now(now),
    )  # fmt: skip
    session.add(action)
    session.flush()
    return {
        "id": action.id,
        "agent_id": action.agent_id,
        "conversation_id": action.conversation_id,
        "handoff_id": action.handoff_id,
        "kind": action.kind,
        "detail": action.detail,
        "created_at": iso(action.created_at),
    }


def ensure_demo_agents(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Create the :data:`DEMO_AGENTS` that do not exist yet (idempotent); returns all four."""
    result = []
    for username, display_name, password, role in DEMO_AGENTS:
        agent = get_agent_by_username(session, username)
        if agent is None:
            agent = create_agent(session, username, display_name, password, role, now=now)
        result.append(agent_dict(agent))
    return result
