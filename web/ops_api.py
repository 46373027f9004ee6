"""The ops dashboard's JSON API (``/ops/api/*``): metrics, breakdowns, unrecognized messages,
masked transcripts, CSV export and a pipeline refresh.

Every endpoint needs the ``desk_session`` cookie of an active ops or admin account (401 without
a login, 403 for another role); ``POST /ops/api/refresh`` also needs ``X-CSRF-Token``. Filters
(``from``, ``to``, ``tier``, ``segment``) are checked here and answered with a polite 400.
Personal data stays masked: metrics and transcripts come from the masked analytics layer.

Speed with a million events stored: metrics read the per-day rollup (``analytics_daily``); the full
overview is cached per filter until the rollup changes (its generation) or for at most
:data:`OVERVIEW_TTL_S` seconds (agent times and coupon redemption live in the desk's tables, which
change without the pipeline); clusters of unrecognized messages come from the analytics runner's
fitted model (:class:`~personalization.analytics.clusters.ClusterIndex`) and are a separate call.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from personalization.analytics import rollups
from personalization.analytics.metrics import ANONYMOUS, MAX_DAYS, METRICS, NO_SEGMENT, overview
from personalization.analytics.models import AnalyticsCursor, AnalyticsDaily
from personalization.analytics.pipeline import EventSourceError
from personalization.analytics.transcript import masked_transcript
from personalization.privacy.pii import mask_text
from personalization.segments import SEGMENT_NAMES
from web import audit_api
from web.agent_api import csrf_protected, current_principal
from web.analytics_runner import AnalyticsRunner
from web.auth import OPS_ROLES, AgentPrincipal
from web.context import get_ctx
from web.errors import ApiError

DEFAULT_DAYS = 30
TIERS: dict[str, tuple[str, str]] = {
    "normal": ("普通会员", "Normal"),
    "silver": ("银卡会员", "Silver"),
    "gold": ("金卡会员", "Gold"),
    "diamond": ("钻石会员", "Diamond"),
    ANONYMOUS: ("未登录访客", "Anonymous"),
}
NO_SEGMENT_LABEL = ("未分群", "No segment")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
OVERVIEW_CACHE_SIZE = 64
OVERVIEW_TTL_S = 60.0


async def ops_user(request: Request) -> AgentPrincipal:
    """Dependency: an ops or admin account, else 401/403 (JSON)."""
    principal = await current_principal(request)
    if principal is None:
        raise ApiError("not_logged_in")
    if principal.role not in OPS_ROLES:
        raise ApiError("wrong_role")
    return principal


router = APIRouter(prefix="/ops/api", tags=["ops"], dependencies=[Depends(ops_user)])


# -- filters ------------------------------------------------------------------------------------

def _bad_filter(zh: str, en: str) -> ApiError:
    return ApiError("bad_filter", status=400, message_zh=zh, message_en=en)


def _parse_day(value: str | None, label_zh: str, label_en: str) -> date | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if not _DAY.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad_filter(f"{label_zh}格式不正确，请使用 YYYY-MM-DD。",
                          f"The {label_en} date is not valid; use YYYY-MM-DD.") from None


@dataclass(frozen=True)
class Filters:
    """The dashboard's filter, checked."""

    date_from: date
    date_to: date
    tier: str | None
    segment: str | None

    def public(self) -> dict[str, Any]:
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "tier": self.tier,
                "segment": self.segment}

    def args(self) -> tuple[date, date, str | None, str | None]:
        return self.date_from, self.date_to, self.tier, self.segment


def parse_filters(date_from: str | None, date_to: str | None, tier: str | None, segment: str | None,
                  *, today: date | None = None) -> Filters:
    """Check the query's filters (defaults: the last 30 days ending today); ``ApiError`` 400 if bad."""
    end = _parse_day(date_to, "结束日期", "end") or (today or date.today())
    start = _parse_day(date_from, "开始日期", "start") or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise _bad_filter("结束日期不能早于开始日期。", "The end date is before the start date.")
    if (end - start).days >= MAX_DAYS:
        raise _bad_filter(f"日期范围不能超过{MAX_DAYS}天。", f"The date range may not exceed {MAX_DAYS} days.")
    tier = (tier or "").strip().lower() or None
    if tier is not None and tier not in TIERS:
        raise _bad_filter("会员等级无效，可选：normal、silver、gold、diamond、anonymous。",
                          "Unknown tier; use normal, silver, gold, diamond or anonymous.")
    segment = (segment or "").strip() or None
    if segment is not None and not _SEGMENT.match(segment):
        raise _bad_filter("会员分群无效。", "The segment is not valid.")
    return Filters(start, end, tier, segment)


def filters(
    date_from: str | None = Query(None, alias="from", description="first day, YYYY-MM-DD (default: 29 days before `to`)"),
    date_to: str | None = Query(None, alias="to", description="last day, YYYY-MM-DD (default: today)"),
    tier: str | None = Query(None, description="normal | silver | gold | diamond | anonymous"),
    segment: str | None = Query(None, description='a member segment, or "none" (no segment known)'),
) -> Filters:
    """Dependency: the checked filters of the request."""
    return parse_filters(date_from, date_to, tier, segment)


# -- helpers ------------------------------------------------------------------------------------

def _runner(request: Request) -> AnalyticsRunner:
    return request.app.state.analytics_runner  # type: ignore[no-any-return]


def _updated_at(session: Session, runner: AnalyticsRunner) -> str | None:
    """When the analytics tables last took in new data (the pipeline's last success, else its cursor)."""
    if runner.last_success_at is not None:
        return runner.last_success_at.isoformat(timespec="seconds")
    stamp = session.scalar(select(func.max(AnalyticsCursor.updated_at)))
    return stamp.isoformat(timespec="seconds") if isinstance(stamp, datetime) else None


def _metric(name: str) -> Callable[..., dict[str, Any]]:
    metric = METRICS.get(name)
    if metric is None:
        raise ApiError("not_found", message_zh=f"没有名为 {name} 的指标。", message_en=f"There is no metric named {name}.")
    return metric


def _without_filters(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != "filters"}


def _segment_options(session: Session) -> list[dict[str, str]]:
    found = set(session.scalars(select(AnalyticsDaily.segment).where(AnalyticsDaily.segment.is_not(None)).distinct()))
    codes = list(SEGMENT_NAMES) + sorted(str(s) for s in found if s not in SEGMENT_NAMES)
    options = [{"value": code, "label_zh": SEGMENT_NAMES.get(code, (code, code))[0],
                "label_en": SEGMENT_NAMES.get(code, (code, code))[1]} for code in codes]
    return options + [{"value": NO_SEGMENT, "label_zh": NO_SEGMENT_LABEL[0], "label_en": NO_SEGMENT_LABEL[1]}]


def _tier_options() -> list[dict[str, str]]:
    return [{"value": code, "label_zh": zh, "label_en": en} for code, (zh, en) in TIERS.items()]


class OverviewCache:
    """Overviews by (filter, rollup generation), least recently used out, each kept ``ttl_s`` at most."""

    def __init__(self, size: int = OVERVIEW_CACHE_SIZE, ttl_s: float = OVERVIEW_TTL_S) -> None:
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or time.monotonic() - found[0] > self.ttl_s:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple[Any, ...], value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _overview_cache(request: Request) -> OverviewCache:
    cache = getattr(request.app.state, "ops_overview_cache", None)
    if cache is None:
        cache = request.app.state.ops_overview_cache = OverviewCache()
    return cache  # type: ignore[no-any-return]


async def _unrecognized(request: Request, f: Filters, limit: int) -> dict[str, Any]:
    index = _runner(request).clusters
    return await get_ctx(request).store.call(index.unrecognized, *f.args(), limit=limit)


# -- endpoints ----------------------------------------------------------------------------------

@router.get("/metrics", summary="Every metric for one filter")
async def all_metrics(request: Request, f: Filters = Depends(filters)) -> dict[str, Any]:
    """``{"filters", "metrics": {name: value}, "updated_at", "options"}``.

    The clusters of unrecognized messages are not here: ``GET /ops/api/unrecognized``.
    """
    runner = _runner(request)
    cache = _overview_cache(request)

    def load(session: Session) -> tuple[dict[str, Any], str | None, list[dict[str, str]]]:
        rollups.ensure_rollup(session)  # a database from before the rollup: built once, then read
        key = (f.args(), rollups.generation(session))
        values = cache.get(key)
        if values is None:
            values = overview(session, *f.args())
            cache.put(key, values)
        return values, _updated_at(session, runner), _segment_options(session)

    values, updated_at, segments = await get_ctx(request).store.call(load)
    return {
        "filters": f.public(),
        "metrics": _without_filters(values),
        "updated_at": updated_at,
        "options": {"tiers": _tier_options(), "segments": segments},
    }


@router.get("/metrics/{name}", summary="One metric for one filter")
async def one_metric(name: str, request: Request, f: Filters = Depends(filters)) -> dict[str, Any]:
    """``{"name", "filters", "metric": <METRICS[name] result>, "updated_at"}``; 404 for unknown names."""
    metric = _metric(name)
    runner = _runner(request)

    def load(session: Session) -> tuple[dict[str, Any], str | None]:
        return metric(session, *f.args()), _updated_at(session, runner)

    value, updated_at = await get_ctx(request).store.call(load)
    return {"name": name, "filters": f.public(), "metric": _without_filters(value), "updated_at": updated_at}


@router.get("/breakdown/{name}", summary="One metric per tier or per segment")
async def breakdown(name: str, request: Request, by: str = Query("tier", description="tier | segment"),
                    f: Filters = Depends(filters)) -> dict[str, Any]:
    """``{"name", "by", "filters", "rows": [{"value", "label_zh", "label_en", "metric"}]}``.

    ``by=tier`` keeps the segment filter (and ignores the tier filter), ``by=segment`` the reverse.
    """
    metric = _metric(name)
    if by not in ("tier", "segment"):
        raise _bad_filter("分组方式无效，可选 tier 或 segment。", "Break down by tier or segment.")

    def load(session: Session) -> list[dict[str, Any]]:
        options = _tier_options() if by == "tier" else _segment_options(session)
        rows = []
        for option in options:
            tier, segment = (option["value"], f.segment) if by == "tier" else (f.tier, option["value"])
            rows.append({**option, "metric": _without_filters(metric(session, f.date_from, f.date_to, tier, segment))})
        return rows

    return {"name": name, "by": by, "filters": f.public(), "rows": await get_ctx(request).store.call(load)}


@router.get("/unrecognized", summary="Top clusters of messages the bot did not understand")
async def unrecognized(request: Request, limit: int = Query(10, ge=1, le=50), f: Filters = Depends(filters)) -> dict[str, Any]:
    """``{"filters", "fallback_messages", "clusters": [{"label", "size", "examples"}]}`` (examples masked)."""
    return {"filters": f.public(), **await _unrecognized(request, f, limit)}


@router.get("/conversations/{key:path}/transcript", summary="A conversation's transcript, personal data masked")
async def transcript(key: str, request: Request, user: AgentPrincipal = Depends(ops_user)) -> dict[str, Any]:
    """The masked transcript of the conversation ``key`` (``<sender_id>#<first event id>``); 404 if unknown."""
    runner = _runner(request)
    try:
        found = await get_ctx(request).store.call(masked_transcript, runner.source, key)
    except EventSourceError as exc:
        raise ApiError("analytics_unavailable", status=503, message_zh="暂时无法读取对话记录，请稍后再试。",
                       message_en="The conversation log cannot be read right now; please try again shortly.") from exc
    if found is None:
        raise ApiError("not_found", message_zh="没有找到该会话。", message_en="That conversation was not found.")
    await audit_api.record_transcript_view(request, user, key)  # who looked at which member's conversation
    return found


@router.post("/refresh", dependencies=[Depends(csrf_protected)], summary="Run the analytics pipeline once now")
async def refresh(request: Request) -> dict[str, Any]:
    """``{"summary": <run_pipeline summary>, "updated_at"}``; needs ``X-CSRF-Token``."""
    runner = _runner(request)
    try:
        summary = await run_in_threadpool(runner.run_once)
    except EventSourceError as exc:
        raise ApiError("analytics_unavailable", status=503, message_zh="暂时无法读取对话事件，请稍后再试。",
                       message_en="The conversation events cannot be read right now; please try again shortly.") from exc
    updated = runner.last_success_at.isoformat(timespec="seconds") if runner.last_success_at else None
    return {"summary": summary, "updated_at": updated}


# -- CSV ----------------------------------------------------------------------------------------

Table = tuple[list[str], list[list[Any]]]


def _stats_cells(stats: dict[str, Any]) -> list[Any]:
    return [stats.get("count"), stats.get("mean"), stats.get("p50"), stats.get("p90")]


def _key_values(value: dict[str, Any]) -> Table:
    rows = [[k, v] for k, v in value.items() if not isinstance(v, (dict, list)) and not k.startswith("definition")]
    return ["key", "value"], rows


def table_for(name: str, value: dict[str, Any]) -> Table:
    """A flat table of one metric's value: per-day series one row per day, distributions one row per key."""
    if name == "conversations_per_day":
        return ["day", "conversations", "members", "turns"], [[d["day"], d["conversations"], d["members"], d["turns"]] for d in value["days"]]
    if name == "containment":
        total = value["conversations"]
        return ["resolved_by", "conversations", "share"], [
            [k, value[k], round(value[k] / total, 4) if total else None] for k in ("bot", "human", "unresolved")]
    if name == "handoffs":
        return ["reason", "count", "share"], [[r["reason"], r["count"], r["share"]] for r in value["reasons"]]
    if name == "intents":
        return ["intent", "count", "share"], [[r["intent"], r["count"], r["share"]] for r in value["intents"]]
    if name == "sentiment":
        pols, emos = list(value["polarity"]), list(value["emotion"])
        return (["day", "turns", *(f"polarity_{p}" for p in pols), *(f"emotion_{e}" for e in emos), "negative_share"],
                [[d["day"], d["turns"], *(d["polarity"].get(p, 0) for p in pols), *(d["emotion"].get(e, 0) for e in emos),
                  d["negative_share"]] for d in value["trend"]])
    if name == "sentiment_change":
        lasts = list(next(iter(value["matrix"].values()), {}))
        return ["first \\ last", *lasts], [[first, *(row.get(last, 0) for last in lasts)] for first, row in value["matrix"].items()]
    if name == "ended_negative":
        columns = ["conversation_key", "started_at", "ended_at", "tier", "segment", "first_polarity", "last_emotion",
                   "handoff", "resolved_by", "csat", "last_text_masked"]
        return columns, [[c.get(col) for col in columns] for c in value["conversations"]]
    if name == "csat":
        rows = [[group, g["rated"], g["mean"]] for group, g in value["by_resolved_by"].items()]
        return ["resolved_by", "rated", "mean"], [["all", value["rated"], value["mean"]], *rows]
    if name == "agent_times":
        header = ["agent_id", "agent_name", "handoffs", "first_response_count", "first_response_mean_s", "first_response_p50_s",
                  "first_response_p90_s", "resolution_count", "resolution_mean_s", "resolution_p50_s", "resolution_p90_s"]
        rows = [["all", "", value["handoffs"], *_stats_cells(value["first_response_s"]), *_stats_cells(value["resolution_s"])]]
        rows += [[a["agent_id"], a["agent_name"], a["handoffs"], *_stats_cells(a["first_response_s"]), *_stats_cells(a["resolution_s"])]
                 for a in value["by_agent"]]
        return header, rows
    if name == "unrecognized":
        return ["label", "size", "examples"], [[c["label"], c["size"], " | ".join(c["examples"])] for c in value["clusters"]]
    return _key_values(value)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        value = mask_text(value)  # defence in depth: analytics texts are stored masked already
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run a member's text as a formula
    return value


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    """CSV text with a UTF-8 BOM (so Excel reads Chinese right)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return "\ufeff" + out.getvalue()


@router.get("/export.csv", summary="One metric as CSV", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a BOM"}})
async def export_csv(request: Request, metric: str = Query(..., description="a metric name, or unrecognized"),
                     f: Filters = Depends(filters), user: AgentPrincipal = Depends(ops_user)) -> Response:
    """``<metric>-<from>-<to>.csv``: the metric as a flat table for the filter."""
    if metric == "unrecognized":
        value = await _unrecognized(request, f, 50)
    else:
        value = await get_ctx(request).store.call(_metric(metric), *f.args())
    body = to_csv(*table_for(metric, value))
    filename = f"{metric}-{f.date_from.isoformat()}-{f.date_to.isoformat()}.csv"
    await audit_api.record_export(request, user, filename, {"metric": metric, **f.public()})
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
