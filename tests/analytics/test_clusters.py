"""Clustering of the messages the bot did not understand (personalization.analytics.clusters)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.analytics.clusters import ClusterIndex, ClusterModel, cluster_messages, unrecognized
from personalization.analytics.models import AnalyticsConversation as AC
from personalization.analytics.models import AnalyticsTurn as AT
from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from tests.analytics.conftest import World

POINTS = ["积分怎么兑换", "积分如何兑换礼品", "我的积分怎么兑换东西", "积分兑换在哪里"]
PARCEL_ZH = ["快递到哪了", "我的快递到哪里了", "快递怎么还没到", "快递什么时候到"]
PARCEL_EN = ["where is my parcel", "where's my parcel now", "my parcel is late, where is it"]
NOISE = ["asdfgh", "qwerty"]


def _cluster_of(clusters: list[dict], text: str) -> int:
    found = [i for i, c in enumerate(clusters) if text in c["examples"]]
    assert len(found) == 1, (text, clusters)
    return found[0]


def test_similar_messages_end_up_in_the_same_cluster() -> None:
    messages = POINTS + PARCEL_ZH + PARCEL_EN + NOISE
    clusters = cluster_messages(messages, limit=20)
    assert sum(c["size"] for c in clusters) == len(messages)
    by_group = []
    for group in (POINTS, PARCEL_ZH, PARCEL_EN):
        members = [c for c in clusters if set(c["examples"]) & set(group)]
        assert len(members) == 1, (group, clusters)  # the whole group in one cluster ...
        assert members[0]["size"] == len(group)  # ... and nothing else in it
        by_group.append(members[0]["label"])
    assert "积分" in by_group[0] and "快递" in by_group[1] and "parcel" in by_group[2]


def test_repeated_messages_count_towards_the_size_and_the_biggest_cluster_comes_first() -> None:
    clusters = cluster_messages([("快递到哪了", 7), ("我的快递到哪里了", 2)] + [(t, 1) for t in POINTS], limit=5)
    assert clusters[0]["size"] == 9 and clusters[0]["examples"][0] == "快递到哪了"
    assert len(cluster_messages(POINTS + PARCEL_ZH, limit=1)) == 1


def test_examples_are_masked() -> None:
    clusters = cluster_messages(["我是张伟，电话13812345678，积分兑换不了", "积分兑换不了怎么办", "订单DD202610150123积分兑换不了"],
                                names=["张伟"])
    text = repr(clusters)
    assert "13812345678" not in text and "张伟" not in text and "DD202610150123" not in text
    assert "138****5678" in text and "张*" in text


def test_no_messages_give_no_clusters() -> None:
    assert cluster_messages([]) == []
    assert cluster_messages(["", "   "]) == []
    [single] = cluster_messages(["只有一句"])
    assert single["size"] == 1 and single["examples"] == ["只有一句"] and "只有" in single["label"]


def test_clustering_is_deterministic_whatever_the_input_order() -> None:
    messages = POINTS + PARCEL_ZH + PARCEL_EN + NOISE
    shuffled = list(messages)
    random.Random(7).shuffle(shuffled)
    assert cluster_messages(messages) == cluster_messages(shuffled) == cluster_messages(messages)


@pytest.fixture()
def session(world: World) -> Iterator[Session]:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    with world.app.factory() as s:
        yield s


def test_unrecognized_reads_the_fallback_turns_of_the_filter(session: Session) -> None:
    result = unrecognized(session, "2026-11-02", "2026-11-03")
    assert result["fallback_messages"] == 2  # C-c: "asdfgh" (nlu_fallback), "嗯??" (answered by utter_default)
    assert sorted(e for c in result["clusters"] for e in c["examples"]) == ["asdfgh", "嗯??"]
    assert unrecognized(session, "2026-11-02", "2026-11-03", tier="gold")["clusters"] == []


def test_two_messages_share_a_cluster_only_when_alike() -> None:
    assert [c["size"] for c in cluster_messages(["积分怎么兑换", "积分怎么兑换呀"])] == [2]
    assert [c["size"] for c in cluster_messages(["积分怎么兑换", "where is my parcel"])] == [1, 1]


def test_the_index_refits_only_when_fallback_messages_change(session: Session) -> None:
    index = ClusterIndex()
    assert index.refresh(session) is True and index.refresh(session) is False
    model = index.model(session)
    session.add(AT(source="t", event_id=10_000, conversation_id=session.scalar(select(AC.id).where(AC.sender_id == "C-c")), seq=99,
                   at=datetime(2026, 11, 3, 20), day=date(2026, 11, 3), fallback=True, text_masked="积分兑换不了"))
    session.flush()
    assert index.model(session) is not model and index.refresh(session) is False
    result = index.unrecognized(session, "2026-11-03", "2026-11-03", limit=10)
    assert result["fallback_messages"] == 3 and sum(c["size"] for c in result["clusters"]) == 3
    assert index.unrecognized(session, "2026-11-02", "2026-11-02")["clusters"] == []


def test_texts_beyond_the_fitted_ones_join_their_nearest_cluster() -> None:
    model = ClusterModel.fit([(t, 5) for t in POINTS] + [(t, 5) for t in PARCEL_ZH])
    found = model.clusters(["积分怎么兑换呢亲"] + POINTS, limit=5)
    assert len(found) == 1 and found[0]["size"] == len(POINTS) + 1
