"""``python -m personalization privacy export ID [--out FILE]`` and ``privacy erase ID --yes``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from personalization.db import create_schema, make_engine, session_factory
from personalization.settings import Settings


def add_privacy_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``privacy`` command on the CLI's subparsers."""
    privacy = commands.add_parser("privacy", parents=parents, help="members' rights: export or erase a member's data")
    actions = privacy.add_subparsers(dest="privacy_action", required=True, parser_class=type(privacy))
    export = actions.add_parser("export", help="everything about a member as JSON")
    export.add_argument("member_id")
    export.add_argument("--out", type=Path, default=None, help="write the export to this file (default: stdout)")
    erase = actions.add_parser("erase", help="delete / anonymize a member everywhere, with a verified report")
    erase.add_argument("member_id")
    erase.add_argument("--yes", action="store_true", help="required: confirms the erasure (it cannot be undone)")


def run_privacy(args: argparse.Namespace, settings: Settings) -> Any:
    """Run ``privacy export`` / ``privacy erase``; raises the CLI's ``CliError`` on bad input or a failed erasure."""
    from personalization.cli import CliError
    from personalization.rights import RasaStores, erase_member, export_member_data

    if args.privacy_action == "erase" and not args.yes:
        raise CliError("erasing cannot be undone: add --yes to confirm", member_id=args.member_id)
    engine = make_engine(settings)
    rasa = RasaStores.from_settings(settings)
    try:
        create_schema(engine)  # privacy_reports on a database seeded before it existed
        factory = session_factory(engine)
        if args.privacy_action == "export":
            with factory() as session:
                document = export_member_data(session=session, member_id=args.member_id, rasa=rasa, now=args.now)
            if document is None:
                raise CliError("member not found", member_id=args.member_id)
            if args.out is None:
                return document
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
            return {"member_id": document["member_id"], "out": str(args.out), "counts": document["counts"]}
        report = erase_member(factory=factory, member_id=args.member_id, rasa=rasa, requested_by="cli", now=args.now)
        if report is None:
            raise CliError("member not found", member_id=args.member_id)
        if not report.ok:
            raise CliError("erasure incomplete or not verified; run it again once every store is reachable",
                           report=report.as_dict())
        return report.as_dict()
    finally:
        rasa.close()
        engine.dispose()
