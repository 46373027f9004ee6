"""The RabbitMQ feed against a real RabbitMQ server on loopback (a throwaway node in a temp dir).

Events are published the way Rasa's Pika broker does (JSON, persistent, through a fanout exchange
bound to a durable queue), spooled, and run through the same pipeline as the SQL broker's table:
the analytics rows must be the same, redelivered messages must count once, and a consumer killed
between its commit and its ack must lose nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics.models import AnalyticsSpool
from personalization.analytics.pipeline import EventSourceError, SqlEventSource, run_pipeline
from personalization.analytics.rabbitmq import SPOOL_SOURCE_NAME, SpoolEventSource, spool_from_rabbitmq
from personalization.cli import main
from personalization.settings import Settings
from tests.analytics.conftest import World, build_world
from tests.analytics.test_analytics_pipeline import snapshot

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Debian's /usr/sbin/rabbitmq-server only switches to the rabbitmq user and runs this script.
SERVER_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server",)
START_TIMEOUT_S = 60.0
BATCH = 7  # small batches: a scenario of ~100 events spans many commits and acks


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_script() -> str | None:
    for script in SERVER_SCRIPTS:
        if os.access(script, os.X_OK):
            return script
    return shutil.which("rabbitmq-server")  # e.g. the generic-unix release; not a wrapper that changes user


@dataclass
class RabbitServer:
    url: str
    port: int
    start_seconds: float


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    """A RabbitMQ node of its own (ports, data, logs, Erlang cookie, epmd) for this module."""
    script = _server_script()
    if script is None:
        pytest.fail(
            "rabbitmq-server is not installed: `make test` installs it (apt package rabbitmq-server); "
            "or run `apt-get install -y rabbitmq-server`",
            pytrace=False,
        )
    base = tmp_path_factory.mktemp("rabbitmq")
    for folder in ("home", "mnesia", "log"):
        (base / folder).mkdir()
    (base / "enabled_plugins").write_text("[].\n")
    port, dist_port, epmd_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "HOME": str(base / "home"),  # the Erlang cookie
        "RABBITMQ_NODENAME": f"analytics-test-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port),  # an epmd of its own, stopped below
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "none"),  # ignore /etc/rabbitmq
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "none-advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "none-env.conf"),
    }
    log = open(base / "server.out", "wb")
    started = time.monotonic()
    server = subprocess.Popen([script], env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"rabbitmq-server exited ({server.returncode}): {(base / 'server.out').read_text()[-2000:]}", pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()  # quiet probe; pika logs refusals
                pika.BlockingConnection(pika.URLParameters(url + "?connection_attempts=1&socket_timeout=1")).close()
                break
            except (OSError, pika.exceptions.AMQPConnectionError):
                if time.monotonic() - started > START_TIMEOUT_S:
                    pytest.fail(f"rabbitmq-server did not accept connections in {START_TIMEOUT_S:.0f} s", pytrace=False)
                time.sleep(0.2)
        yield RabbitServer(url=url, port=port, start_seconds=round(time.monotonic() - started, 2))
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # RabbitMQ shuts down cleanly on SIGTERM
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        subprocess.run([epmd, "-kill"], env=env, capture_output=True, timeout=10, check=False)
        log.close()


def publish_like_rasa(url: str, queue: str, world: World) -> None:
    """What Rasa's PikaEventBroker does: a fanout exchange, a durable queue bound to it, one
    persistent JSON message per event (``Event.as_dict()`` plus ``sender_id``)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    exchange = f"rasa-exchange-{queue}"
    channel.exchange_declare(exchange, exchange_type="fanout")
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange, routing_key="")
    for _sender, event in world.log.rows:
        channel.basic_publish(exchange, "", json.dumps(event).encode("utf-8"), pika.BasicProperties(delivery_mode=2))
    connection.close()


def queue_length(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, durable=True, passive=True).method.message_count)
    finally:
        connection.close()


def spool_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(AnalyticsSpool)) or 0)


def same_source(snap: dict[str, Any], name: str) -> dict[str, Any]:
    """A snapshot with the source name ``name`` replaced by the SQL broker's (nothing else changed)."""
    sql = "rasa-sql-broker"
    conversations = {key: {**row, "source": sql if row["source"] == name else row["source"]} for key, row in snap["conversations"].items()}
    turns = {
        (sql if source == name else source, event_id): {**row, "source": sql if row["source"] == name else row["source"]}
        for (source, event_id), row in snap["turns"].items()
    }
    cursors = {(sql if source == name else source): value for source, value in snap["cursors"].items()}
    return {"conversations": conversations, "turns": turns, "cursors": cursors, "rollup": snap["rollup"]}  # no source in the rollup


@pytest.fixture()
def sql_snapshot(tmp_path: Path) -> dict[str, Any]:
    """The analytics rows the SQL broker's table gives for the scenario (the reference)."""
    world = build_world(tmp_path / "sql")
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=BATCH)
    snap = snapshot(world.app.factory)
    world.app.engine.dispose()
    assert len(snap["conversations"]) == 5 and len(snap["turns"]) == 13
    return snap


@pytest.fixture()
def mq_world(tmp_path: Path, rabbitmq: RabbitServer) -> Iterator[tuple[World, str]]:
    """The same scenario's app database, its events published to a fresh queue."""
    world = build_world(tmp_path / "mq")
    queue = f"rasa_events_{uuid.uuid4().hex[:8]}"
    publish_like_rasa(rabbitmq.url, queue, world)
    yield world, queue
    world.app.engine.dispose()


def test_the_rabbitmq_feed_gives_the_same_analytics_as_the_sql_broker(
    rabbitmq: RabbitServer, mq_world: tuple[World, str], sql_snapshot: dict[str, Any]
) -> None:
    world, queue = mq_world
    events = len(world.log.rows)
    assert queue_length(rabbitmq.url, queue) == events
    spool = spool_from_rabbitmq(rabbitmq.url, queue, world.app.factory, batch=BATCH, idle_timeout_s=0.5)
    assert (spool["received"], spool["spooled"], spool["duplicates"]) == (events, events, 0)
    assert spool["batches"] >= events // BATCH
    assert queue_length(rabbitmq.url, queue) == 0  # everything acked
    summary = run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    assert (summary["source"], summary["events_read"], summary["conversations_created"]) == (SPOOL_SOURCE_NAME, events, 5)
    assert same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME) == sql_snapshot
    # The scenario has byte-identical events (a session's two session_started_metadata slots):
    # distinct messages, both kept.
    with world.app.factory() as session:
        assert session.scalar(select(func.max(AnalyticsSpool.occurrence))) == 2
    # Incremental: nothing new in the queue, nothing new in the tables.
    assert spool_from_rabbitmq(rabbitmq.url, queue, world.app.factory, idle_timeout_s=0.3)["received"] == 0
    assert run_pipeline(world.app.factory, SpoolEventSource(world.app.factory))["events_read"] == 0


class _AckLost(Exception):
    pass


def test_redelivered_messages_are_counted_once(
    rabbitmq: RabbitServer, mq_world: tuple[World, str], sql_snapshot: dict[str, Any]
) -> None:
    world, queue = mq_world
    events = len(world.log.rows)

    def fail_before_ack(count: int) -> None:
        raise _AckLost(count)  # committed, never acked: RabbitMQ redelivers the batch

    with pytest.raises(_AckLost):
        spool_from_rabbitmq(rabbitmq.url, queue, world.app.factory, batch=BATCH, on_commit=fail_before_ack)
    assert spool_rows(world.app.factory) == BATCH
    assert queue_length(rabbitmq.url, queue) == events  # the committed batch is back in the queue
    # Another consumer takes the next messages and rejects them (requeue): redelivered, never spooled.
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    channel = connection.channel()
    tags = []
    for _ in range(2 * BATCH):
        method, _properties, _body = channel.basic_get(queue)
        assert method is not None and method.redelivered == (len(tags) < BATCH)
        tags.append(method.delivery_tag)
    channel.basic_nack(delivery_tag=tags[-1], multiple=True, requeue=True)
    connection.close()

    spool = spool_from_rabbitmq(rabbitmq.url, queue, world.app.factory, batch=BATCH, idle_timeout_s=0.5)
    assert (spool["received"], spool["duplicates"], spool["spooled"]) == (events, BATCH, events - BATCH)
    assert spool_rows(world.app.factory) == events
    run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    assert same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME) == sql_snapshot


KILLED_CONSUMER = """
import os, signal, sys
from personalization.analytics.rabbitmq import spool_from_rabbitmq
from personalization.db import make_engine, session_factory
from personalization.settings import Settings

url, queue, database_url, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
commits = []

def die_on_the_second_commit(count):
    commits.append(count)
    if len(commits) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before the ack

spool_from_rabbitmq(url, queue, session_factory(make_engine(Settings(database_url=database_url))),
                    batch=batch, on_commit=die_on_the_second_commit)
"""


def test_a_consumer_killed_before_its_ack_loses_nothing(
    rabbitmq: RabbitServer, mq_world: tuple[World, str], sql_snapshot: dict[str, Any]
) -> None:
    world, queue = mq_world
    events = len(world.log.rows)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CONSUMER, rabbitmq.url, queue, world.app.url, str(BATCH)],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert spool_rows(world.app.factory) == 2 * BATCH  # two batches committed, the second never acked
    deadline = time.monotonic() + 10  # the broker notices the dead connection and requeues
    while queue_length(rabbitmq.url, queue) != events - BATCH and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queue_length(rabbitmq.url, queue) == events - BATCH

    spool = spool_from_rabbitmq(rabbitmq.url, queue, world.app.factory, batch=BATCH, idle_timeout_s=0.5)
    assert (spool["received"], spool["duplicates"], spool["spooled"]) == (events - BATCH, BATCH, events - 2 * BATCH)
    assert spool_rows(world.app.factory) == events
    run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    assert same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME) == sql_snapshot


def test_cli_analytics_from_rabbitmq(
    rabbitmq: RabbitServer, mq_world: tuple[World, str], capsys: pytest.CaptureFixture[str]
) -> None:
    world, queue = mq_world
    settings = Settings(database_url=world.app.url, analytics_broker_url=rabbitmq.url, analytics_broker_queue=queue)
    assert main(["analytics", "--from-rabbitmq", "--batch", "10"], settings_factory=lambda: settings) == 0
    summary = json.loads(capsys.readouterr().out)
    events = len(world.log.rows)
    assert (summary["spool"]["spooled"], summary["events_read"], summary["conversations_created"]) == (events, events, 5)
    assert main(["analytics", "--from-rabbitmq"], settings_factory=lambda: settings) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["spool"]["received"], summary["events_read"]) == (0, 0)


def test_cli_without_a_broker_url_or_with_a_dead_broker_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}")
    assert main(["analytics", "--from-rabbitmq"], settings_factory=lambda: settings) == 2
    assert "ANALYTICS_BROKER_URL" in json.loads(capsys.readouterr().err)["error"]
    dead = f"amqp://guest:secret@127.0.0.1:{_free_port()}/%2F"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}", analytics_broker_url=dead)
    assert main(["analytics", "--from-rabbitmq"], settings_factory=lambda: settings) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["error"].startswith("RabbitMQ at amqp://guest:***@127.0.0.1") and "secret" not in json.dumps(error)
    with pytest.raises(EventSourceError):
        spool_from_rabbitmq(dead, "q", sessionmaker())
