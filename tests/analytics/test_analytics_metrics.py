"""Metrics on the hand-built world of conftest.py, whose answers are known."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy.orm import Session

from personalization.analytics import metrics
from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from tests.analytics.conftest import World

D1, D2 = "2026-11-02", "2026-11-03"


@pytest.fixture()
def session(world: World) -> Iterator[Session]:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=5)
    with world.app.factory() as s:
        yield s


def test_conversations_per_day_fill_every_day_of_the_range(session: Session) -> None:
    result = metrics.conversations_per_day(session, "2026-11-01", D2)
    assert result["days"] == [
        {"day": "2026-11-01", "conversations": 0, "members": 0, "turns": 0},
        {"day": D1, "conversations": 2, "members": 2, "turns": 5},
        {"day": D2, "conversations": 3, "members": 1, "turns": 8},
    ]
    assert result["total"] == 5


def test_containment_counts_bot_human_and_unresolved(session: Session) -> None:
    result = metrics.containment_rate(session, D1, D2)
    assert (result["bot"], result["human"], result["unresolved"]) == (3, 1, 1)
    assert result["containment_rate"] == 0.6


def test_handoff_rate_and_reasons(session: Session) -> None:
    result = metrics.handoff_rate(session, D1, D2)
    assert (result["handoffs"], result["handoff_rate"]) == (1, 0.2)
    assert result["reasons"] == [{"reason": "member_request", "count": 1, "share": 1.0}]


def test_fallback_rate(session: Session) -> None:
    result = metrics.fallback_rate(session, D1, D2)
    assert (result["turns"], result["fallback_turns"], result["conversations_with_fallback"]) == (13, 2, 1)
    assert result["fallback_rate"] == round(2 / 13, 4)


def test_intent_distribution_and_trend(session: Session) -> None:
    result = metrics.intent_distribution(session, D1, D2)
    assert result["total"] == 13
    assert result["intents"][:2] == [
        {"intent": "ask_recommendation", "count": 4, "share": round(4 / 13, 4)},
        {"intent": "ask_coupons", "count": 3, "share": round(3 / 13, 4)},
    ]
    assert result["trend"][0]["counts"] == {"ask_recommendation": 2, "thank": 1, "check_order_status": 1, "request_human": 1}


def test_sentiment_distribution_and_trend(session: Session) -> None:
    result = metrics.sentiment_distribution(session, D1, D2)
    assert result["polarity"] == {"negative": 2, "neutral": 8, "positive": 3}
    assert result["emotion"]["anger"] == 1 and result["emotion"]["anxiety"] == 1 and result["emotion"]["joy"] == 3
    assert [day["negative_share"] for day in result["trend"]] == [0.4, 0.0]


def test_first_to_last_sentiment_matrix(session: Session) -> None:
    result = metrics.sentiment_change(session, D1, D2)
    assert result["matrix"]["neutral"]["positive"] == 2
    assert result["matrix"]["negative"]["negative"] == 1
    assert result["matrix"]["neutral"]["neutral"] == 2
    assert (result["improved"], result["worsened"], result["unchanged"]) == (2, 0, 3)


def test_ended_negative_lists_the_conversation_with_its_masked_last_message(session: Session) -> None:
    result = metrics.ended_negative(session, D1, D2)
    assert result["count"] == 1
    (item,) = result["conversations"]
    assert item["sender_id"] == "C-b" and item["resolved_by"] == "human" and item["last_emotion"] == "anger"
    assert item["last_text_masked"] == "太慢了！我是李* 139****1111 转人工"


def test_csat_bot_versus_human(session: Session) -> None:
    result = metrics.csat_summary(session, D1, D2)
    assert (result["rated"], result["mean"]) == (2, 4.0)
    assert result["by_resolved_by"]["human"] == {"rated": 1, "mean": 5.0}
    assert result["by_resolved_by"]["bot"] == {"rated": 1, "mean": 3.0}
    assert result["distribution"]["5"] == 1 and result["distribution"]["3"] == 1


def test_agent_claim_first_response_and_resolution_times(session: Session) -> None:
    result = metrics.agent_times(session, D1, D2)
    assert (result["handoffs"], result["claimed"], result["resolved"]) == (1, 1, 1)
    assert result["wait_to_claim_s"]["p50"] == 60.0
    assert result["first_response_s"]["p50"] == 90.0
    assert result["resolution_s"]["p50"] == 600.0
    assert result["by_agent"][0]["agent_name"] == "小王" and result["by_agent"][0]["handoffs"] == 1
    assert metrics.agent_times(session, D2, D2)["handoffs"] == 0


def test_recommendation_click_through(session: Session) -> None:
    result = metrics.recommendation_click_through(session, D1, D2)
    assert (result["conversations_with_recommendations"], result["engaged"], result["card_replies"]) == (3, 2, 4)
    assert result["click_through_rate"] == round(2 / 3, 4)


def test_coupon_claim_and_redemption_rates(session: Session) -> None:
    result = metrics.coupon_rates(session, D1, D2)
    assert (result["conversations_offered"], result["claim_rate"], result["claims"]) == (1, 1.0, 2)
    assert (result["redeemed"], result["redemption_rate"]) == (1, 0.5)


@pytest.mark.parametrize(
    ("tier", "segment", "expected"),
    [("gold", None, 3), ("normal", None, 1), ("anonymous", None, 1), (None, "at_risk", 1), (None, "loyal", 3), (None, "none", 1),
     ("gold", "at_risk", 0)],
)
def test_tier_and_segment_filters(session: Session, tier: str | None, segment: str | None, expected: int) -> None:
    assert metrics.conversations_per_day(session, D1, D2, tier=tier, segment=segment)["total"] == expected


def test_tier_filter_changes_the_figures(session: Session) -> None:
    assert metrics.containment_rate(session, D1, D2, tier="gold")["containment_rate"] == 1.0
    assert metrics.fallback_rate(session, D1, D2, tier="anonymous")["fallback_rate"] == 1.0
    assert metrics.agent_times(session, D1, D2, tier="gold")["handoffs"] == 0
    assert metrics.agent_times(session, D1, D2, segment="at_risk")["handoffs"] == 1


def test_overview_is_json_ready(session: Session) -> None:
    result = metrics.overview(session, date(2026, 11, 2), date(2026, 11, 3))
    assert set(result) == {"filters", *metrics.METRICS}
    json.dumps(result, ensure_ascii=False)


@pytest.mark.parametrize(
    ("date_from", "date_to", "message"),
    [("2026-11-05", "2026-11-01", "before"), ("yesterday", "2026-11-01", "not a date"), ("2020-01-01", "2026-11-01", "longer")],
)
def test_bad_date_ranges_are_clear_errors(session: Session, date_from: str, date_to: str, message: str) -> None:
    with pytest.raises(metrics.MetricsError, match=message):
        metrics.containment_rate(session, date_from, date_to)


def test_pipeline_and_metrics_give_the_same_answers_on_postgresql(world: World, tmp_path) -> None:
    """The same world with the app database on PostgreSQL (skipped where no server can start)."""
    from tests.analytics.conftest import build_world
    from tests.pg import PostgresUnavailable, running_postgres

    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=5)
    with world.app.factory() as s:
        expected = metrics.overview(s, D1, D2)
        expected_gold = metrics.overview(s, D1, D2, tier="gold", segment="loyal")
    try:
        with running_postgres() as url:
            (tmp_path / "pg").mkdir()
            pg_world = build_world(tmp_path / "pg", app_url=url)
            try:
                run_pipeline(pg_world.app.factory, SqlEventSource(pg_world.events_url), batch=5)
                again = run_pipeline(pg_world.app.factory, SqlEventSource(pg_world.events_url), batch=5)
                with pg_world.app.factory() as s:
                    assert metrics.overview(s, D1, D2) == expected
                    assert metrics.overview(s, D1, D2, tier="gold", segment="loyal") == expected_gold
                assert again["events_read"] == 0
            finally:
                pg_world.app.engine.dispose()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
