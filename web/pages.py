"""HTML pages (demo shop, agent login, console, ops), the demo token endpoints and /healthz."""

from __future__ import annotations

import logging
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.agent_api import current_principal
from web.auth import (
    AGENT_ROLES,
    OPS_ROLES,
    SESSION_COOKIE,
    check_csrf,
    check_origin,
    clear_session_cookie,
    csrf_token_for,
    make_session_token,
    new_csrf_token,
    principal_from_agent,
    read_session_token,
    set_csrf_cookie,
    set_session_cookie,
)
from web.context import get_ctx
from web.errors import ApiError, rate_limited
from web.ratelimit import check, client_ip, get_limits
from web.tokens import MEMBER_ID_RE, new_visitor_id, sign_member_token

logger = logging.getLogger(__name__)
router = APIRouter()

LOGIN_ERRORS = {
    "failed": ("用户名或密码不正确，请重试。", "The username or password is not correct; please try again."),
    "locked": ("登录失败次数过多，请10分钟后再试。", "Too many failed attempts; please try again in 10 minutes."),
    "csrf": ("页面已过期，请重新提交。", "This page has expired; please submit again."),
    "rate": ("登录尝试太频繁，请稍后再试。", "Too many login attempts from here; please wait a minute and try again."),
}

# Used only while a page template is missing (the front end ships the real ones); autoescaped.
_FALLBACK = jinja2.Environment(autoescape=True).from_string(
    "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{{ title }}</title></head><body>"
    "<h1>{{ title }}</h1>{% if error_zh %}<p role=\"alert\">{{ error_zh }} / {{ error_en }}</p>{% endif %}"
    "{% if form %}<form method=\"post\" action=\"/agent/login\">"
    "<input type=\"hidden\" name=\"csrf_token\" value=\"{{ csrf_token }}\">"
    "<input name=\"username\" value=\"{{ username }}\"><input name=\"password\" type=\"password\">"
    "<button type=\"submit\">登录 / Log in</button></form>{% endif %}</body></html>"
)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render ``web/templates/<name>`` (autoescaped) with ``context``."""
    ctx = get_ctx(request)
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    context = {"lang": lang, "web_demo": ctx.settings.web_demo, **context}
    try:
        return ctx.templates.TemplateResponse(request, name, context, status_code=status_code)
    except jinja2.TemplateNotFound:
        logger.warning("template %s missing; serving the fallback page", name)
        html = _FALLBACK.render(title=context.get("title", name), form=name == "login.html", **context)
        return HTMLResponse(html, status_code=status_code)


def _with_csrf(request: Request, response_factory: Any) -> Response:
    secret = get_ctx(request).secret
    token, new = csrf_token_for(request, secret)
    response: Response = response_factory(token)
    if new:
        set_csrf_cookie(response, request, token)
    return response


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)  # pages: not part of the JSON API
async def shop(request: Request) -> Response:
    return render(request, "shop.html", {"title": "会员商城"})


# -- agent login --------------------------------------------------------------------------------

def _login_page(request: Request, token: str, *, error: str | None = None, username: str = "",
                status_code: int = 200) -> Response:
    error_zh, error_en = LOGIN_ERRORS[error] if error else ("", "")
    return render(request, "login.html", {
        "title": "客服登录", "csrf_token": token, "error": error, "error_zh": error_zh, "error_en": error_en,
        "username": username,
    }, status_code=status_code)


@router.get("/agent/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request) -> Response:
    return _with_csrf(request, lambda token: _login_page(request, token))


def _authenticate(session: Session, username: str, password: str) -> Any:
    from personalization.desk.agents import authenticate, record_action

    agent = authenticate(session, username, password)
    if agent is None:
        return None
    record_action(session, agent.id, "login")
    return principal_from_agent(agent)


@router.post("/agent/login", include_in_schema=False)  # an HTML form post answered by a redirect
async def login(request: Request) -> Response:
    ctx = get_ctx(request)
    form = await request.form()
    username = str(form.get("username") or "")[:64]
    password = str(form.get("password") or "")[:256]
    token, _ = csrf_token_for(request, ctx.secret)
    try:
        check_origin(request.headers)
        check_csrf(request, ctx.secret, str(form.get("csrf_token") or ""))
    except ApiError:
        return _with_csrf(request, lambda t: _login_page(request, t, error="csrf", username=username,
                                                         status_code=403))
    decision = check(get_limits(request).logins_per_ip,
                     "ip:" + client_ip(request, trusted_proxy=ctx.settings.web_trusted_proxy))
    if not decision.allowed:  # many usernames from one address: a password spray
        response = _login_page(request, token, error="rate", username=username, status_code=429)
        response.headers["Retry-After"] = str(decision.retry_after_s)
        return response
    if ctx.throttle.locked(username):
        return _login_page(request, token, error="locked", username=username, status_code=429)
    principal = await ctx.store.call(_authenticate, username, password) if username and password else None
    if principal is None:
        ctx.throttle.failed(username)
        logger.info("agent login failed")
        return _login_page(request, token, error="failed", username=username, status_code=401)
    ctx.throttle.succeeded(username)
    target = "/agent" if principal.role in AGENT_ROLES else "/ops"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, make_session_token(ctx.secret, principal))
    set_csrf_cookie(response, request, new_csrf_token(ctx.secret))  # a fresh token per session
    logger.info("agent %d logged in (%s)", principal.agent_id, principal.role)
    return response


def _record_logout(session: Session, agent_id: int) -> None:
    from personalization.desk.agents import record_action

    record_action(session, agent_id, "logout")


@router.post("/agent/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    ctx = get_ctx(request)
    form = await request.form()
    check_origin(request.headers)
    check_csrf(request, ctx.secret, str(form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""))
    parsed = read_session_token(ctx.secret, request.cookies.get(SESSION_COOKIE))
    if parsed is not None:
        await ctx.store.call(_record_logout, parsed[0])
    response = RedirectResponse("/agent/login", status_code=303)
    clear_session_cookie(response, request)
    return response


# -- console and ops pages ----------------------------------------------------------------------

async def _page_for(request: Request, roles: tuple[str, ...], template: str, title: str) -> Response:
    principal = await current_principal(request)
    if principal is None:
        return RedirectResponse("/agent/login", status_code=303)
    if principal.role not in roles:
        return _with_csrf(request, lambda token: render(request, "403.html", {
            "title": "403", "agent": principal.public(), "csrf_token": token}, status_code=403))
    return _with_csrf(request, lambda token: render(request, template, {
        "title": title, "agent": principal.public(), "csrf_token": token}))


@router.get("/agent", response_class=HTMLResponse, include_in_schema=False)
async def console(request: Request) -> Response:
    return await _page_for(request, AGENT_ROLES, "console.html", "客服工作台")


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
async def ops(request: Request) -> Response:
    return await _page_for(request, OPS_ROLES, "ops.html", "运营看板")


# -- demo identities (only when settings.web_demo) ----------------------------------------------

class DemoTokenBody(BaseModel):
    member_id: str | None = Field(None, max_length=16, description="a demo member id; null for an anonymous visitor")


def _demo_members(session: Session) -> list[dict[str, Any]]:
    """The first member of each tier (highest tier first): enough to try every kind of service."""
    from personalization.desk.handoff import mask_name
    from personalization.models import Member, Tier

    result = []
    for tier in session.scalars(select(Tier).order_by(Tier.rank.desc())):
        member = session.scalar(select(Member).where(Member.tier_code == tier.code).order_by(Member.member_id).limit(1))
        if member is not None:
            result.append({"member_id": member.member_id, "name_masked": mask_name(member.name),
                           "tier": tier.code, "tier_name_zh": tier.name_zh, "tier_name_en": tier.name_en,
                           "preferred_language": member.preferred_language})
    return result


def _member_exists(session: Session, member_id: str) -> bool:
    from personalization.models import Member

    return session.get(Member, member_id) is not None


@router.get("/demo/members")
async def demo_members(request: Request) -> dict[str, Any]:
    ctx = get_ctx(request)
    if not ctx.settings.web_demo:
        raise ApiError("demo_off")
    return {"items": await ctx.store.call(_demo_members)}


@router.post("/demo/token")
async def demo_token(request: Request, body: DemoTokenBody | None = None) -> dict[str, Any]:
    ctx = get_ctx(request)
    if not ctx.settings.web_demo:
        raise ApiError("demo_off")
    decision = check(get_limits(request).tokens_per_ip,
                     "ip:" + client_ip(request, trusted_proxy=ctx.settings.web_trusted_proxy))
    if not decision.allowed:
        raise rate_limited(decision.retry_after_s)
    ttl_s = ctx.settings.web_member_token_ttl_s
    member_id = (body.member_id if body else None) or None
    if member_id is not None:
        if not MEMBER_ID_RE.fullmatch(member_id) or not await ctx.store.call(_member_exists, member_id):
            raise ApiError("not_found")
        token = sign_member_token(ctx.secret, member_id=member_id, visitor_id=None, ttl_s=ttl_s)
        return {"token": token, "member_id": member_id, "visitor_id": None}
    visitor_id = new_visitor_id()
    return {"token": sign_member_token(ctx.secret, member_id=None, visitor_id=visitor_id, ttl_s=ttl_s),
            "member_id": None, "visitor_id": visitor_id}
