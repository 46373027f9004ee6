"""Bad input to ``python -m personalization``: exit code != 0 and a clear JSON error on stderr
(``{"error": ...}``), never a traceback, and nothing written for a refused command.

Most kinds run in-process through ``personalization.cli.main`` against the seeded test database
(fast); two run the real ``python -m personalization`` to show the same holds from a shell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from personalization.cli import main
from personalization.settings import PROJECT_ROOT, Settings
from tests.web.conftest import DATA_KEY
from tests.web.helpers import WebDb

CASES: dict[str, list[str]] = {
    "no_command": [],
    "unknown_command": ["hack"],
    "unknown_flag": ["members", "--evil"],
    "member_id_missing": ["profile"],
    "member_id_unknown": ["profile", "M999999"],
    "member_id_sql_ish": ["profile", "M100001' OR '1'='1"],
    "member_id_path_traversal": ["points", "../../etc/passwd"],
    "member_id_empty": ["coupons", ""],
    "member_id_huge": ["orders", "M" * 10_000],
    "member_id_nul": ["profile", "M100001\x00"],
    "member_id_rtl_override": ["tiers", "\u202eM100001"],
    "limit_zero": ["members", "--limit", "0"],
    "limit_negative": ["members", "--limit", "-5"],
    "limit_not_a_number": ["members", "--limit", "ten"],
    "limit_huge": ["offers", "M100001", "--limit", "9" * 5000],
    "k_over_max": ["recommend", "M100001", "-k", "100000"],
    "price_nan": ["recommend", "M100001", "--price-min", "nan"],
    "price_negative_range": ["recommend", "M100001", "--price-min", "500", "--price-max", "100"],
    "tier_unknown": ["members", "--tier", "platinum"],
    "bad_date": ["seed", "--as-of", "2026-02-30"],
    "bad_date_format": ["seed", "--as-of", "yesterday"],
    "bad_now_instant": ["points", "M100001", "--now", "25:99"],
    "order_id_unknown": ["orders", "M100001", "--order", "O-does-not-exist"],
    "claim_unknown_template": ["claim", "M100001", "NO-SUCH-TEMPLATE"],
    "agents_create_bad_role": ["agents", "--create", "mallory", "--role", "root"],
    "agents_two_actions": ["agents", "--demo", "--list"],
}


def _settings(web_db: WebDb, tmp_path: Path) -> Settings:
    return replace(Settings(), database_url=web_db.url, var_dir=str(tmp_path), data_key=DATA_KEY)


@pytest.mark.parametrize("argv", list(CASES.values()), ids=list(CASES))
def test_bad_cli_input_exits_nonzero_with_a_json_error(web_db: WebDb, tmp_path: Path, argv: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv, settings_factory=lambda: _settings(web_db, tmp_path))
    out, err = capsys.readouterr()
    assert code != 0, out
    assert "Traceback" not in err and "Traceback" not in out
    error = json.loads(err)
    assert isinstance(error["error"], str) and error["error"].strip()
    assert "\n" not in error["error"]  # one clear line
    assert out == ""


@pytest.mark.parametrize(("argv", "env"), [
    (["members", "--limit", "0"], {}),
    (["profile", "M100001"], {"DATABASE_URL": "sqlite:////nonexistent-dir/none/shop.db"}),
], ids=["bad_flag_from_a_shell", "missing_database_file"])
def test_the_real_command_line_fails_cleanly(argv: list[str], env: dict[str, str], tmp_path: Path) -> None:
    environ = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), SHOP_VAR_DIR=str(tmp_path), **env)
    result = subprocess.run([sys.executable, "-m", "personalization", *argv], cwd=PROJECT_ROOT, env=environ,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert json.loads(result.stderr)["error"]
