"""Desk accounts: scrypt hashes, authentication, validation, demo accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.desk import agents
from personalization.desk.errors import DeskError
from personalization.models import Agent

from .conftest import NOW


def test_password_hash_verifies_the_right_password_only() -> None:
    stored = agents.hash_password("correct horse")
    assert agents.verify_password("correct horse", stored)
    assert not agents.verify_password("correct horse!", stored)
    assert not agents.verify_password("", stored)


def test_password_hash_has_the_documented_format_and_a_fresh_salt() -> None:
    first, second = agents.hash_password("same-password"), agents.hash_password("same-password")
    assert first != second
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
    assert "same-password" not in first


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$00$00", "md5$1$2$3$4$5", "scrypt$16384$8$1$zz$00"])
def test_malformed_hashes_never_match(stored: str) -> None:
    assert not agents.verify_password("anything", stored)


def test_demo_agents_exist_with_their_roles_and_limits(session: Session) -> None:
    listed = {a["username"]: a for a in agents.list_agents(session)}
    assert {u: (a["display_name"], a["role"]) for u, a in listed.items()} == {
        "agent1": ("小王", "agent"),
        "agent2": ("小李", "agent"),
        "ops1": ("运营小陈", "ops"),
        "admin": ("管理员", "admin"),
    }
    assert (listed["agent1"]["goodwill_limit"], listed["agent1"]["goodwill_daily_count"]) == (20.0, 5)
    assert (listed["admin"]["goodwill_limit"], listed["ops1"]["goodwill_limit"]) == (100.0, 0.0)
    assert all("password_hash" not in a for a in listed.values())


def test_ensure_demo_agents_is_idempotent(session: Session) -> None:
    agents.ensure_demo_agents(session, now=NOW)
    assert session.scalar(select(func.count()).select_from(Agent)) == 4


def test_authenticate_checks_password_and_active_flag(session: Session) -> None:
    assert agents.authenticate(session, "agent1", "agent1-demo").display_name == "小王"
    assert agents.authenticate(session, "agent1", "agent2-demo") is None
    assert agents.authenticate(session, "nobody", "agent1-demo") is None
    assert agents.authenticate(session, "'; drop table agents; --", "x") is None
    agents.get_agent_by_username(session, "agent1").active = False
    assert agents.authenticate(session, "agent1", "agent1-demo") is None


@pytest.mark.parametrize(
    ("username", "name", "password", "role", "code"),
    [
        ("Agent X", "小张", "long-enough", "agent", "bad_username"),
        ("agent1", "小张", "long-enough", "agent", "username_taken"),
        ("agent9", "", "long-enough", "agent", "bad_name"),
        ("agent9", "小张", "short", "agent", "weak_password"),
        ("agent9", "小张", "long-enough", "boss", "bad_role"),
    ],
)
def test_bad_accounts_are_refused(
    session: Session, username: str, name: str, password: str, role: str, code: str
) -> None:
    with pytest.raises(DeskError) as refused:
        agents.create_agent(session, username, name, password, role)
    assert refused.value.code == code


def test_created_agent_can_log_in_and_actions_are_recorded(session: Session) -> None:
    agent = agents.create_agent(session, "agent9", "小张", "long-enough", "agent", now=NOW)
    assert agents.authenticate(session, "agent9", "long-enough").id == agent.id
    action = agents.record_action(session, agent.id, "login", detail={"ip": "127.0.0.1"}, now=NOW)
    assert (action["kind"], action["detail"], action["created_at"]) == ("login", {"ip": "127.0.0.1"}, NOW.isoformat())
    with pytest.raises(ValueError):
        agents.record_action(session, agent.id, "hack")
