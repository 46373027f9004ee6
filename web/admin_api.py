"""Members' rights over HTTP: the admin's privacy API (``/admin/api/*``) and the member's own export
(``GET /api/me/export``).

Admin endpoints need the ``desk_session`` cookie of an active **admin** (401 without a login, 403
for agent and ops accounts); the erase call also needs the double-submitted CSRF token and the
member id repeated in the body. Every admin call is written to the desk's audit trail
(``agent_actions``, kinds ``privacy_*``). The member endpoint takes the member token
(``Authorization: Bearer <token>``) and answers only with the token's own member's data.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from personalization.models import AgentAction
from personalization.rights import RasaStores, erase_member, export_member_data, is_erased, load_report
from personalization.services._common import normalize_member_id
from personalization.services.privacy import complete_export_requests, open_privacy_requests
from web.agent_api import csrf_protected, current_principal
from web.auth import AgentPrincipal
from web.context import get_ctx
from web.errors import ApiError
from web.tokens import InvalidToken, verify_member_token

logger = logging.getLogger(__name__)
ADMIN_ROLES = ("admin",)


def _error(code: str, status: int, zh: str, en: str) -> ApiError:
    return ApiError(code, status=status, message_zh=zh, message_en=en)


def bad_member_id() -> ApiError:
    return _error("bad_member_id", 400, "会员编号格式不正确（例如 M100001）。", "That is not a member id (e.g. M100001).")


def member_not_found() -> ApiError:
    return _error("not_found", 404, "没有找到该会员。", "No such member.")


async def admin_user(request: Request) -> AgentPrincipal:
    """Dependency: an admin account, else 401/403 (JSON)."""
    principal = await current_principal(request)
    if principal is None:
        raise ApiError("not_logged_in")
    if principal.role not in ADMIN_ROLES:
        raise ApiError("wrong_role")
    return principal


router = APIRouter(prefix="/admin/api", tags=["admin"], dependencies=[Depends(admin_user)])
member_router = APIRouter(prefix="/api/me", tags=["member"])


class EraseBody(BaseModel):
    confirm_member_id: str


def _audit(session: Session, agent_id: int, kind: str, detail: dict[str, Any]) -> None:
    session.add(AgentAction(agent_id=agent_id, kind=kind, detail=detail, created_at=datetime.now().replace(microsecond=0)))


def _member_id(raw: str) -> str:
    member_id = normalize_member_id(raw) if len(raw) <= 32 else None
    if member_id is None:
        raise bad_member_id()
    return member_id


def _rasa(request: Request) -> RasaStores:
    return RasaStores.from_settings(get_ctx(request).settings)


def _export(session: Session, member_id: str, rasa: RasaStores) -> dict[str, Any] | None:
    try:
        return export_member_data(session=session, member_id=member_id, rasa=rasa)
    finally:
        rasa.close()


def _download(document: dict[str, Any]) -> JSONResponse:
    name = f"member-data-{document['member_id']}-{document['generated_at'][:10]}.json"
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                           "Cache-Control": "no-store"})


@router.get("/privacy-requests")
async def privacy_requests(request: Request, admin: AgentPrincipal = Depends(admin_user)) -> dict[str, Any]:
    """Privacy requests still to be carried out (received or failed), oldest first."""
    def run(session: Session) -> list[dict[str, Any]]:
        items = open_privacy_requests(session=session)
        _audit(session, admin.agent_id, "privacy_requests_list", {"count": len(items)})
        return items

    return {"items": await get_ctx(request).store.call(run)}


@router.get("/members/{member_id}/export")
async def export_member(member_id: str, request: Request, admin: AgentPrincipal = Depends(admin_user)) -> JSONResponse:
    """Everything about the member as a JSON download (personalization.rights.export_member_data)."""
    mid = _member_id(member_id)
    rasa = _rasa(request)

    def run(session: Session) -> dict[str, Any] | None:
        document = _export(session, mid, rasa)
        _audit(session, admin.agent_id, "privacy_export", {"member_id": mid, "found": document is not None})
        return document

    document = await get_ctx(request).store.call(run)
    if document is None:
        raise member_not_found()
    return _download(document)


@router.post("/members/{member_id}/erase", dependencies=[Depends(csrf_protected)])
async def erase(member_id: str, body: EraseBody, request: Request,
                admin: AgentPrincipal = Depends(admin_user)) -> JSONResponse:
    """Erase the member everywhere; the body must repeat the member id (``confirm_member_id``).

    200 with the report when completed; 500 ``erasure_incomplete`` with the report when a store
    failed or the verification found something (run it again once the store is back).
    """
    mid = _member_id(member_id)
    ctx = get_ctx(request)
    if normalize_member_id(body.confirm_member_id[:32]) != mid:
        await ctx.store.call(_audit, admin.agent_id, "privacy_erase", {"member_id": mid, "outcome": "not_confirmed"})
        raise _error("confirmation_mismatch", 400, "确认的会员编号与要删除的会员不一致，未执行删除。",
                     "The confirmation does not repeat this member id; nothing was erased.")
    rasa = _rasa(request)
    try:
        report = await run_in_threadpool(
            erase_member, factory=ctx.store.factory, member_id=mid, rasa=rasa, requested_by=f"admin:{admin.username}")
    finally:
        rasa.close()
    outcome = "not_found" if report is None else report.status
    await ctx.store.call(_audit, admin.agent_id, "privacy_erase", {
        "member_id": mid, "outcome": outcome, "report_id": report.report_id if report else None})
    if report is None:
        raise member_not_found()
    logger.info("member erased by admin %d: %s (report %s)", admin.agent_id, report.status, report.report_id)
    if not report.ok:
        error = _error("erasure_incomplete", 500, "删除未能全部完成或核验未通过，请查看报告后重试。",
                       "The erasure is not complete or did not verify; see the report and run it again.")
        return JSONResponse({**error.body(), "report": report.as_dict()}, status_code=error.status)
    return JSONResponse({"report": report.as_dict()})


@router.get("/privacy-reports/{report_id}")
async def privacy_report(report_id: str, request: Request, admin: AgentPrincipal = Depends(admin_user)) -> dict[str, Any]:
    """A saved erasure report."""
    if not report_id.isdigit() or len(report_id) > 12:
        raise _error("bad_report_id", 400, "报告编号不正确。", "That is not a report number.")
    number = int(report_id)

    def run(session: Session) -> dict[str, Any] | None:
        found = load_report(session, number)
        _audit(session, admin.agent_id, "privacy_report_view", {"report_id": number, "found": found is not None})
        return found

    found = await get_ctx(request).store.call(run)
    if found is None:
        raise _error("not_found", 404, "没有找到该报告。", "No such report.")
    return found


# -- the member's own data ------------------------------------------------------------------------

def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@member_router.get("/export")
async def my_export(request: Request) -> JSONResponse:
    """The calling member's own export (member token as ``Authorization: Bearer``); completes their
    open export requests. Visitors (no member id) get 403; a bad token 401."""
    ctx = get_ctx(request)
    try:
        identity = verify_member_token(ctx.secret, _bearer(request))
    except InvalidToken:
        raise ApiError("invalid_token") from None
    if identity.member_id is None:
        raise _error("members_only", 403, "登录会员后才能导出数据。", "Please log in as a member to download your data.")
    member_id = identity.member_id
    rasa = _rasa(request)

    def run(session: Session) -> dict[str, Any] | None:
        if is_erased(session, member_id):
            raise ApiError("account_closed")  # the account is closed: its tokens open nothing
        document = _export(session, member_id, rasa)
        if document is not None:
            document["request_id"] = complete_export_requests(session=session, member_id=document["member_id"])
        return document

    document = await ctx.store.call(run)
    if document is None:
        raise member_not_found()
    return _download(document)


ROUTERS: tuple[APIRouter, ...] = (router, member_router)
