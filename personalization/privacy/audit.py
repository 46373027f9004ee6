"""The audit log: who viewed or exported which member's data, with what role, when.

Written by the agent console (profile panel), the ops dashboard (transcript drill-down, CSV
export) and the members'-rights operations (export, erase); read by admins
(``GET /admin/api/audit``). Rows hold ids only, no personal data, and survive the accounts and
members they name (no foreign keys), so an erased member's access history stays answerable.

A console refreshes an open conversation often (every new frame); repeated identical views
(same actor, member, action and target) within :data:`COALESCE_S` seconds are one entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import Agent, AgentAction, AuditLogEntry

ACTIONS = ("view_profile", "preview_profile", "view_transcript", "export_csv", "export", "erase")
# What web.admin_api writes to agent_actions for the members'-rights calls; listed with the above.
PRIVACY_KINDS = ("privacy_export", "privacy_erase", "privacy_requests_list", "privacy_report_view")
PRIVACY_SCAN = 5000
ROLES = ("agent", "ops", "admin", "cli")
COALESCE_S = 300
MAX_LIMIT = 500


def record_access(
    session: Session,
    *,
    actor_id: int | None,
    actor_username: str,
    actor_role: str,
    action: str,
    member_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Add one audit entry (in the caller's transaction); None when it repeats a recent one.

    Raises:
        ValueError: an unknown ``action`` or ``actor_role`` (a programming error, not user input).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor_role not in ROLES:
        raise ValueError(f"unknown audit role {actor_role!r}")
    now = now or datetime.now()
    target = target[:160] if target else None
    if action in ("view_profile", "preview_profile", "view_transcript"):
        recent = session.scalar(
            select(AuditLogEntry.id).where(
                AuditLogEntry.actor_id.is_(None) if actor_id is None else AuditLogEntry.actor_id == actor_id,
                AuditLogEntry.member_id.is_(None) if member_id is None else AuditLogEntry.member_id == member_id,
                AuditLogEntry.action == action,
                AuditLogEntry.target.is_(None) if target is None else AuditLogEntry.target == target,
                AuditLogEntry.at >= now - timedelta(seconds=COALESCE_S),
            ).limit(1)
        )
        if recent is not None:
            return None
    entry = AuditLogEntry(
        at=now, actor_id=actor_id, actor_username=actor_username[:64], actor_role=actor_role,
        member_id=member_id, action=action, target=target, detail=detail,
    )
    session.add(entry)
    session.flush()
    return public(entry)


def public(entry: AuditLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="seconds"),
        "actor_id": entry.actor_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "member_id": entry.member_id,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }


def _privacy_actions(session: Session, *, member_id: str | None, actor_id: int | None, action: str | None,
                     limit: int) -> list[dict[str, Any]]:
    """The admin's members'-rights calls, which ``web.admin_api`` records in ``agent_actions``
    (kinds ``privacy_*``, the member id in ``detail``), in the same shape as audit entries."""
    if action is not None and action not in PRIVACY_KINDS:
        return []
    query = (
        select(AgentAction, Agent.username, Agent.role)
        .join(Agent, Agent.id == AgentAction.agent_id)
        .where(AgentAction.kind.in_([action] if action else PRIVACY_KINDS))
    )
    if actor_id is not None:
        query = query.where(AgentAction.agent_id == actor_id)
    found = []
    # Rare calls: the member filter reads the JSON detail here rather than in dialect-specific SQL.
    for row, username, role in session.execute(query.order_by(AgentAction.id.desc()).limit(PRIVACY_SCAN)):
        detail = row.detail or {}
        if member_id is not None and detail.get("member_id") != member_id:
            continue
        found.append({
            "id": f"a{row.id}", "at": row.created_at.isoformat(timespec="seconds"), "actor_id": row.agent_id,
            "actor_username": username, "actor_role": role, "member_id": detail.get("member_id"),
            "action": row.kind, "target": row.conversation_id, "detail": detail,
        })
        if len(found) >= limit:
            break
    return found


def audit_entries(
    session: Session,
    *,
    member_id: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest entries first, filtered by member, actor and/or action; at most ``limit`` (≤ 500).

    Includes the admin's members'-rights calls (``privacy_*`` actions, kept in ``agent_actions``).
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    entries: list[dict[str, Any]] = []
    if action is None or action in ACTIONS:
        query = select(AuditLogEntry)
        if member_id is not None:
            query = query.where(AuditLogEntry.member_id == member_id)
        if actor_id is not None:
            query = query.where(AuditLogEntry.actor_id == actor_id)
        if action is not None:
            query = query.where(AuditLogEntry.action == action)
        rows = session.scalars(query.order_by(AuditLogEntry.at.desc(), AuditLogEntry.id.desc()).limit(limit))
        entries = [public(row) for row in rows]
    entries += _privacy_actions(session, member_id=member_id, actor_id=actor_id, action=action, limit=limit)
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:limit]


def record_transcript_view(session: Session, *, actor_id: int, actor_username: str, actor_role: str,
                           conversation_key: str) -> dict[str, Any] | None:
    """An ops drill-down into the (masked) transcript ``conversation_key``, with the member it is about."""
    from personalization.analytics.models import AnalyticsConversation

    member_id = session.scalar(
        select(AnalyticsConversation.member_id).where(AnalyticsConversation.conversation_key == conversation_key)
    )
    return record_access(session, actor_id=actor_id, actor_username=actor_username, actor_role=actor_role,
                         action="view_transcript", member_id=member_id, target=conversation_key)
