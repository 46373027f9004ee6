"""The member WebSocket ``/ws/chat``: stores every message, routes it to the bot or the agent.

Frames from the widget: ``message`` (idempotent by ``client_id``), ``csat``, ``cancel_handoff``,
``language``. Anything else, or anything malformed, gets an ``error`` frame and the socket stays
open. See the issue 5 spec for the frame shapes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from personalization.desk.errors import DeskError
from web import flows
from web.context import AppContext, get_ctx
from web.errors import ApiError, from_desk_error, rate_limited
from web.guards import CONVERSATION_ID_RE, clean_text, has_visible_text
from web.hub import Connection
from web.rasa_bridge import RasaUnavailable
from web.ratelimit import check, client_ip, get_limits
from web.tokens import InvalidToken, MemberIdentity, verify_member_token

logger = logging.getLogger(__name__)
router = APIRouter()

MAX_TEXT = 2000
MAX_FRAME_BYTES = 16_000
ACTIVE = ("queued", "assigned")
LANGUAGES = ("zh", "en")


def _who(identity: MemberIdentity) -> str:
    """A log label without personal data."""
    return "member" if identity.member_id else "visitor"


class MemberSession:
    """One member socket: its identity, conversation and frame handlers."""

    def __init__(self, ctx: AppContext, conn: Connection, identity: MemberIdentity, conversation: dict[str, Any]):
        self.ctx = ctx
        self.conn = conn
        self.identity = identity
        self.conversation_id: str = conversation["conversation_id"]
        self.language: str = conversation.get("language") or "zh"
        # Rate limits count per token subject: a member across all tabs and devices, or one visitor.
        self.rate_key = f"member:{identity.member_id}" if identity.member_id else f"visitor:{identity.visitor_id}"

    # -- dispatch ---------------------------------------------------------------------------------
    async def handle(self, raw: str) -> None:
        if len(raw) > MAX_FRAME_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
            raise ApiError("too_long")
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" thousands deep
            raise ApiError("bad_frame") from exc
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise ApiError("bad_frame")
        handler = {
            "message": self.on_message, "csat": self.on_csat, "cancel_handoff": self.on_cancel,
            "language": self.on_language, "ping": self.on_ping,
        }.get(frame["type"])
        if handler is None:
            raise ApiError("unknown_type")
        await handler(frame)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        self.conn.send({"type": "pong"})

    # -- member message ---------------------------------------------------------------------------
    async def on_message(self, frame: dict[str, Any]) -> None:
        client_id, text, payload = frame.get("client_id"), frame.get("text"), frame.get("payload")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64 or not client_id.isprintable():
            raise ApiError("bad_client_id")
        refused = {"client_id": client_id}  # the widget drops that pending message and says why
        if text is None:
            text = ""
        if not isinstance(text, str) or (payload is not None and not isinstance(payload, str)):
            raise ApiError("bad_frame", extra=refused)
        if len(text) > MAX_TEXT or (payload is not None and len(payload) > MAX_TEXT):
            raise ApiError("too_long", extra=refused)
        text = clean_text(text)
        payload = clean_text(payload) if payload is not None else None
        if payload is not None and not payload.startswith("/"):
            payload = None  # only button payloads ("/intent{...}") go to Rasa as such
        if not has_visible_text(text) and not payload:
            raise ApiError("empty", extra=refused)
        if not has_visible_text(text):
            text = payload or ""
        decision = check(get_limits(self.conn.websocket).messages_per_member, self.rate_key)
        if not decision.allowed:
            raise rate_limited(decision.retry_after_s, **refused)
        ctx, cid = self.ctx, self.conversation_id
        async with ctx.conversation_lock(cid):
            message, created, handoff, conversation = await ctx.store.call(
                flows.member_message, cid, text=text, payload=payload, client_id=client_id)
            self.conn.send({"type": "ack", "client_id": client_id, "seq": message["seq"]})
            if not created:
                # A resend after a lost ack: nothing new happens; this socket gets the stored copy.
                self.conn.send({"type": "message", "message": message})
                return
            ctx.relay.message(cid, message, handoff)
            if handoff is not None and handoff.get("status") in ACTIVE:
                if handoff.get("status") == "queued":
                    await ctx.relay.queue()  # the queue shows the last message
                await self._tag_for_agent(message, payload or text, handoff)
                return
            await self._bot_turn(message, payload or text, conversation)

    async def _tag_for_agent(self, message: dict[str, Any], text: str, handoff: dict[str, Any]) -> None:
        """With an agent, the bot stays silent, but NLU still tags intent and sentiment for the console."""
        parse = await self.ctx.rasa.parse(text)
        if parse.intent is None and parse.sentiment is None:
            return
        updated = await self.ctx.store.call(flows.record_nlu, self.conversation_id, message["id"],
                                               intent=parse.intent, sentiment=parse.sentiment)
        self.ctx.relay.message_update(self.conversation_id, updated, handoff)

    async def _bot_turn(self, message: dict[str, Any], text: str, conversation: dict[str, Any] | None) -> None:
        ctx, cid = self.ctx, self.conversation_id
        language = (conversation or {}).get("language") or self.language
        metadata: dict[str, Any] = {"language": language}
        if self.identity.member_id:
            metadata["member_id"] = self.identity.member_id
        ctx.hub.to_conversation(cid, {"type": "typing", "who": "bot", "on": True})
        try:
            turn = await ctx.rasa.send(cid, text, metadata)
        except RasaUnavailable:
            ctx.hub.to_conversation(cid, {"type": "typing", "who": "bot", "on": False})
            self.conn.send(ApiError("bot_unavailable").frame())
            return
        parse = turn.parse
        outcome = await ctx.store.call(flows.store_bot_items, cid, turn.items)
        ctx.hub.to_conversation(cid, {"type": "typing", "who": "bot", "on": False})
        updated = await ctx.store.call(
            flows.record_nlu, cid, message["id"], intent=parse.intent, sentiment=parse.sentiment)
        handoff = outcome.handoff
        ctx.relay.message_update(cid, updated, handoff)
        for bot_message in outcome.messages:
            ctx.relay.message(cid, bot_message, handoff)
        # Hand-offs (asked for, strong anger, two fallbacks in a row) are the dialogue's decision
        # (components.reaction_policy); its handoff payload marked the conversation queued.
        if outcome.extra.get("handoff_requested") or handoff is not None:
            ctx.relay.state(outcome.conversation)
            await ctx.relay.queue()
            logger.info("conversation handed off (%s)", _who(self.identity))

    # -- other frames -----------------------------------------------------------------------------
    async def on_csat(self, frame: dict[str, Any]) -> None:
        score = frame.get("score")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ApiError("bad_score")
        rating = await self.ctx.store.call(flows.record_csat, self.conversation_id, score,
                                           handoff_id=frame.get("handoff_id"), member_id=self.identity.member_id)
        self.conn.send({"type": "csat_ack", "score": rating.get("score", score),
                        "handoff_id": rating.get("handoff_id")})

    async def on_cancel(self, frame: dict[str, Any]) -> None:
        ctx, cid = self.ctx, self.conversation_id
        async with ctx.conversation_lock(cid):
            outcome = await ctx.store.call(flows.cancel_handoff, cid)
        if outcome is None:
            raise ApiError("not_handed_off")
        for message in outcome.messages:
            ctx.relay.message(cid, message, outcome.handoff, extra_agent_ids=(outcome.previous_agent_id,))
        ctx.relay.state(outcome.conversation)
        if outcome.handoff:
            ctx.relay.handoff(outcome.handoff, extra_agent_ids=(outcome.previous_agent_id,))
        await ctx.relay.queue()

    async def on_language(self, frame: dict[str, Any]) -> None:
        language = frame.get("language")
        if language not in LANGUAGES:
            raise ApiError("bad_language")
        conversation = await self.ctx.store.call(flows.set_language, self.conversation_id, language)
        self.language = language
        self.conn.send({"type": "language", "language": conversation.get("language", language)})


def _after_seq(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ApiError("bad_request")
    return int(value)


def _conversation_id(value: str | None) -> str | None:
    """The ``conversation_id`` query parameter, checked (a malformed one is nobody's: 403)."""
    if value is None or value == "":
        return None
    if not CONVERSATION_ID_RE.fullmatch(value):
        raise ApiError("forbidden")
    return value


@router.websocket("/ws/chat")
async def member_socket(websocket: WebSocket) -> None:
    """The member chat socket (``?token=…&after_seq=N`` and optionally ``&conversation_id=…``)."""
    ctx = get_ctx(websocket)
    await websocket.accept()
    params = websocket.query_params
    try:
        # Connections count against the client's per-IP budget like any other request.
        decision = check(get_limits(websocket).api_per_ip,
                         "ip:" + client_ip(websocket, trusted_proxy=ctx.settings.web_trusted_proxy))
        if not decision.allowed:
            raise rate_limited(decision.retry_after_s)
        # No origin check here: the widget may be embedded in other sites, and the socket is
        # authorised by the token in its URL, not by cookies (no cross-site hijacking to fear).
        identity = verify_member_token(ctx.secret, params.get("token"))
        after_seq = _after_seq(params.get("after_seq"))
        conversation, backlog = await ctx.store.call(
            flows.open_for_member, member_id=identity.member_id, visitor_id=identity.visitor_id,
            conversation_id=_conversation_id(params.get("conversation_id")), after_seq=after_seq)
        if conversation is None:
            raise ApiError("forbidden")
    except InvalidToken:
        await _refuse(websocket, ApiError("invalid_token"), 4401)
        return
    except ApiError as exc:
        await _refuse(websocket, exc, {403: 4403, 429: 4429}.get(exc.status, 4400))
        return
    except DeskError as exc:
        await _refuse(websocket, from_desk_error(exc), 4400)
        return

    conn = Connection(websocket)
    conn.start()
    session = MemberSession(ctx, conn, identity, conversation)
    cid = session.conversation_id
    conn.send({"type": "hello", **{k: conversation.get(k) for k in (
        "conversation_id", "state", "agent_name", "queue_position", "last_seq", "language", "handoff_id")}})
    for message in backlog:
        conn.send({"type": "message", "message": message})
    ctx.hub.add_member(cid, conn)
    try:
        # Whatever was stored between the backlog query and joining the hub (the widget dedupes by seq).
        seen = backlog[-1]["seq"] if backlog else after_seq
        for message in await ctx.store.call(flows.messages_after, cid, seen):
            conn.send({"type": "message", "message": message})
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            raw = event.get("text")
            if raw is None:  # a binary frame
                conn.send(ApiError("bad_frame").frame())
                continue
            try:
                await session.handle(raw)
            except ApiError as exc:
                conn.send(exc.frame())
            except DeskError as exc:
                conn.send(from_desk_error(exc).frame())
            except Exception:  # never a traceback to the member; the socket stays open
                logger.exception("member frame failed (%s)", _who(identity))
                conn.send(ApiError("internal").frame())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ctx.hub.remove_member(conn)
        await conn.close()
        ctx.release_lock(cid)


async def _refuse(websocket: WebSocket, error: ApiError, code: int) -> None:
    try:
        await websocket.send_json(error.frame())
        await websocket.close(code=code)
    except Exception:  # already gone
        pass
