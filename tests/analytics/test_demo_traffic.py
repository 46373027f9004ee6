"""Demo-traffic scripts (bench/demo_scripts.py): deterministic, with the intended mix of kinds.

Only the script generation is tested here; playing them needs the real stack (run
``make demo-traffic`` or ``python -m bench.demo_traffic --start-stack --conversations 60``).
"""

from __future__ import annotations

import json

import pytest

from bench.demo_scripts import HANDOFF_SCENARIOS, SCENARIOS, Step, assign_members, build_plan, plan_mix
from bench.demo_traffic import _button, main

N = 2000


@pytest.fixture(scope="module")
def plans():
    return build_plan(N, seed=7)


def test_same_seed_gives_the_same_scripts_and_another_seed_others(plans) -> None:
    assert build_plan(N, seed=7) == plans
    other = build_plan(N, seed=8)
    assert sum(a.steps != b.steps for a, b in zip(plans, other)) > N * 0.9


def test_a_longer_plan_extends_a_shorter_one(plans) -> None:
    assert build_plan(50, seed=7) == plans[:50]


def test_scenarios_come_in_roughly_their_weights(plans) -> None:
    scenarios = plan_mix(plans)["scenarios"]
    assert set(scenarios) == set(SCENARIOS)
    for name, weight in SCENARIOS.items():
        assert abs(scenarios[name] / N - weight / 100) < 0.025, name
    handoff_share = sum(scenarios[s] for s in HANDOFF_SCENARIOS) / N
    assert 0.07 <= handoff_share <= 0.13


def test_members_languages_and_moods_are_mixed(plans) -> None:
    mix = plan_mix(plans)
    assert 0.12 <= mix["anonymous_share"] <= 0.18
    assert 0.12 <= mix["english_share"] <= 0.18
    tags = mix["tags"]
    assert {"angry", "anxious", "joyful", "negative", "gibberish", "unrecognized"} <= set(tags)
    assert 0.04 <= tags["gibberish"] / N <= 0.06


def test_english_scripts_are_written_in_english_and_chinese_ones_in_chinese(plans) -> None:
    def has_cjk(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    for plan in plans[:300]:
        texts = [s.text for s in plan.steps if s.text and plan.scenario != "gibberish"]
        if plan.language == "en":
            assert not any(has_cjk(t) for t in texts), plan
        elif texts:
            assert any(has_cjk(t) for t in texts), plan


def test_gibberish_scripts_send_two_content_free_messages(plans) -> None:
    for plan in (p for p in plans if p.scenario == "gibberish"):
        typed = [s.text for s in plan.steps if s.text]
        assert len(typed) >= 2
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in "".join(typed[-2:]))


def test_button_presses_cover_claims_paging_ratings_and_declines(plans) -> None:
    presses = plan_mix(plans)["button_presses"]
    assert {"claim", "more", "rate", "decline"} <= set(presses)
    assert all(1 <= s.score <= 5 for p in plans for s in p.steps if s.click == "rate")
    # Visitors have no coupons of their own: they never try a 领取 button.
    assert not any(p.anonymous and p.clicks["claim"] for p in plans)


def test_handoff_plans_mostly_rate_the_agent_1_to_5(plans) -> None:
    rated = [p.handoff.csat for p in plans if p.handoff.csat is not None]
    assert set(rated) == {1, 2, 3, 4, 5}
    assert 0.75 <= len(rated) / N <= 0.95
    cancels = sum(p.handoff.cancel for p in plans) / N
    assert 0.07 <= cancels <= 0.17
    assert all(len(p.handoff.member_texts) == len(p.handoff.agent_texts) >= 1 for p in plans)


def test_members_without_an_open_conversation_are_used_first_and_visitors_get_none(plans) -> None:
    fresh = [f"M{100000 + i}" for i in range(3000)]
    busy = ["M900001", "M900002"]
    assigned = assign_members(plans, fresh, busy, seed=7)
    assert assigned == assign_members(plans, list(reversed(fresh)), busy, seed=7)
    members = [assigned[p.index] for p in plans if not p.anonymous]
    assert all(assigned[p.index] is None for p in plans if p.anonymous)
    assert len(set(members)) == len(members) and set(members) <= set(fresh)
    few = assign_members(plans[:40], ["M1", "M2"], ["M3"], seed=7)
    assert {m for m in few.values() if m} == {"M1", "M2", "M3"}
    with pytest.raises(ValueError):
        assign_members(plans[:40], [], [], seed=7)


def test_a_press_takes_the_button_the_bot_showed() -> None:
    offers = {"sender": "bot", "payload": {"type": "coupon_offers", "buttons": [
        {"title": "领取 满100减10", "payload": '/ask_coupons{"coupon_template": "T1"}'},
        {"title": "领取 9折", "payload": '/ask_coupons{"coupon_template": "T2"}'}]}}
    rating = {"sender": "bot", "payload": {"buttons": [
        {"title": f"{n}分", "payload": f'/rate_service{{"csat_score": "{n}"}}'} for n in (5, 4, 3, 2, 1)]}}
    assert _button([offers], Step(click="claim", choice=3))["payload"].endswith('"T2"}')
    assert _button([rating], Step(click="rate", score=2))["title"] == "2分"
    assert _button([offers], Step(click="more")) is None
    assert _button([rating], Step(click="decline")) is None


def test_dry_run_prints_the_mix_and_bad_options_are_refused(capsys) -> None:
    assert main(["--dry-run", "--conversations", "30", "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["conversations"] == 30
    with pytest.raises(SystemExit) as exc:
        main(["--conversations", "0"])
    assert exc.value.code == 2
    assert "must be 1..100000" in capsys.readouterr().err


def test_without_a_running_web_app_it_says_how_to_start_one(capsys) -> None:
    assert main(["--conversations", "1", "--web-url", "http://127.0.0.1:9", "--no-analytics"]) == 2
    err = capsys.readouterr().err
    assert "make run" in err and "--start-stack" in err
