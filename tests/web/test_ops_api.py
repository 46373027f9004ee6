"""The ops dashboard API (/ops/api/*) on the hand-built analytics world of tests/analytics/conftest.py.

The app database holds the world's members, handoff, chat copy, CSAT and coupons plus the demo desk
accounts; the events database holds the world's Rasa events and one more conversation whose
fallback messages carry a name and a phone number. The pipeline runs for real before the tests.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from personalization.analytics import metrics
from personalization.analytics.clusters import unrecognized
from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from personalization.desk.agents import ensure_demo_agents
from personalization.settings import Settings
from tests.analytics.builders import EventLog, write_events
from tests.analytics.conftest import D2, World, at, build_world
from tests.web.helpers import SECRET, csrf_headers, login
from web.app import create_app

FROM, TO = "2026-11-02", "2026-11-03"
RANGE = {"from": FROM, "to": TO}
SECRET_PHONE = "13900001111"
SECRET_NAME = "李娜"


def _extra_fallbacks() -> EventLog:
    """C-e (李娜, D2): two messages the bot did not understand, with her name and phone in one."""
    log = EventLog()
    log.session_start("C-e", at(D2, 18), member="M100002", name=SECRET_NAME, tier="normal")
    log.user("C-e", at(D2, 18, 0, 5), f"我是{SECRET_NAME}，电话{SECRET_PHONE}，积分兑换不了", "nlu_fallback", member="M100002")
    log.action("C-e", at(D2, 18, 0, 6), "utter_default")
    log.bot("C-e", at(D2, 18, 0, 6), "抱歉，我没太明白")
    log.user("C-e", at(D2, 18, 1), "积分兑换不了怎么办", "nlu_fallback", polarity="negative", emotion="anger", member="M100002")
    log.action("C-e", at(D2, 18, 1, 1), "utter_default")
    log.bot("C-e", at(D2, 18, 1, 1), "抱歉，我没太明白")
    return log


@pytest.fixture(scope="module")
def ops_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("ops")
    world = build_world(folder)
    write_events(folder / "events.db", _extra_fallbacks())  # appended after the world's events
    with world.app.factory() as session:
        ensure_demo_agents(session)  # agent2 (agent), ops1 (ops), admin (admin); agent1 exists without a password
        session.commit()
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    yield world
    world.app.engine.dispose()


@pytest.fixture()
def app_settings(ops_world: World, tmp_path: Path) -> Settings:
    return replace(Settings(), database_url=ops_world.app.url, var_dir=str(tmp_path), web_secret=SECRET,
                   rasa_events_db=ops_world.events_url.removeprefix("sqlite:///"), analytics_interval_s=0)


@pytest.fixture()
def anonymous(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, rasa_url="http://127.0.0.1:9", rasa_token="t")) as client:
        yield client


@pytest.fixture()
def ops(anonymous: TestClient) -> TestClient:
    assert login(anonymous, "ops1", "ops1-demo").status_code == 303
    return anonymous


def _session(world: World):  # type: ignore[no-untyped-def]
    return world.app.factory()


# -- who may look --------------------------------------------------------------------------------

ENDPOINTS = ["/ops/api/metrics", "/ops/api/metrics/containment", "/ops/api/breakdown/csat?by=tier",
             "/ops/api/unrecognized", "/ops/api/export.csv?metric=intents"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_gets_401_json(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path, follow_redirects=False)
    assert response.status_code == 401
    assert response.json()["error"] == "not_logged_in"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_an_agent_gets_403(anonymous: TestClient, path: str) -> None:
    assert login(anonymous, "agent2", "agent2-demo").status_code == 303
    response = anonymous.get(path)
    assert response.status_code == 403
    assert response.json()["error"] == "wrong_role" and response.json()["message_zh"]


@pytest.mark.parametrize("username", ["ops1", "admin"])
def test_ops_and_admin_get_the_metrics(anonymous: TestClient, username: str) -> None:
    assert login(anonymous, username, f"{username}-demo").status_code == 303
    response = anonymous.get("/ops/api/metrics", params=RANGE)
    assert response.status_code == 200
    assert set(response.json()["metrics"]) == set(metrics.METRICS)


# -- filters -------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"from": "2026-13-01"}, {"from": "yesterday"}, {"to": "20261103"}, {"from": TO, "to": FROM},
    {"from": "2020-01-01", "to": TO}, {"tier": "platinum"}, {"segment": "x' OR 1=1"},
])
def test_bad_filters_get_a_polite_400(ops: TestClient, params: dict[str, str]) -> None:
    response = ops.get("/ops/api/metrics", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_filter" and body["message_zh"] and body["message_en"]


def test_default_range_is_the_last_30_days(ops: TestClient) -> None:
    filters = ops.get("/ops/api/metrics").json()["filters"]
    assert filters["to"] == date.today().isoformat()
    assert (date.fromisoformat(filters["to"]) - date.fromisoformat(filters["from"])).days == 29


# -- figures -------------------------------------------------------------------------------------

def test_metrics_equal_the_metric_functions(ops: TestClient, ops_world: World) -> None:
    body = ops.get("/ops/api/metrics", params={**RANGE, "tier": "gold"}).json()
    with _session(ops_world) as session:
        expected = metrics.overview(session, FROM, TO, "gold")
    expected.pop("filters")
    assert body["metrics"] == json.loads(json.dumps(expected))
    assert body["filters"] == {"from": FROM, "to": TO, "tier": "gold", "segment": None}
    assert body["metrics"]["conversations_per_day"]["total"] == 3  # C-a twice, C-d: the gold member's
    assert body["updated_at"]


def test_one_metric_equals_its_function_and_unknown_names_are_404(ops: TestClient, ops_world: World) -> None:
    body = ops.get("/ops/api/metrics/handoffs", params={**RANGE, "segment": "at_risk"}).json()
    with _session(ops_world) as session:
        expected = metrics.handoff_rate(session, FROM, TO, None, "at_risk")
    expected.pop("filters")
    assert body["metric"] == expected and body["metric"]["handoffs"] == 1
    missing = ops.get("/ops/api/metrics/happiness", params=RANGE)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_breakdown_by_tier_has_a_row_per_tier(ops: TestClient, ops_world: World) -> None:
    body = ops.get("/ops/api/breakdown/containment", params={**RANGE, "by": "tier"}).json()
    rows = {row["value"]: row for row in body["rows"]}
    assert list(rows) == ["normal", "silver", "gold", "diamond", "anonymous"]
    with _session(ops_world) as session:
        for tier, row in rows.items():
            expected = metrics.containment_rate(session, FROM, TO, tier)
            expected.pop("filters")
            assert row["metric"] == expected
    assert rows["anonymous"]["metric"]["conversations"] == 1 and rows["gold"]["metric"]["bot"] == 3


def test_breakdown_by_segment_and_a_bad_by(ops: TestClient) -> None:
    body = ops.get("/ops/api/breakdown/csat", params={**RANGE, "by": "segment"}).json()
    rows = {row["value"]: row["metric"] for row in body["rows"]}
    assert rows["at_risk"]["rated"] == 1 and rows["loyal"]["rated"] == 1 and rows["none"]["rated"] == 0
    assert ops.get("/ops/api/breakdown/csat", params={"by": "city"}).status_code == 400


# -- unrecognized messages, transcripts ------------------------------------------------------------

def test_unrecognized_clusters_are_masked(ops: TestClient, ops_world: World) -> None:
    response = ops.get("/ops/api/unrecognized", params={**RANGE, "limit": 5})
    body = response.json()
    with _session(ops_world) as session:
        expected = unrecognized(session, FROM, TO, limit=5)
    assert body["clusters"] == expected["clusters"] and body["fallback_messages"] == 4
    assert sum(c["size"] for c in body["clusters"]) == 4
    assert SECRET_PHONE not in response.text and SECRET_NAME not in response.text
    assert any("139****1111" in example for c in body["clusters"] for example in c["examples"])
    assert ops.get("/ops/api/unrecognized", params={"limit": 0}).status_code == 400


def test_transcript_of_a_negative_conversation_is_masked(ops: TestClient) -> None:
    negative = ops.get("/ops/api/metrics", params=RANGE).json()["metrics"]["ended_negative"]["conversations"]
    key = next(c["conversation_key"] for c in negative if c["sender_id"] == "C-b")
    response = ops.get(f"/ops/api/conversations/{quote(key, safe='')}/transcript")
    assert response.status_code == 200
    body = response.json()
    speakers = [m["speaker"] for m in body["messages"]]
    assert "member" in speakers and "bot" in speakers and "agent" in speakers
    assert SECRET_PHONE not in response.text and SECRET_NAME not in response.text
    assert "DD202611010001" not in response.text


def test_unknown_transcript_is_404(ops: TestClient) -> None:
    response = ops.get(f"/ops/api/conversations/{quote('nobody#1', safe='')}/transcript")
    assert response.status_code == 404 and response.json()["message_en"]


# -- CSV -----------------------------------------------------------------------------------------

def test_csv_export_of_a_daily_series(ops: TestClient) -> None:
    response = ops.get("/ops/api/export.csv", params={"metric": "conversations_per_day", "from": "2026-11-01", "to": TO})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="conversations_per_day-2026-11-01-2026-11-03.csv"'
    assert response.content.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [["day", "conversations", "members", "turns"], ["2026-11-01", "0", "0", "0"],
                    ["2026-11-02", "2", "2", "5"], ["2026-11-03", "4", "2", "10"]]


def test_csv_export_of_a_distribution_and_of_clusters(ops: TestClient) -> None:
    intents = list(csv.reader(io.StringIO(ops.get("/ops/api/export.csv", params={"metric": "intents", **RANGE}).content.decode("utf-8-sig"))))
    assert intents[0] == ["intent", "count", "share"] and intents[1][:2] == ["ask_recommendation", "4"]
    clusters = ops.get("/ops/api/export.csv", params={"metric": "unrecognized", **RANGE})
    assert clusters.status_code == 200 and SECRET_PHONE not in clusters.content.decode("utf-8-sig")
    assert ops.get("/ops/api/export.csv", params={"metric": "nope", **RANGE}).status_code == 404
    assert ops.get("/ops/api/export.csv", params=RANGE).status_code == 400


# -- refresh -------------------------------------------------------------------------------------

def test_refresh_needs_the_csrf_header(ops: TestClient) -> None:
    response = ops.post("/ops/api/refresh")
    assert response.status_code == 403 and response.json()["error"] == "csrf"


def test_refresh_loads_new_events(ops: TestClient, ops_world: World) -> None:
    day = "2026-11-04"
    assert ops.get("/ops/api/metrics/conversations_per_day", params={"from": day, "to": day}).json()["metric"]["total"] == 0
    log = EventLog()
    log.session_start("C-f", at(D2, 24 + 9))
    log.user("C-f", at(D2, 24 + 9, 0, 5), "你好", "greet")
    write_events(Path(ops_world.events_url.removeprefix("sqlite:///")), log)
    response = ops.post("/ops/api/refresh", headers=csrf_headers(ops))
    assert response.status_code == 200
    assert response.json()["summary"]["events_read"] == len(log.rows)
    assert ops.get("/ops/api/metrics/conversations_per_day", params={"from": day, "to": day}).json()["metric"]["total"] == 1


def test_the_overview_is_cached_until_the_pipeline_changes_the_figures(ops: TestClient, ops_world: World) -> None:
    day = {"from": "2026-11-06", "to": "2026-11-06"}
    first = ops.get("/ops/api/metrics", params=day).json()
    assert "unrecognized" not in first  # the clusters are their own call
    assert first["metrics"]["conversations_per_day"]["total"] == 0
    assert ops.get("/ops/api/metrics", params=day).json()["metrics"] == first["metrics"]
    log = EventLog()
    log.session_start("C-h", at(D2, 72 + 9))
    log.user("C-h", at(D2, 72 + 9, 0, 5), "优惠券在哪里领取啊", "nlu_fallback")
    log.action("C-h", at(D2, 72 + 9, 0, 6), "utter_default")
    write_events(Path(ops_world.events_url.removeprefix("sqlite:///")), log)
    assert ops.post("/ops/api/refresh", headers=csrf_headers(ops)).status_code == 200
    after = ops.get("/ops/api/metrics", params=day).json()["metrics"]
    assert after["conversations_per_day"]["total"] == 1 and after["fallbacks"]["fallback_turns"] == 1
    clusters = ops.get("/ops/api/unrecognized", params=day).json()  # fitted by the runner after the run
    assert clusters["fallback_messages"] == 1 and clusters["clusters"][0]["examples"] == ["优惠券在哪里领取啊"]


def test_the_ops_endpoints_are_in_the_openapi_spec(anonymous: TestClient) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    for path in ("/ops/api/metrics", "/ops/api/metrics/{name}", "/ops/api/breakdown/{name}", "/ops/api/unrecognized",
                 "/ops/api/conversations/{key}/transcript", "/ops/api/export.csv", "/ops/api/refresh"):
        assert path in paths, path


# -- the background runner -------------------------------------------------------------------------

def _wait_for(predicate, seconds: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_background_runner_loads_new_events(app_settings: Settings, ops_world: World) -> None:
    day = "2026-11-05"
    with TestClient(create_app(replace(app_settings, analytics_interval_s=0.2), rasa_url="http://127.0.0.1:9", rasa_token="t")) as client:
        assert login(client, "ops1", "ops1-demo").status_code == 303
        log = EventLog()
        log.session_start("C-g", at(D2, 48 + 9))
        log.user("C-g", at(D2, 48 + 9, 0, 5), "你好", "greet")
        write_events(Path(ops_world.events_url.removeprefix("sqlite:///")), log)

        def loaded() -> bool:
            metric = client.get("/ops/api/metrics/conversations_per_day", params={"from": day, "to": day}).json()["metric"]
            return metric["total"] == 1

        assert _wait_for(loaded)


def test_a_missing_events_database_does_not_take_the_app_down(app_settings: Settings, tmp_path: Path) -> None:
    settings = replace(app_settings, analytics_interval_s=0.1, rasa_events_db=str(tmp_path / "missing.db"))
    app = create_app(settings, rasa_url="http://127.0.0.1:9", rasa_token="t")
    with TestClient(app) as client:
        assert _wait_for(lambda: app.state.analytics_runner.status()["last_error"] is not None)
        assert "not found" in app.state.analytics_runner.status()["last_error"]
        assert client.get("/healthz").status_code == 200
        assert login(client, "ops1", "ops1-demo").status_code == 303
        response = client.post("/ops/api/refresh", headers=csrf_headers(client))
        assert response.status_code == 503 and response.json()["message_zh"]
        assert client.get("/ops/api/metrics", params=RANGE).status_code == 200  # the tables answer meanwhile
    assert not app.state.analytics_runner.status()["running"]


def test_the_interval_comes_from_the_environment() -> None:
    assert Settings.from_env({"ANALYTICS_INTERVAL_S": "0"}).analytics_interval_s == 0
    assert Settings.from_env({"ANALYTICS_INTERVAL_S": "2.5"}).analytics_interval_s == 2.5
    assert Settings.from_env({}).analytics_interval_s == 15
