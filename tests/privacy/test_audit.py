"""The audit log: entries, folding of repeated views, filters, and the admin's privacy calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from personalization.db import create_schema, make_engine, session_factory
from personalization.models import Agent, AgentAction
from personalization.privacy import audit
from personalization.settings import Settings

T0 = datetime(2026, 10, 15, 9, 0, 0)


@pytest.fixture()
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(replace(Settings(), database_url=f"sqlite:///{tmp_path / 'a.db'}", var_dir=str(tmp_path)))
    create_schema(engine)
    with session_factory(engine)() as s:
        s.add(Agent(id=7, username="admin", display_name="管理员", password_hash="x", role="admin", created_at=T0))
        s.commit()
        yield s
    engine.dispose()


def _view(session: Session, at: datetime, *, member_id: str = "M100001", action: str = "view_profile",
          target: str = "C1") -> dict | None:
    return audit.record_access(session, actor_id=3, actor_username="agent1", actor_role="agent", action=action,
                               member_id=member_id, target=target, now=at)


def test_a_view_is_recorded_with_who_what_and_when(session: Session) -> None:
    entry = _view(session, T0)
    assert entry is not None
    keys = ("actor_id", "actor_username", "actor_role", "member_id", "action", "target", "at")
    assert {k: entry[k] for k in keys} == {
        "actor_id": 3, "actor_username": "agent1", "actor_role": "agent", "member_id": "M100001",
        "action": "view_profile", "target": "C1", "at": "2026-10-15T09:00:00"}


def test_repeated_views_within_five_minutes_are_one_entry(session: Session) -> None:
    assert _view(session, T0) is not None
    assert _view(session, T0 + timedelta(seconds=299)) is None
    assert _view(session, T0 + timedelta(seconds=60), target="C2") is not None  # another conversation counts
    assert _view(session, T0 + timedelta(seconds=301)) is not None
    assert len(audit.audit_entries(session, member_id="M100001")) == 3


def test_entries_are_filtered_newest_first(session: Session) -> None:
    _view(session, T0, member_id="M100001")
    _view(session, T0 + timedelta(minutes=1), member_id="M100002", action="preview_profile")
    _view(session, T0 + timedelta(minutes=2), member_id="M100001", target="C9")
    assert [e["target"] for e in audit.audit_entries(session, member_id="M100001")] == ["C9", "C1"]
    assert [e["member_id"] for e in audit.audit_entries(session, action="preview_profile")] == ["M100002"]
    assert len(audit.audit_entries(session, limit=1)) == 1
    assert audit.audit_entries(session, actor_id=99) == []


def test_the_admins_privacy_calls_are_listed_with_the_views(session: Session) -> None:
    _view(session, T0)
    session.add(AgentAction(agent_id=7, kind="privacy_export", detail={"member_id": "M100001", "found": True},
                            created_at=T0 + timedelta(minutes=5)))
    session.add(AgentAction(agent_id=7, kind="privacy_export", detail={"member_id": "M100002"}, created_at=T0))
    session.commit()
    entries = audit.audit_entries(session, member_id="M100001")
    assert [(e["action"], e["actor_username"], e["actor_role"]) for e in entries] == [
        ("privacy_export", "admin", "admin"), ("view_profile", "agent1", "agent")]
    assert [e["member_id"] for e in audit.audit_entries(session, action="privacy_export")] == ["M100001", "M100002"]


def test_unknown_actions_and_roles_are_programming_errors(session: Session) -> None:
    with pytest.raises(ValueError, match="action"):
        _view(session, T0, action="peek")
    with pytest.raises(ValueError, match="role"):
        audit.record_access(session, actor_id=1, actor_username="x", actor_role="root", action="export")


def test_a_transcript_view_of_an_unknown_conversation_names_no_member(session: Session) -> None:
    entry = audit.record_transcript_view(session, actor_id=5, actor_username="ops1", actor_role="ops",
                                         conversation_key="nobody#1")
    assert entry is not None and entry["member_id"] is None and entry["target"] == "nobody#1"
