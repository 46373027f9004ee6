"""The agent console's JSON API (``/agent/api/*``) and live socket (``/ws/agent``).

Every endpoint needs a valid ``desk_session`` cookie of an active agent or admin; every POST
also needs ``X-CSRF-Token`` equal to the ``desk_csrf`` cookie. An agent sees only queued
conversations and the ones assigned to them (admins all); the member's full profile panel only
once the conversation is theirs (``personalization.desk.panel.guard_detail``; every view audited).
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, WebSocket
from pydantic import BaseModel, Field

from personalization.desk import panel as desk_panel
from web import flows
from web.auth import (
    AGENT_ROLES,
    CSRF_HEADER,
    SESSION_COOKIE,
    AgentPrincipal,
    check_csrf,
    check_origin,
    load_principal,
    read_session_token,
)
from web.context import AppContext, get_ctx
from web.errors import ApiError
from web.guards import clean_text, has_visible_text
from web.hub import Connection

logger = logging.getLogger(__name__)
MAX_REPLY = 2000


async def current_principal(request: Request) -> AgentPrincipal | None:
    """The logged-in agent of this request (re-read from the database), or None."""
    ctx = get_ctx(request)
    parsed = read_session_token(ctx.secret, request.cookies.get(SESSION_COOKIE))
    if parsed is None:
        return None
    return await ctx.store.call(load_principal, *parsed)


async def desk_agent(request: Request) -> AgentPrincipal:
    """Dependency: an agent or admin, else 401/403 (JSON)."""
    principal = await current_principal(request)
    if principal is None:
        raise ApiError("not_logged_in")
    if principal.role not in AGENT_ROLES:
        raise ApiError("wrong_role")
    return principal


async def csrf_protected(request: Request) -> None:
    """Dependency of every state-changing call: same origin and the double-submitted CSRF token."""
    check_origin(request.headers)
    check_csrf(request, get_ctx(request).secret, request.headers.get(CSRF_HEADER))


router = APIRouter(prefix="/agent/api", dependencies=[Depends(desk_agent)])
post_deps = [Depends(csrf_protected)]


# Path parameters, typed and bounded (a 40-digit handoff id is a 400, not a database overflow).
HandoffId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ConversationId = Annotated[str, Path(min_length=1, max_length=64)]


class ReplyBody(BaseModel):
    text: str = Field(max_length=MAX_REPLY * 2)  # the polite too_long below says the real limit


class TransferBody(BaseModel):
    to_agent: str = Field(min_length=1, max_length=64)


class GoodwillBody(BaseModel):
    amount: str | int | float


def _announce(ctx: AppContext, outcome: flows.Outcome, *, extra_agent_ids: tuple[int | None, ...] = ()) -> None:
    conversation = outcome.conversation or {}
    cid = conversation.get("conversation_id") or (outcome.handoff or {}).get("conversation_id")
    for message in outcome.messages:
        ctx.relay.message(cid, message, outcome.handoff, extra_agent_ids=extra_agent_ids)


@router.get("/me")
async def me(agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    return agent.public()


@router.get("/queue")
async def queue(request: Request) -> dict[str, Any]:
    return {"items": await get_ctx(request).store.call(flows.queue)}


@router.get("/mine")
async def mine(request: Request, agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    return {"items": await get_ctx(request).store.call(flows.mine, agent.agent_id)}


@router.get("/agents")
async def agents(request: Request) -> dict[str, Any]:
    return {"items": await get_ctx(request).store.call(flows.agents_for_transfer)}


@router.get("/conversations/{conversation_id}")
async def conversation(conversation_id: ConversationId, request: Request,
                       agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    ctx = get_ctx(request)
    return await ctx.store.call(_guarded_detail, agent, conversation_id, ctx.settings)


def _guarded_detail(session: Any, agent: AgentPrincipal, conversation_id: str, settings: Any) -> dict[str, Any]:
    """The detail cut to the viewer's rights (full panel only for the assignee and admins), audited."""
    detail = flows.conversation_detail(session, agent.agent_id, conversation_id, settings)
    return desk_panel.guard_detail(session, detail, viewer_id=agent.agent_id, viewer_username=agent.username,
                                   viewer_role=agent.role, viewer_name=agent.display_name,
                                   conversation_id=conversation_id)


@router.post("/handoffs/{handoff_id}/claim", dependencies=post_deps)
async def claim(handoff_id: HandoffId, request: Request, agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    ctx = get_ctx(request)
    outcome = await ctx.store.call(flows.claim, handoff_id, agent.agent_id)
    _announce(ctx, outcome)
    ctx.relay.state(outcome.conversation)
    ctx.relay.handoff(outcome.handoff or {})
    await ctx.relay.queue()
    return {"handoff": outcome.handoff, "conversation": outcome.conversation}


@router.post("/conversations/{conversation_id}/reply", dependencies=post_deps)
async def reply(conversation_id: ConversationId, body: ReplyBody, request: Request,
                agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    if len(body.text) > MAX_REPLY:
        raise ApiError("too_long")
    text = clean_text(body.text)
    if not has_visible_text(text):
        raise ApiError("empty")
    ctx = get_ctx(request)
    async with ctx.conversation_lock(conversation_id):
        outcome = await ctx.store.call(flows.reply, conversation_id, agent.agent_id, text)
    _announce(ctx, outcome)
    return {"message": outcome.messages[0]}


@router.post("/handoffs/{handoff_id}/transfer", dependencies=post_deps)
async def transfer(handoff_id: HandoffId, body: TransferBody, request: Request,
                   agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    ctx = get_ctx(request)
    outcome = await ctx.store.call(flows.transfer, handoff_id, agent.agent_id, body.to_agent)
    _announce(ctx, outcome, extra_agent_ids=(outcome.previous_agent_id,))
    ctx.relay.state(outcome.conversation)
    ctx.relay.handoff(outcome.handoff or {}, extra_agent_ids=(outcome.previous_agent_id,))
    return {"handoff": outcome.handoff}


@router.post("/handoffs/{handoff_id}/resolve", dependencies=post_deps)
async def resolve(handoff_id: HandoffId, request: Request, agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    ctx = get_ctx(request)
    outcome = await ctx.store.call(flows.resolve, handoff_id, agent.agent_id)
    _announce(ctx, outcome, extra_agent_ids=(outcome.previous_agent_id,))
    ctx.relay.state(outcome.conversation)
    ctx.relay.handoff(outcome.handoff or {}, extra_agent_ids=(outcome.previous_agent_id,))
    return {"handoff": outcome.handoff, "conversation": outcome.conversation}


@router.post("/conversations/{conversation_id}/goodwill", dependencies=post_deps)
async def goodwill(conversation_id: ConversationId, body: GoodwillBody, request: Request,
                   agent: AgentPrincipal = Depends(desk_agent)) -> dict[str, Any]:
    try:
        amount = Decimal(str(body.amount))
        # quantize() itself fails on amounts beyond the context's precision (1e30): same answer.
        valid = amount.is_finite() and amount > 0 and amount == amount.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise ApiError("bad_amount") from exc
    if not valid:
        raise ApiError("bad_amount")
    ctx = get_ctx(request)
    outcome = await ctx.store.call(flows.goodwill, conversation_id, agent.agent_id, amount)
    _announce(ctx, outcome)
    return {"coupon": outcome.extra["coupon"], "message": outcome.messages[0]}


ws_router = APIRouter()


def _is_ping(raw: str | None) -> bool:
    """The console's keep-alive; every other frame from the console is ignored (it acts over HTTP)."""
    try:
        return isinstance(raw, str) and len(raw) < 200 and json.loads(raw) == {"type": "ping"}
    except ValueError:
        return False


@ws_router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    """Live queue and conversation events for the console (cookie auth, same origin only)."""
    ctx = get_ctx(websocket)
    await websocket.accept()
    try:
        check_origin(websocket.headers)
        parsed = read_session_token(ctx.secret, websocket.cookies.get(SESSION_COOKIE))
        principal = await ctx.store.call(load_principal, *parsed) if parsed else None
        if principal is None:
            raise ApiError("not_logged_in")
        if principal.role not in AGENT_ROLES:
            raise ApiError("wrong_role")
    except ApiError as exc:
        try:
            await websocket.send_json(exc.frame())
            await websocket.close(code=4401 if exc.status == 401 else 4403)
        except Exception:
            pass
        return
    conn = Connection(websocket, agent_id=principal.agent_id, role=principal.role)
    conn.start()
    conn.send({"type": "hello", "agent": principal.public()})
    ctx.hub.add_agent(conn)
    try:
        conn.send({"type": "queue", "items": await ctx.store.call(flows.queue)})
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            if _is_ping(event.get("text")):
                conn.send({"type": "pong"})
    except Exception:  # the console went away
        pass
    finally:
        ctx.hub.remove_agent(conn)
        await conn.close()
