"""The FastAPI app: ``create_app(settings, rasa_url=..., rasa_token=...)``.

Routes: ``/`` (demo shop), ``/demo/*`` (demo member tokens), ``/ws/chat`` (member gateway),
``/agent/login``, ``/agent`` (console), ``/agent/api/*``, ``/ws/agent``, ``/ops``, ``/ops/api/*``, ``/healthz``,
``/static/*``. Nothing is created at import time.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from personalization.db import create_schema, make_engine, session_factory
from personalization.desk.errors import DeskError
from personalization.settings import Settings
from web import admin_api, agent_api, audit_api, gateway, ops_api, pages
from web.analytics_runner import AnalyticsRunner
from web.context import AppContext
from web.errors import ApiError, from_desk_error
from web.fanout import relay_for, start_relay, stop_relay
from web.guards import RequestGuard
from web.hub import Hub
from web.rasa_bridge import RasaBridge
from web.ratelimit import RateLimits
from web.signing import ensure_web_secret
from web.store import Store

logger = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent
# Pages that must never be framed (the console acts on members' behalf); the shop/widget may be.
_NO_FRAME_PREFIXES = ("/agent", "/ops")


def _security_headers(request: Request, response: Response) -> None:
    host = request.headers.get("host", "")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        f"connect-src 'self' ws://{host} wss://{host}"
        + ("; frame-ancestors 'none'" if request.url.path.startswith(_NO_FRAME_PREFIXES) else ""),
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.url.path.startswith(_NO_FRAME_PREFIXES):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


def create_app(settings: Settings, *, rasa_url: str, rasa_token: str, rasa_transport: object | None = None) -> FastAPI:
    """Build the web app for ``settings`` talking to the Rasa server at ``rasa_url``."""
    engine = make_engine(settings)
    store = Store(session_factory(engine))
    hub = Hub()
    templates = Jinja2Templates(env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")), autoescape=True))
    rasa = RasaBridge(rasa_url, rasa_token, transport=rasa_transport)  # type: ignore[arg-type]
    ctx = AppContext(settings=settings, secret=ensure_web_secret(settings), store=store, hub=hub,
                     relay=relay_for(settings, hub, store), rasa=rasa, templates=templates)
    analytics = AnalyticsRunner(store.factory, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The desk tables (conversations, chat messages, agents, ...) may be newer than the database.
        await run_in_threadpool(create_schema, engine)
        analytics.start()  # keeps the ops dashboard fresh (Settings.analytics_interval_s; 0 = off)
        await start_relay(ctx.relay)  # other web replicas' socket events (Settings.web_fanout)
        try:
            yield
        finally:
            await stop_relay(ctx.relay)
            await run_in_threadpool(analytics.stop)
            await rasa.aclose()
            engine.dispose()

    app = FastAPI(title="Member service web app", lifespan=lifespan)
    app.state.ctx = ctx
    app.state.analytics_runner = analytics
    app.state.rate_limits = RateLimits.from_settings(settings)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        _security_headers(request, response)
        return response

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(DeskError)
    async def desk_error(_request: Request, exc: DeskError) -> JSONResponse:
        return _error_response(from_desk_error(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, _exc: RequestValidationError) -> JSONResponse:
        return _error_response(ApiError("bad_request"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "bad_request"
        return _error_response(ApiError(code, status=exc.status_code))

    @app.exception_handler(RecursionError)
    async def too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return _error_response(ApiError("bad_request"))  # e.g. a JSON body nested thousands deep

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s", request.url.path)
        return _error_response(ApiError("internal"))

    # Size limits and the per-IP budget before anything else (web/guards.py, web/ratelimit.py).
    app.add_middleware(RequestGuard, settings=settings, limits=app.state.rate_limits)
    app.include_router(pages.router)
    app.include_router(agent_api.router)
    app.include_router(agent_api.ws_router)
    app.include_router(ops_api.router)
    app.include_router(audit_api.router)  # GET /admin/api/audit (admins only)
    app.include_router(gateway.router)
    app.include_router(admin_api.router)  # members' rights: admin privacy API
    app.include_router(admin_api.member_router)  # GET /api/me/export
    static_dir = WEB_DIR / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir), check_dir=False), name="static")
    return app
