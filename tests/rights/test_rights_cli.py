"""``python -m personalization privacy export|erase`` (in process, through cli.main)."""

from __future__ import annotations

import json

from personalization.cli import main
from personalization.models import Member


def _run(world, argv, capsys):
    code = main(argv, settings_factory=lambda: world.settings)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exports_to_a_file(world, tmp_path, capsys) -> None:
    target = tmp_path / "out" / "a.json"
    code, out, _ = _run(world, ["privacy", "export", world.a.member_id, "--out", str(target)], capsys)
    assert code == 0 and json.loads(out)["counts"]["orders"] > 0
    assert json.loads(target.read_text(encoding="utf-8"))["profile"]["phone"] == world.a.phone


def test_cli_erase_needs_yes_then_erases(world, capsys) -> None:
    code, _, err = _run(world, ["privacy", "erase", world.a.member_id], capsys)
    assert code == 2 and "--yes" in json.loads(err)["error"]
    with world.session() as s:
        assert s.get(Member, world.a.member_id).name == world.a.name
    code, out, _ = _run(world, ["privacy", "erase", world.a.member_id, "--yes"], capsys)
    assert code == 0 and json.loads(out)["status"] == "completed"


def test_cli_unknown_member_is_a_clear_error(world, capsys) -> None:
    code, _, err = _run(world, ["privacy", "export", "M999999"], capsys)
    assert code == 2 and json.loads(err)["error"] == "member not found"
