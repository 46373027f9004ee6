"""``python -m personalization <command>``: JSON on stdout, errors as JSON on stderr (exit 2).

Commands::

    seed [--members N] [--orders N] [--as-of YYYY-MM-DD] [--seed S] [--quiet]
    members [--limit N] [--tier CODE] [--lifecycle new|active|dormant]
    profile ID
    recommend ID [-k N] [--category C] [--brand B] [--price-min Y] [--price-max Y] [--exclude SKU,...]
    train-recommender
    coupons ID
    offers ID [--limit N]
    claim ID TEMPLATE
    orders ID [--limit N] [--order ORDER_ID]
    points ID
    tiers [ID]
    segments
    profiles [--full] [--quiet]
    agents --demo | --list | --create USERNAME --name NAME --role agent|ops|admin   (password on stdin)
    analytics [--progress] [--batch N]   (Rasa's SQL event broker -> analytics tables, incremental)
    analytics --from-rabbitmq            (spool Rasa's Pika broker queue ANALYTICS_BROKER_URL, then the same)
    privacy export ID [--out FILE] | privacy erase ID --yes   (members' rights: personalization.rights)
    encrypt-pii [--quiet]                (encrypt legacy plaintext member fields: personalization.privacy.crypto)
    analytics --from-kafka               (spool Rasa's Kafka broker topic ANALYTICS_KAFKA_BOOTSTRAP, then the same)

Query commands take ``--now YYYY-MM-DD[THH:MM[:SS]]`` to answer as of another instant
(default: now). The database is ``Settings.database_url`` (``DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from personalization import coupon_offers
from personalization.db import make_engine, session_factory
from personalization.services import coupons, members, orders, points, recommendations, tiers
from personalization.services.recommendations import MAX_K
from personalization.settings import Settings

EXIT_USAGE = 2


class CliError(Exception):
    """A problem with the command's input or environment, reported as JSON with exit code 2."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.payload = {"error": message, **details}


class _JsonArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as JSON instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise CliError("invalid arguments", detail=message, usage=self.format_usage().strip())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _k(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_K:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_K}: {value}")
    return value


def _price(text: str) -> float:
    """A price in yuan: a finite number >= 0 ("nan", "inf" and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite amount >= 0: {text!r}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or datetime (ISO 8601): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (usage errors raise :class:`CliError`)."""
    parser = _JsonArgumentParser(prog="python -m personalization", description="Member store queries, as JSON.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_JsonArgumentParser)
    at = _JsonArgumentParser(add_help=False)
    at.add_argument("--now", type=_instant, default=None, help="answer as of this instant (default: now)")

    seed = commands.add_parser("seed", help="drop and recreate all tables with demo data")
    seed.add_argument("--members", type=_positive_int, default=None, help="default: Settings.demo_members")
    seed.add_argument("--orders", type=_positive_int, default=None, help="default: Settings.demo_orders")
    seed.add_argument("--as-of", type=_date, default=None, help="data end before this day (default: today)")
    seed.add_argument("--seed", type=int, default=None, help="default: Settings.seed")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")

    listing = commands.add_parser("members", parents=[at], help="list members")
    listing.add_argument("--limit", type=_positive_int, default=20)
    listing.add_argument("--tier", choices=("normal", "silver", "gold", "diamond"))
    listing.add_argument("--lifecycle", choices=("new", "active", "dormant"))

    commands.add_parser("profile", parents=[at], help="a member's profile").add_argument("member_id")

    recommend = commands.add_parser("recommend", parents=[at], help="product recommendations")
    recommend.add_argument("member_id")
    recommend.add_argument("-k", type=_k, default=None, help=f"how many, 1..{MAX_K} (default: Settings.recommend_k)")
    recommend.add_argument("--category")
    recommend.add_argument("--brand")
    recommend.add_argument("--price-min", type=_price, default=None, help="yuan")
    recommend.add_argument("--price-max", type=_price, default=None, help="yuan")
    recommend.add_argument("--exclude", default="", help="comma-separated SKUs already shown")

    commands.add_parser("train-recommender", parents=[at], help="fit the shop recommender and save it under var/models/")

    commands.add_parser("coupons", parents=[at], help="usable coupons").add_argument("member_id")

    offers = commands.add_parser("offers", parents=[at], help="coupon templates offered to a member, with reasons")
    offers.add_argument("member_id")
    offers.add_argument("--limit", type=_positive_int, default=3)

    claim = commands.add_parser("claim", parents=[at], help="claim a coupon from a template for a member")
    claim.add_argument("member_id")
    claim.add_argument("template_id")

    order_list = commands.add_parser("orders", parents=[at], help="latest orders, or one order")
    order_list.add_argument("member_id")
    order_list.add_argument("--limit", type=_positive_int, default=3)
    order_list.add_argument("--order", dest="order_id", help="show this order only")

    commands.add_parser("points", parents=[at], help="points balance and expiry").add_argument("member_id")

    tier = commands.add_parser("tiers", parents=[at], help="all tiers, or a member's tier status")
    tier.add_argument("member_id", nargs="?")

    commands.add_parser("segments", parents=[at], help="member segments (k-means on RFM): sizes and centroids")
    batch = commands.add_parser("profiles", parents=[at], help="compute and store member profiles (incremental)")
    batch.add_argument("--full", action="store_true", help="recompute every member")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")

    desk = commands.add_parser("agents", parents=[at], help="support-desk accounts: demo accounts, list, create")
    which = desk.add_mutually_exclusive_group(required=True)
    which.add_argument("--demo", action="store_true", help="create the demo accounts that are missing")
    which.add_argument("--list", action="store_true", help="list accounts (no password hashes)")
    which.add_argument("--create", metavar="USERNAME", help="create an account; the password is read from stdin")
    desk.add_argument("--name", help="display name shown to members (with --create)")
    desk.add_argument("--role", choices=("agent", "ops", "admin"), help="with --create")

    analytics = commands.add_parser("analytics", help="load new Rasa events (Settings.rasa_events_db) into the analytics tables")
    analytics.add_argument("--progress", action="store_true", help="show a progress bar")
    analytics.add_argument("--batch", type=_positive_int, default=5000, help="events per transaction")
    feed = analytics.add_mutually_exclusive_group()
    feed.add_argument(
        "--from-rabbitmq", action="store_true",
        help="consume Rasa's Pika broker queue (ANALYTICS_BROKER_URL, ANALYTICS_BROKER_QUEUE) into the spool, then run on it",
    )
    feed.add_argument(
        "--from-kafka", action="store_true",
        help="consume Rasa's Kafka broker topic (ANALYTICS_KAFKA_BOOTSTRAP, ANALYTICS_KAFKA_TOPIC) into the spool, then run on it",
    )
    from personalization.rights.cli import add_privacy_parser

    add_privacy_parser(commands, [at])  # privacy export ID [--out F] | privacy erase ID --yes
    encrypt = commands.add_parser("encrypt-pii", help="encrypt the member fields still stored in plaintext (idempotent)")
    encrypt.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _require_member(session: Session, member_id: str) -> str:
    member = members.get_member(session=session, member_id=member_id)
    if member is None:
        raise CliError("member not found", member_id=member_id)
    return member.member_id


def _seed(args: argparse.Namespace, settings: Settings) -> Any:
    from personalization.seed import seed_database  # numpy and tqdm only for this command

    result = seed_database(
        make_engine(settings),
        members=args.members or settings.demo_members,
        orders=args.orders or settings.demo_orders,
        seed=settings.seed if args.seed is None else args.seed,
        as_of=args.as_of,
        progress=not args.quiet,
    )
    result["agents"] = _ensure_demo_agents(settings)
    return {"database_url": make_url(settings.database_url).render_as_string(hide_password=True), **result}


def _ensure_demo_agents(settings: Settings) -> list[str]:
    """The demo desk accounts (personalization.desk.agents.DEMO_AGENTS), created if missing."""
    from personalization.desk.agents import ensure_demo_agents

    engine = make_engine(settings)
    try:
        with session_factory(engine)() as session:
            agents = ensure_demo_agents(session)
            session.commit()
    finally:
        engine.dispose()
    return [agent["username"] for agent in agents]


def _agents(args: argparse.Namespace, session: Session) -> Any:
    """``agents --demo | --list | --create USERNAME --name NAME --role ROLE`` (password on stdin)."""
    from personalization.desk import agents
    from personalization.desk.errors import DeskError

    if args.list:
        return agents.list_agents(session)
    try:
        if args.demo:
            result: Any = agents.ensure_demo_agents(session, now=args.now)
        else:
            if not args.name or not args.role:
                raise CliError("--create needs --name and --role")
            password = sys.stdin.readline().rstrip("\r\n")
            result = agents.agent_dict(agents.create_agent(session, args.create, args.name, password, args.role, now=args.now))
    except DeskError as exc:
        raise CliError(exc.message_en, code=exc.code, message_zh=exc.message_zh) from None
    session.commit()
    return result


def _query(args: argparse.Namespace, settings: Settings, session: Session) -> Any:
    now = args.now
    if args.command == "members":
        return members.list_members(
            session=session, limit=args.limit, tier=args.tier, lifecycle=args.lifecycle, now=now
        )
    if args.command == "tiers" and args.member_id is None:
        return tiers.all_tiers(session=session)
    if args.command in ("segments", "profiles"):
        return _profiles_batch(args, session)
    if args.command == "agents":
        return _agents(args, session)
    if args.command == "train-recommender":
        from personalization.shop_recommender import train_and_save

        return train_and_save(session, settings)
    member_id = _require_member(session, args.member_id)
    if args.command == "profile":
        profile = members.member_profile(session=session, member_id=member_id, now=now)
        unavailable = profile["profile_unavailable"] if profile else None
        if unavailable and unavailable["code"] == "not_registered_yet":
            raise CliError("member had not registered yet at --now", member_id=member_id, **unavailable)
        return profile
    if args.command == "recommend":
        if args.price_min is not None and args.price_max is not None and args.price_min > args.price_max:
            raise CliError("--price-min is above --price-max", price_min=args.price_min, price_max=args.price_max)
        return recommendations.recommend_for_member(
            session=session,
            member_id=member_id,
            k=args.k or settings.recommend_k,
            category=args.category,
            brand=args.brand,
            price_min=args.price_min,
            price_max=args.price_max,
            exclude_skus=[sku.strip() for sku in args.exclude.split(",") if sku.strip()],
            now=now,
            settings=settings,
        )
    if args.command == "coupons":
        return coupons.usable_coupons(session=session, member_id=member_id, now=now)
    if args.command == "offers":
        return coupon_offers.offers_for_member(session=session, member_id=member_id, now=now, limit=args.limit)
    if args.command == "claim":
        claimed = coupons.claim_coupon(
            bind=session.get_bind(), member_id=member_id, template_id=args.template_id, now=now
        )
        if claimed["status"] == "unknown_template":
            raise CliError("coupon template not found", template_id=args.template_id)
        return claimed
    if args.command == "orders":
        if args.order_id is None:
            return orders.latest_orders(session=session, member_id=member_id, limit=args.limit)
        order = orders.get_order(session=session, member_id=member_id, order_id=args.order_id)
        if order is None:
            raise CliError("order not found", member_id=member_id, order_id=args.order_id)
        return order
    if args.command == "points":
        return points.points_summary(
            session=session, member_id=member_id, now=now, warning_days=settings.points_expiry_warning_days
        )
    if args.command == "tiers":
        return tiers.tier_status(session=session, member_id=member_id, now=now)
    raise CliError("unknown command", command=args.command)  # argparse already restricts the choices


def _profiles_batch(args: argparse.Namespace, session: Session) -> Any:
    from personalization import profiles, segments  # numpy and scikit-learn only for these commands

    if args.command == "segments":
        return segments.compute_segments(session=session, now=args.now)
    result = profiles.compute_profiles(session=session, now=args.now, progress=not args.quiet, full=args.full)
    session.commit()
    return result


def _analytics(args: argparse.Namespace, settings: Settings) -> Any:
    """``analytics [--progress] [--batch N]``: run the incremental pipeline on the SQL event broker."""
    from personalization.analytics.pipeline import EventSourceError, SqlEventSource, run_pipeline
    from personalization.db import create_schema

    if getattr(args, "from_rabbitmq", False):
        return _analytics_from_broker(args, settings, "rabbitmq")
    if getattr(args, "from_kafka", False):
        return _analytics_from_broker(args, settings, "kafka")
    source = SqlEventSource.for_sqlite_file(settings.rasa_events_db)
    engine = make_engine(settings)
    try:
        create_schema(engine)  # the analytics tables on first use (and any app table a fresh database lacks)
        return run_pipeline(session_factory(engine), source, batch=args.batch, progress=args.progress)
    except EventSourceError as exc:
        raise CliError(str(exc), events_db=settings.rasa_events_db) from None
    finally:
        source.close()
        engine.dispose()


def _analytics_from_broker(args: argparse.Namespace, settings: Settings, feed: str) -> Any:
    """``analytics --from-rabbitmq`` / ``--from-kafka``: spool what the broker holds that is new,
    then run the pipeline on the spool."""
    from personalization.analytics.kafka import spool_from_kafka
    from personalization.analytics.pipeline import EventSourceError, run_pipeline
    from personalization.analytics.rabbitmq import SpoolEventSource, redact, spool_from_rabbitmq
    from personalization.db import create_schema

    if feed == "kafka":
        if not settings.analytics_kafka_bootstrap:
            raise CliError("ANALYTICS_KAFKA_BOOTSTRAP is not set (e.g. 127.0.0.1:9092)")
        where = {"bootstrap": settings.analytics_kafka_bootstrap, "topic": settings.analytics_kafka_topic}
    else:
        if not settings.analytics_broker_url:
            raise CliError("ANALYTICS_BROKER_URL is not set (e.g. amqp://guest:guest@127.0.0.1:5672/%2F)")
        where = {"broker": redact(settings.analytics_broker_url), "queue": settings.analytics_broker_queue}
    engine = make_engine(settings)
    try:
        create_schema(engine)
        factory = session_factory(engine)
        if feed == "kafka":
            spool = spool_from_kafka(
                settings.analytics_kafka_bootstrap, settings.analytics_kafka_topic, factory, progress=args.progress
            )
        else:
            spool = spool_from_rabbitmq(
                settings.analytics_broker_url, settings.analytics_broker_queue, factory, progress=args.progress
            )
        return {**run_pipeline(factory, SpoolEventSource(engine), batch=args.batch, progress=args.progress), "spool": spool}
    except EventSourceError as exc:
        raise CliError(str(exc), **where) from None
    finally:
        engine.dispose()


def _encrypt_pii(args: argparse.Namespace, settings: Settings) -> Any:
    """``encrypt-pii``: rewrite plaintext phones/birthdays of an older database encrypted (idempotent)."""
    from personalization.privacy.crypto import encrypt_existing_rows

    engine = make_engine(settings)
    try:
        return encrypt_existing_rows(engine, progress=not args.quiet)
    finally:
        engine.dispose()


def _print_json(payload: Any, stream: Any) -> None:
    stream.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def main(argv: Sequence[str] | None = None, *, settings_factory: Callable[[], Settings] = Settings.from_env) -> int:
    """Run one command; returns the exit code (0 ok, 2 bad input or database problem, 1 bug)."""
    try:
        args = build_parser().parse_args(argv)
        settings = settings_factory()
        if args.command == "seed":
            result = _seed(args, settings)
        elif args.command == "analytics":
            result = _analytics(args, settings)
        elif args.command == "encrypt-pii":
            result = _encrypt_pii(args, settings)
        elif args.command == "privacy":
            from personalization.rights.cli import run_privacy

            result = run_privacy(args, settings)
        else:
            engine = make_engine(settings)
            try:
                with session_factory(engine)() as session:
                    result = _query(args, settings, session)
            finally:
                engine.dispose()
    except CliError as exc:
        _print_json(exc.payload, sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # e.g. seed sizes that cannot be satisfied
        _print_json({"error": str(exc)}, sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        _print_json(
            {
                "error": "database error; has it been seeded? (python -m personalization seed)",
                "detail": str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0],
            },
            sys.stderr,
        )
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI promises JSON, never a traceback
        _print_json({"error": "internal error", "detail": f"{type(exc).__name__}: {exc}"}, sys.stderr)
        return 1
    _print_json(result, sys.stdout)
    return 0
