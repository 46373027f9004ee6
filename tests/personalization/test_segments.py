"""segments: k-means on RFM + tenure, named by rules on the centroids, stable across reruns."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization import profiles, segments
from personalization.models import MemberProfileRow

from .conftest import NOW, SeededDb
from .test_personalization_cli import _ok
from .test_profiles import _copy


def test_names_follow_the_centroid_rules() -> None:
    #                    recency frequency monetary tenure
    centroids = np.array(
        [
            [2.0, 1.0, 1.0, 3.0],  # long recency, some history -> at_risk
            [0.5, 3.0, 4.0, 3.0],  # recent, big spend -> high_value
            [3.0, 0.0, 0.0, 3.5],  # longest recency -> dormant
            [0.3, 1.0, 1.5, 0.5],  # shortest tenure -> new
            [1.0, 2.0, 2.0, 3.0],  # the rest -> potential
        ]
    )
    assert segments.name_clusters(centroids) == ("at_risk", "high_value", "dormant", "new", "potential")


def test_name_clusters_rejects_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="centroids"):
        segments.name_clusters(np.zeros((3, 4)))


def test_same_data_gives_the_same_assignment_in_any_order(session: Session) -> None:
    records = profiles.load_rfm_records(session=session, now=NOW)
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    first, second = segments.fit_segments(records), segments.fit_segments(shuffled)
    assert first.assign(records) == second.assign(records)
    assert np.allclose(first.centroids_, second.centroids_)
    assert sorted(first.names_) == sorted(segments.SEGMENT_NAMES)


def test_too_few_members_to_segment_is_a_clear_error() -> None:
    record = segments.RfmRecord(member_id="M100001", recency_days=3, frequency=1, monetary=10, tenure_days=5)
    with pytest.raises(ValueError, match="at least"):
        segments.fit_segments([record])


def test_segment_summary_covers_every_member_with_meaningful_names(session: Session, seeded_db: SeededDb) -> None:
    summary = segments.compute_segments(session=session, now=NOW)
    by_code = {s["code"]: s for s in summary["segments"]}
    assert set(by_code) == set(segments.SEGMENT_NAMES)
    assert sum(s["size"] for s in summary["segments"]) == summary["members"] == seeded_db.counts["members"]
    assert by_code["new"]["name_zh"] == "新客" and by_code["at_risk"]["name_en"] == "At risk"
    centroid = {code: s["centroid"] for code, s in by_code.items()}
    assert min(centroid, key=lambda c: centroid[c]["tenure_days"]) == "new"
    assert max(centroid, key=lambda c: centroid[c]["recency_days"]) == "dormant"
    assert centroid["high_value"]["monetary"] > centroid["potential"]["monetary"]
    assert centroid["high_value"]["monetary"] > centroid["at_risk"]["monetary"]


def test_profiles_store_the_segment_the_summary_counts(session: Session) -> None:
    profiles.compute_profiles(session=session, now=NOW, progress=False, full=True)
    records = profiles.load_rfm_records(session=session, now=NOW)
    expected = dict(zip((r.member_id for r in records), segments.fit_segments(records).assign(records), strict=True))
    rows = session.execute(select(MemberProfileRow.member_id, MemberProfileRow.segment, MemberProfileRow.profiled))
    for member_id, segment, profiled in rows:
        assert segment == (expected[member_id] if profiled else None)


def test_segments_command_prints_sizes_names_and_centroids(seeded_db: SeededDb, tmp_path: Path) -> None:
    url = _copy(seeded_db, tmp_path)
    printed = _ok(url, "segments", "--now", NOW.isoformat())
    again = _ok(url, "segments", "--now", NOW.isoformat())
    assert printed == again
    assert [s["code"] for s in printed["segments"]] == list(segments.SEGMENT_NAMES)
    for segment in printed["segments"]:
        assert segment["size"] > 0 and segment["name_zh"] and segment["name_en"]
        assert set(segment["centroid"]) == set(segments.FEATURES)
