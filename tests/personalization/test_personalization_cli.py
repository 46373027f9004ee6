"""``python -m personalization``: JSON on stdout, JSON errors with exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from personalization.services import recommendations

from .conftest import NOW

REPO_ROOT = Path(__file__).resolve().parents[2]
AT_NOW = ["--now", NOW.isoformat()]


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "personalization", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ok(database_url: str, *args: str) -> Any:
    done = _cli(database_url, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_members_command_lists_members(seeded_db) -> None:  # type: ignore[no-untyped-def]
    listed = _ok(seeded_db.url, "members", "--limit", "3", *AT_NOW)
    assert [m["member_id"] for m in listed] == ["M100001", "M100002", "M100003"]
    assert set(listed[0]) == {
        "member_id",
        "name",
        "tier",
        "lifecycle",
        "orders_count",
        "preferred_language",
        "consent_personalization",
    }


def test_profile_command_prints_the_profile(seeded_db, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    profile = _ok(seeded_db.url, "profile", active_member_id, *AT_NOW)
    assert set(profile) >= {
        "member_id",
        "name",
        "masked_phone",
        "gender",
        "city",
        "registered_at",
        "preferred_language",
        "consent_personalization",
        "tier",
        "growth_value",
        "points",
        "top_categories",
        "lifecycle",
        "orders_count",
    }
    assert profile["member_id"] == active_member_id and profile["tier"]["code"] == "gold"


def test_recommend_command_gives_what_the_service_gives(seeded_db, session, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    printed = _ok(seeded_db.url, "recommend", active_member_id, "-k", "5", *AT_NOW)
    assert printed == recommendations.recommend_for_member(session=session, member_id=active_member_id, k=5, now=NOW)
    assert len(printed) == 5


def test_recommend_command_with_category(seeded_db, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    printed = _ok(seeded_db.url, "recommend", active_member_id, "-k", "4", "--category", "sports", *AT_NOW)
    assert len(printed) == 4 and {r["category"] for r in printed} == {"sports"}


def test_coupons_command_lists_usable_coupons(seeded_db, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    printed = _ok(seeded_db.url, "coupons", active_member_id, *AT_NOW)
    assert printed and {"code", "summary_zh", "summary_en", "valid_until"} <= set(printed[0])


def test_orders_command_lists_latest_orders(seeded_db, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    printed = _ok(seeded_db.url, "orders", active_member_id, "--limit", "2")
    assert len(printed) == 2 and printed[0]["created_at"] >= printed[1]["created_at"]
    assert {"order_id", "status", "status_zh", "items", "timeline", "latest_event"} <= set(printed[0])
    one = _ok(seeded_db.url, "orders", active_member_id, "--order", printed[0]["order_id"].lower())
    assert one == printed[0]


def test_orders_command_will_not_show_another_members_order(seeded_db, segments, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    other = segments[("normal", "active")][0]
    order_id = _ok(seeded_db.url, "orders", other, "--limit", "1")[0]["order_id"]
    done = _cli(seeded_db.url, "orders", active_member_id, "--order", order_id)
    assert done.returncode == 2 and json.loads(done.stderr)["error"] == "order not found"
    assert order_id not in done.stdout


def test_tiers_command_lists_four_tiers_and_a_members_status(seeded_db, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    assert [t["code"] for t in _ok(seeded_db.url, "tiers")] == ["normal", "silver", "gold", "diamond"]
    status = _ok(seeded_db.url, "tiers", active_member_id)
    assert status["tier"]["code"] == "gold" and status["next_tier"]["code"] == "diamond"


def test_points_command_matches_profile_points(seeded_db, active_member_id: str) -> None:  # type: ignore[no-untyped-def]
    summary = _ok(seeded_db.url, "points", active_member_id, *AT_NOW)
    assert summary["balance"] == _ok(seeded_db.url, "profile", active_member_id, *AT_NOW)["points"]


@pytest.mark.parametrize(
    "args",
    [
        ["profile", "abc"],
        ["profile", ""],
        ["profile", "M999999"],
        ["coupons", "abc"],
        ["orders", ""],
        ["recommend", "M100001", "-k", "-1"],
        ["recommend", "M100001", "-k", "0"],
        ["recommend", "M100001", "-k", "51"],
        ["recommend", "M100001", "-k", "abc"],
        ["recommend", "M100001", "--now", "yesterday"],
        ["members", "--limit", "-5"],
        ["profile"],
        ["no-such-command"],
    ],
)
def test_bad_input_is_a_json_error_with_exit_code_2(seeded_db, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    done = _cli(seeded_db.url, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert json.loads(done.stderr)["error"]


def test_unknown_member_error_names_the_member(seeded_db) -> None:  # type: ignore[no-untyped-def]
    done = _cli(seeded_db.url, "recommend", "M999999", "-k", "3")
    assert json.loads(done.stderr) == {"error": "member not found", "member_id": "M999999"}


def test_query_on_an_empty_database_is_a_json_error(tmp_path: Path) -> None:
    done = _cli(f"sqlite:///{tmp_path / 'empty.db'}", "profile", "M100001")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "seed" in json.loads(done.stderr)["error"]


def test_seed_command_builds_a_database_and_prints_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    printed = _ok(url, "seed", "--members", "20", "--orders", "150", "--as-of", "2026-10-15", "--seed", "3", "--quiet")
    assert printed["as_of"] == "2026-10-15" and printed["seed"] == 3
    assert printed["counts"]["members"] == 20 and printed["counts"]["orders"] == 150
    assert len(_ok(url, "members", "--limit", "50")) == 20


def test_seed_command_rejects_fewer_orders_than_members(tmp_path: Path) -> None:
    done = _cli(f"sqlite:///{tmp_path / 'x.db'}", "seed", "--members", "20", "--orders", "5", "--quiet")
    assert done.returncode == 2 and "orders" in json.loads(done.stderr)["error"]
