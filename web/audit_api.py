"""The audit log over HTTP (``GET /admin/api/audit``) and the hooks the ops API calls to write it.

Role matrix of the web app (least privilege; enforced by each router's dependency and by
``personalization.desk.handoff.can_agent_view`` / ``personalization.desk.panel.guard_detail``,
tested in ``tests/web/test_roles.py``):

==========================================  =========  ===========  =========
endpoint                                    agent      ops          admin
==========================================  =========  ===========  =========
``/agent`` console, ``/agent/api/*``         yes        403          yes
``/ws/agent``                                yes        refused      yes
conversation detail, queued                  limited    403          full
conversation detail, assigned to me          full       403          full
conversation detail, another agent's         403        403          full
``/ops`` dashboard, ``/ops/api/*`` (masked)  403        yes          yes
``/ops/api/conversations/{key}/transcript``  403        masked       masked
``/admin/api/*`` (audit, members' rights)    403        403          yes
==========================================  =========  ===========  =========

"limited" is :func:`personalization.desk.panel.limited_panel` (masked name, tier, language).
Every panel view, transcript drill-down and export is written to the audit log
(:mod:`personalization.privacy.audit`) with who, which role, which member, what and when.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from personalization.privacy import audit
from web.agent_api import current_principal
from web.auth import AgentPrincipal
from web.context import get_ctx
from web.errors import ApiError

_MEMBER_ID = re.compile(r"^M[0-9]{1,15}$")


async def admin_user(request: Request) -> AgentPrincipal:
    """Dependency: an admin account, else 401/403 (JSON)."""
    principal = await current_principal(request)
    if principal is None:
        raise ApiError("not_logged_in")
    if principal.role != "admin":
        raise ApiError("wrong_role")
    return principal


router = APIRouter(prefix="/admin/api", tags=["admin"], dependencies=[Depends(admin_user)])


def _bad(zh: str, en: str) -> ApiError:
    return ApiError("bad_filter", status=400, message_zh=zh, message_en=en)


@router.get("/audit", summary="Who viewed or exported which member's data (newest first)")
async def audit_log(
    request: Request,
    member_id: str | None = Query(None, max_length=16, description="a member id, e.g. M100001"),
    actor_id: int | None = Query(None, ge=1, le=2**31 - 1, description="a desk account id"),
    action: str | None = Query(None, max_length=24, description=" | ".join(audit.ACTIONS + audit.PRIVACY_KINDS)),
    limit: int = Query(100, ge=1, le=audit.MAX_LIMIT),
) -> dict[str, Any]:
    """``{"items": [{"id", "at", "actor_id", "actor_username", "actor_role", "member_id", "action",
    "target", "detail"}]}``."""
    member = (member_id or "").strip().upper() or None
    if member is not None and not _MEMBER_ID.match(member):
        raise _bad("会员编号格式不正确（例如 M100001）。", "The member id is not valid (e.g. M100001).")
    if action is not None and action not in audit.ACTIONS + audit.PRIVACY_KINDS:
        known = ", ".join(audit.ACTIONS + audit.PRIVACY_KINDS)
        raise _bad("未知的操作类型。", f"Unknown action; use one of {known}.")
    items = await get_ctx(request).store.call(
        lambda session: audit.audit_entries(session, member_id=member, actor_id=actor_id, action=action, limit=limit)
    )
    return {"items": items}


# -- hooks of the ops API -------------------------------------------------------------------------


async def record_transcript_view(request: Request, user: AgentPrincipal, key: str) -> None:
    """Audit an ops/admin drill-down into one conversation's masked transcript."""
    await get_ctx(request).store.call(
        lambda session: audit.record_transcript_view(session, actor_id=user.agent_id, actor_username=user.username,
                                                     actor_role=user.role, conversation_key=key)
    )


async def record_export(request: Request, user: AgentPrincipal, name: str, detail: dict[str, Any]) -> None:
    """Audit an export (the ops CSV; the admin's member exports use :func:`audit.record_access` directly)."""
    await get_ctx(request).store.call(
        lambda session: audit.record_access(session, actor_id=user.agent_id, actor_username=user.username,
                                            actor_role=user.role, action="export_csv", target=name, detail=detail)
    )
