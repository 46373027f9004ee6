"""The Kafka feed: records spooled once per offset, then the same pipeline as the SQL broker's table.

No Kafka broker can be installed on this machine (Debian ships clients only, and nothing may be
downloaded at run time), so these tests drive :func:`spool_records` - the part that decides what
is stored and where a consumer resumes - with records shaped like those of Rasa's Kafka broker, and
check the client's failure path against a closed port. With a broker at hand,
``KAFKA_TEST_BOOTSTRAP=host:port`` also runs the live round trip.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from personalization.analytics.kafka import KafkaRecord, cursor_name, next_offsets, spool_from_kafka, spool_records
from personalization.analytics.models import AnalyticsCursor, AnalyticsSpool
from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from personalization.analytics.rabbitmq import SPOOL_SOURCE_NAME, SpoolEventSource
from personalization.cli import main
from personalization.settings import Settings
from tests.analytics.conftest import World, build_world
from tests.analytics.test_analytics_pipeline import snapshot
from tests.analytics.test_rabbitmq import same_source

TOPIC = "rasa_core_events"
BATCH = 7


def rasa_records(world: World, *, partitions: int = 1) -> list[KafkaRecord]:
    """The scenario as Rasa's KafkaEventBroker publishes it (JSON of ``Event.as_dict()`` + ``sender_id``).

    With several partitions, each sender stays on one partition (as with a keyed producer)."""
    senders = sorted({sender for sender, _ in world.log.rows})
    partition_of = {sender: i % partitions for i, sender in enumerate(senders)}
    offsets = [0] * partitions
    records = []
    for sender, event in world.log.rows:
        partition = partition_of[sender]
        records.append(KafkaRecord(partition, offsets[partition], json.dumps(event).encode("utf-8")))
        offsets[partition] += 1
    return records


def spool_count(factory: sessionmaker[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(AnalyticsSpool)) or 0)


@pytest.fixture()
def reference(tmp_path: Path) -> dict[str, Any]:
    world = build_world(tmp_path / "sql")
    run_pipeline(world.app.factory, SqlEventSource(world.events_url), batch=BATCH)
    snap = snapshot(world.app.factory)
    world.app.engine.dispose()
    return snap


def test_spooled_kafka_records_give_the_same_analytics_as_the_sql_broker(tmp_path: Path, reference: dict[str, Any]) -> None:
    world = build_world(tmp_path / "kafka")
    records = rasa_records(world)
    for start in range(0, len(records), BATCH):
        stored, skipped = spool_records(world.app.factory, TOPIC, records[start : start + BATCH])
        assert (stored, skipped) == (len(records[start : start + BATCH]), 0)
    with world.app.factory() as session:
        assert next_offsets(session, TOPIC, [0]) == {0: len(records)}
    run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    assert same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME) == {
        **reference, "cursors": {**reference["cursors"], cursor_name(TOPIC, 0): len(records)}
    }
    world.app.engine.dispose()


def test_records_read_again_after_a_crash_are_stored_once(tmp_path: Path, reference: dict[str, Any]) -> None:
    """The group offsets in Kafka lag behind the database (a crash between the two commits): the
    consumer is handed records it spooled already, partly overlapping the new ones."""
    world = build_world(tmp_path / "kafka")
    records = rasa_records(world)
    spool_records(world.app.factory, TOPIC, records[: 2 * BATCH])
    assert spool_records(world.app.factory, TOPIC, records[BATCH : 3 * BATCH]) == (BATCH, BATCH)
    assert spool_records(world.app.factory, TOPIC, records[: 3 * BATCH]) == (0, 3 * BATCH)
    spool_records(world.app.factory, TOPIC, records)
    assert spool_count(world.app.factory) == len(records)
    run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    got = same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME)
    assert got["conversations"] == reference["conversations"] and got["turns"] == reference["turns"]
    # Nothing new: nothing stored, the pipeline reads nothing.
    assert spool_records(world.app.factory, TOPIC, records[-3:]) == (0, 3)
    assert run_pipeline(world.app.factory, SpoolEventSource(world.app.factory))["events_read"] == 0
    world.app.engine.dispose()


def test_each_partition_resumes_at_its_own_offset(tmp_path: Path, reference: dict[str, Any]) -> None:
    world = build_world(tmp_path / "kafka")
    records = rasa_records(world, partitions=3)
    by_partition = {p: [r for r in records if r.partition == p] for p in range(3)}
    # Partition 0 fully, partition 1 half, partition 2 not at all.
    spool_records(world.app.factory, TOPIC, by_partition[0] + by_partition[1][: len(by_partition[1]) // 2])
    with world.app.factory() as session:
        offsets = next_offsets(session, TOPIC, range(3))
        assert offsets == {0: len(by_partition[0]), 1: len(by_partition[1]) // 2, 2: 0}
        assert session.get(AnalyticsCursor, cursor_name(TOPIC, 2)) is None
    stored, skipped = spool_records(world.app.factory, TOPIC, records)
    assert stored + skipped == len(records) and spool_count(world.app.factory) == len(records)
    run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    # Spool ids (and so conversation keys) follow the arrival order, which differs across partitions.
    assert without_ids(same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME)) == without_ids(reference)
    world.app.engine.dispose()


def without_ids(snap: dict[str, Any]) -> dict[str, list[str]]:
    """Conversations and turns as sorted lists, without the keys derived from event ids."""
    def rows(values: Any, drop: tuple[str, ...]) -> list[str]:
        return sorted(json.dumps({k: v for k, v in row.items() if k not in drop}, default=str, sort_keys=True) for row in values)

    return {
        "conversations": rows(snap["conversations"].values(), ("conversation_key", "start_event_id", "last_event_id", "last_turn_event_id")),
        "turns": rows(snap["turns"].values(), ("event_id", "conversation")),
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_kafka_or_a_missing_setting_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}")
    assert main(["analytics", "--from-kafka"], settings_factory=lambda: settings) == 2
    assert "ANALYTICS_KAFKA_BOOTSTRAP" in json.loads(capsys.readouterr().err)["error"]
    dead = Settings(database_url=settings.database_url, analytics_kafka_bootstrap=f"127.0.0.1:{_closed_port()}")
    assert main(["analytics", "--from-kafka"], settings_factory=lambda: dead) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["error"].startswith("Kafka at 127.0.0.1:") and error["topic"] == TOPIC
    with pytest.raises(ValueError):
        spool_from_kafka("127.0.0.1:1", TOPIC, sessionmaker(), batch=0)


@pytest.mark.skipif(not os.environ.get("KAFKA_TEST_BOOTSTRAP"), reason="no Kafka broker (KAFKA_TEST_BOOTSTRAP) here")
def test_live_kafka_round_trip(tmp_path: Path, reference: dict[str, Any]) -> None:  # pragma: no cover - needs a broker
    from kafka import KafkaProducer

    bootstrap = os.environ["KAFKA_TEST_BOOTSTRAP"]
    topic = f"rasa_events_{uuid.uuid4().hex[:8]}"
    world = build_world(tmp_path / "kafka")
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for record in rasa_records(world):
        producer.send(topic, record.value)
    producer.flush()
    producer.close()
    spool = spool_from_kafka(bootstrap, topic, world.app.factory, batch=BATCH, idle_timeout_s=2.0)
    assert spool["spooled"] == len(world.log.rows)
    assert spool_from_kafka(bootstrap, topic, world.app.factory, idle_timeout_s=1.0)["spooled"] == 0
    run_pipeline(world.app.factory, SpoolEventSource(world.app.factory), batch=BATCH)
    got = same_source(snapshot(world.app.factory), SPOOL_SOURCE_NAME)
    assert got["conversations"] == reference["conversations"] and got["turns"] == reference["turns"]
