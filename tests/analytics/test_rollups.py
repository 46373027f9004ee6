"""The per-day rollup (analytics_daily): its figures equal the ones counted straight from the
conversation and turn tables, for random traffic and random filters; backfill; cache generation."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from personalization.analytics import metrics, rollups
from personalization.analytics.models import AnalyticsConversation as AC
from personalization.analytics.models import AnalyticsDaily, AnalyticsRollupState
from personalization.analytics.models import AnalyticsTurn as AT
from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from personalization.models import Coupon
from tests.analytics.builders import (
    AppDb,
    EventLog,
    add_coupon,
    add_csat,
    add_handoff,
    app_db,
    product_cards,
    write_events,
)

FIRST_DAY = datetime(2026, 11, 1)
DAYS = 6
TIERS = ("normal", "silver", "gold", "diamond")
MEMBERS = ("M100001", "M100002", None)  # loyal, at_risk, anonymous
INTENTS = ("greet", "ask_recommendation", "ask_coupons", "check_order_status", "complain", "thank", "nlu_fallback", "goodbye")
SENTIMENTS = (("neutral", "neutral"), ("negative", "anger"), ("negative", "anxiety"), ("positive", "joy"), (None, None))
REASONS = ("member_request", "negative_emotion", "complaint")


@dataclass
class RandomWorld:
    app: AppDb
    events_url: str
    log: EventLog


def random_world(folder: Path, seed: int, conversations: int = 60) -> RandomWorld:
    """Random conversations over :data:`DAYS` days (some past midnight), with handoffs, CSAT and coupons."""
    rng = random.Random(seed)
    app = app_db(folder / "shop.db")
    log = EventLog()
    starts = sorted(
        FIRST_DAY + timedelta(days=rng.randrange(DAYS), hours=rng.choice((9, 13, 20, 23)), minutes=rng.randrange(60))
        for _ in range(conversations)
    )
    coupon_no = 0
    with app.factory() as session:
        for number, start in enumerate(starts):
            sender = f"R-{number % 40}"  # some senders come back: several sessions per sender
            member = rng.choice(MEMBERS)
            log.session_start(sender, start, member=member, name="张伟" if member else "", tier=rng.choice(TIERS) if member else "")
            at = start
            for _ in range(rng.randint(1, 5)):
                at += timedelta(minutes=rng.randint(1, 9))
                intent = rng.choice(INTENTS)
                polarity, emotion = rng.choice(SENTIMENTS)
                log.user(sender, at, f"消息{rng.randrange(6)}", intent, member=member,
                         polarity=polarity or "neutral", emotion=emotion or "neutral")
                if polarity is None:  # a message the sentiment tagger did not label
                    del log.rows[-2][1]["parse_data"]["sentiment"]
                roll = rng.random()
                if roll < 0.15:
                    log.action(sender, at, "utter_default")
                elif roll < 0.35:
                    log.bot(sender, at, "为您精选", product_cards("SKU1"))
                elif roll < 0.45:
                    log.bot(sender, at, "可以领这些券", {"type": "coupon_offers", "items": [{"template_id": "T10"}]})
                elif roll < 0.55 and member:
                    coupon_no += 1
                    code = f"RC{coupon_no:04d}"
                    log.bot(sender, at, "领取成功", {"type": "coupon_claim", "status": "claimed", "coupon": {"code": code}})
                    add_coupon(session, code, member, used=rng.random() < 0.5)
                elif roll < 0.62:
                    log.action(sender, at, "action_handoff_to_human")
                    reason = rng.choice(REASONS)
                    claimed = at + timedelta(minutes=1) if rng.random() < 0.6 else None
                    request = add_handoff(session, sender, member, at + timedelta(seconds=1), reason=reason,
                                          tier=None, claimed=claimed, resolved=claimed + timedelta(minutes=5) if claimed else None)
                    log.bot(sender, at, "转人工", {"type": "handoff", "handoff_id": request.id, "reason": reason})
            if rng.random() < 0.3:
                add_csat(session, sender, rng.randint(1, 5), at + timedelta(seconds=30), member_id=member)
        session.commit()
    return RandomWorld(app=app, events_url=write_events(folder / "events.db", log), log=log)


def random_filters(rng: random.Random, n: int) -> list[tuple[date, date, str | None, str | None]]:
    found = []
    for _ in range(n):
        start = (FIRST_DAY + timedelta(days=rng.randrange(-1, DAYS))).date()
        end = start + timedelta(days=rng.randrange(0, 4))
        found.append((start, end, rng.choice((None, None, *TIERS, "anonymous")), rng.choice((None, None, "loyal", "at_risk", "none"))))
    return found


# -- the figures counted straight from the tables (an independent implementation) -------------------

def _selected(session: Session, start: date, end: date, tier: str | None, segment: str | None) -> list[AC]:
    def keep(c: AC) -> bool:
        if not start <= c.started_day <= end:
            return False
        if tier and (c.tier is not None if tier == "anonymous" else c.tier != tier):
            return False
        if segment and (c.segment is not None if segment == "none" else c.segment != segment):
            return False
        return True

    return [c for c in session.scalars(select(AC)) if keep(c)]


def expected_figures(session: Session, start: date, end: date, tier: str | None, segment: str | None) -> dict[str, Any]:
    convs = _selected(session, start, end, tier, segment)
    ids = {c.id for c in convs}
    turns = [t for t in session.scalars(select(AT)) if t.conversation_id in ids]
    in_range = lambda day: start <= day <= end  # noqa: E731
    by_day: dict[date, list[AC]] = {}
    for c in convs:
        by_day.setdefault(c.started_day, []).append(c)
    codes = [code for c in convs if c.coupons_claimed > 0 for code in c.claimed_codes]
    used = {code for (code,) in session.execute(select(Coupon.code).where(Coupon.status == "used"))}
    labelled = [t for t in turns if t.polarity is not None]
    rank = {"negative": 0, "neutral": 1, "positive": 2}
    changes = [(c.first_polarity, c.last_polarity) for c in convs if c.first_polarity in rank and c.last_polarity in rank]
    return {
        "per_day": {d.isoformat(): (len(cs), len({c.member_id for c in cs if c.member_id}), sum(c.turns for c in cs))
                    for d, cs in by_day.items()},
        "resolved": Counter(c.resolved_by for c in convs),
        "reasons": Counter(c.handoff_reason or "unknown" for c in convs if c.handoff_requested),
        "fallbacks": (sum(c.turns for c in convs), sum(c.fallbacks for c in convs), sum(1 for c in convs if c.fallbacks > 0)),
        "intents": Counter(t.intent or "unknown" for t in turns),
        "intents_by_day": Counter((t.day.isoformat(), t.intent or "unknown") for t in turns if in_range(t.day)),
        "polarity": Counter(t.polarity for t in labelled),
        "emotion": Counter(t.emotion or "neutral" for t in labelled),
        "negative_by_day": Counter(t.day.isoformat() for t in labelled if t.polarity == "negative" and in_range(t.day)),
        "changes": Counter(changes),
        "ended_negative": sum(1 for c in convs if c.last_polarity == "negative"),
        "negative_list": [c.conversation_key for c in sorted((c for c in convs if c.last_polarity == "negative"),
                                                             key=lambda c: (c.ended_at, c.id), reverse=True)],
        "csat": Counter((c.resolved_by, c.csat) for c in convs if c.csat is not None),
        "recs": (sum(1 for c in convs if c.rec_shown > 0), sum(1 for c in convs if c.rec_shown > 0 and c.rec_engaged),
                 sum(c.rec_shown for c in convs if c.rec_shown > 0)),
        "coupons": (sum(1 for c in convs if c.coupon_offers_shown > 0),
                    sum(1 for c in convs if c.coupon_offers_shown > 0 and c.coupons_claimed > 0),
                    sum(c.coupons_claimed for c in convs if c.coupons_claimed > 0), len(codes),
                    sum(1 for code in codes if code in used)),
    }


def figures_from_metrics(session: Session, start: date, end: date, tier: str | None, segment: str | None) -> dict[str, Any]:
    o = metrics.overview(session, start, end, tier, segment)
    days = o["conversations_per_day"]["days"]
    fb, rec, cp = o["fallbacks"], o["recommendations"], o["coupons"]
    csat = Counter()
    for by, group in o["csat"]["by_resolved_by"].items():
        if group["rated"]:
            csat[by] = group["rated"]
    return {
        "per_day": {d["day"]: (d["conversations"], d["members"], d["turns"]) for d in days if d["conversations"]},
        "resolved": Counter({k: o["containment"][k] for k in ("bot", "human", "unresolved") if o["containment"][k]}),
        "reasons": Counter({r["reason"]: r["count"] for r in o["handoffs"]["reasons"]}),
        "fallbacks": (fb["turns"], fb["fallback_turns"], fb["conversations_with_fallback"]),
        "intents": Counter({r["intent"]: r["count"] for r in o["intents"]["intents"]}),
        "intents_by_day": Counter({(d["day"], k): n for d in o["intents"]["trend"] for k, n in d["counts"].items()}),
        "polarity": +Counter(o["sentiment"]["polarity"]),
        "emotion": +Counter(o["sentiment"]["emotion"]),
        "negative_by_day": Counter({d["day"]: d["polarity"]["negative"] for d in o["sentiment"]["trend"] if d["polarity"].get("negative")}),
        "changes": Counter({(f, l): n for f, row in o["sentiment_change"]["matrix"].items() for l, n in row.items() if n}),
        "ended_negative": o["ended_negative"]["count"],
        "negative_list": [c["conversation_key"] for c in o["ended_negative"]["conversations"]],
        "csat_rated": csat,
        "recs": (rec["conversations_with_recommendations"], rec["engaged"], rec["card_replies"]),
        "coupons": (cp["conversations_offered"], cp["conversations_offered_and_claimed"], cp["claims"], cp["claimed_codes_known"],
                    cp["redeemed"]),
    }


def compare(session: Session, f: tuple[date, date, str | None, str | None]) -> None:
    expected = expected_figures(session, *f)
    got = figures_from_metrics(session, *f)
    csat_expected = expected.pop("csat")
    assert got.pop("csat_rated") == _sum_by(csat_expected), f
    for key, value in expected.items():
        assert got[key] == value, (key, f)
    newest = metrics.ended_negative(session, *f, limit=3)["conversations"]
    assert [c["conversation_key"] for c in newest] == expected["negative_list"][:3], f
    csat = metrics.csat_summary(session, *f)
    assert {s: n for s, n in csat["distribution"].items() if n} == {str(s): n for s, n in _sum_scores(csat_expected).items()}, f


def _sum_by(counts: Counter[tuple[str, int]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (by, _), n in counts.items():
        out[by] += n
    return out


def _sum_scores(counts: Counter[tuple[str, int]]) -> Counter[int]:
    out: Counter[int] = Counter()
    for (_, score), n in counts.items():
        out[score] += n
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RandomWorld]:
    world = random_world(tmp_path_factory.mktemp("rollup"), seed=7)
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=7)  # many small transactions
    yield world
    world.app.engine.dispose()


def test_the_random_world_has_what_the_comparison_needs(loaded: RandomWorld) -> None:
    with loaded.app.factory() as session:
        convs = list(session.scalars(select(AC)))
        assert {c.resolved_by for c in convs} == {"bot", "human", "unresolved"}
        assert any(c.csat for c in convs) and any(c.coupons_claimed for c in convs) and any(c.tier is None for c in convs)
        assert session.scalar(select(func.count()).select_from(AT).join(AC).where(AT.day != AC.started_day)), "no turn past midnight"


def test_rollup_figures_equal_the_figures_counted_from_the_tables(loaded: RandomWorld) -> None:
    rng = random.Random(11)
    with loaded.app.factory() as session:
        for f in random_filters(rng, 40):
            compare(session, f)


def test_the_comparison_notices_a_wrong_rollup(loaded: RandomWorld) -> None:
    """The check above can fail: one conversation counted twice in the rollup is caught."""
    with loaded.app.factory() as session:
        row = session.scalars(select(AnalyticsDaily).order_by(AnalyticsDaily.id)).first()
        assert row is not None
        row.counts = {**row.counts, "turns": row.counts.get("turns", 0) + 1}
        row.conversations += 1
        rollups._bump(session)
        day = row.day
        with pytest.raises(AssertionError):
            compare(session, (day, day, None, None))
        session.rollback()


def test_a_rollup_kept_up_over_many_runs_equals_one_built_from_scratch(tmp_path: Path) -> None:
    world = random_world(tmp_path, seed=3, conversations=30)
    rows = world.log.rows
    url = write_events(tmp_path / "events2.db", EventLog(rows=rows[: len(rows) // 3]))
    run_pipeline(world.app.factory, SqlEventSource(url), batch=5)
    write_events(tmp_path / "events2.db", EventLog(rows=rows[len(rows) // 3 :]))
    run_pipeline(world.app.factory, SqlEventSource(url), batch=11)
    kept_up = rollup_rows(world.app.factory)
    with world.app.factory() as session:
        session.execute(delete(AnalyticsRollupState))
        assert rollups.ensure_rollup(session) is True
        session.commit()
    assert kept_up and rollup_rows(world.app.factory) == kept_up
    # And the same as one run over all events at once: batch boundaries (e.g. between a session's
    # start and its member_tier slot) change nothing.
    (tmp_path / "single").mkdir()
    single = random_world(tmp_path / "single", seed=3, conversations=30)
    run_pipeline(single.app.factory, SqlEventSource(write_events(tmp_path / "events3.db", EventLog(rows=rows))), batch=100_000)
    assert rollup_rows(single.app.factory) == kept_up


def rollup_rows(factory: Any) -> dict[tuple[Any, ...], Any]:
    with factory() as session:
        return {
            (r.day, r.tier, r.segment): (r.conversations, r.counts, r.turn_counts, sorted(r.coupon_codes))
            for r in session.scalars(select(AnalyticsDaily))
        }


def test_a_database_from_before_the_rollup_is_backfilled_by_the_next_run(tmp_path: Path) -> None:
    world = random_world(tmp_path, seed=5, conversations=25)
    first = run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    built = rollup_rows(world.app.factory)
    assert built and first["rollup_rebuilt"] is True  # an empty database: built (empty) before the first batch
    with world.app.factory() as session:  # as an existing var/shop.db: conversations, no rollup yet
        session.execute(delete(AnalyticsDaily))
        session.execute(delete(AnalyticsRollupState))
        session.commit()
    again = run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    assert again["rollup_rebuilt"] is True and again["events_read"] == 0
    assert rollup_rows(world.app.factory) == built
    assert run_pipeline(world.app.factory, SqlEventSource(world.events_url))["rollup_rebuilt"] is False


def test_reading_metrics_builds_a_missing_rollup(tmp_path: Path) -> None:
    world = random_world(tmp_path, seed=5, conversations=25)
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    with world.app.factory() as session:
        expected = metrics.overview(session, "2026-11-01", "2026-11-06")
        session.execute(delete(AnalyticsDaily))
        session.execute(delete(AnalyticsRollupState))
        session.commit()
    with world.app.factory() as session:
        assert metrics.overview(session, "2026-11-01", "2026-11-06") == expected


def test_the_generation_moves_only_when_the_rollup_changes(tmp_path: Path) -> None:
    world = random_world(tmp_path, seed=9, conversations=20)
    rows = world.log.rows
    url = write_events(tmp_path / "events2.db", EventLog(rows=rows[: len(rows) // 2]))
    run_pipeline(world.app.factory, SqlEventSource(url))
    with world.app.factory() as session:
        before = rollups.generation(session)
    run_pipeline(world.app.factory, SqlEventSource(url))  # nothing new
    with world.app.factory() as session:
        assert rollups.generation(session) == before
    write_events(tmp_path / "events2.db", EventLog(rows=rows[len(rows) // 2 :]))
    run_pipeline(world.app.factory, SqlEventSource(url))
    with world.app.factory() as session:
        assert rollups.generation(session) > before
