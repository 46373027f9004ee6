"""privacy: what is stored, and requests that change consent at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import BrowseEvent, Coupon, Member, Order, PointsEntry, PrivacyRequest
from personalization.services import privacy, recommendations

from .conftest import NOW


def _count(session: Session, model: type, member_id: str) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.member_id == member_id))


def test_describe_stored_data_counts_the_members_rows(session: Session, active_member_id: str) -> None:
    stored = privacy.describe_stored_data(session=session, member_id=active_member_id)
    assert stored["member_id"] == active_member_id
    assert stored["orders"] == _count(session, Order, active_member_id) > 0
    assert stored["browse_events"] == _count(session, BrowseEvent, active_member_id)
    assert stored["coupons"] == _count(session, Coupon, active_member_id)
    assert stored["points_entries"] == _count(session, PointsEntry, active_member_id) > 0
    assert stored["order_items"] >= stored["orders"]
    assert "phone" in stored["profile_fields"]
    assert stored["conversations_note_zh"] and stored["conversations_note_en"]


def test_opt_out_turns_personalization_off_at_once(session: Session, active_member_id: str) -> None:
    later = NOW + timedelta(hours=1)
    result = privacy.record_privacy_request(session=session, member_id=active_member_id, kind="opt_out", now=later)
    assert result["kind"] == "opt_out" and result["status"] == "completed" and result["request_id"].startswith("PR")
    member = session.get(Member, active_member_id)
    assert member.consent_personalization is False and member.consent_updated_at == later
    assert _count(session, PrivacyRequest, active_member_id) == 1
    recs = recommendations.recommend_for_member(session=session, member_id=active_member_id, k=5, now=NOW)
    assert recs == recommendations.best_sellers(session=session, k=5, now=NOW)


def test_opt_in_turns_personalization_back_on(session: Session, active_member_id: str) -> None:
    privacy.record_privacy_request(session=session, member_id=active_member_id, kind="opt_out", now=NOW)
    privacy.record_privacy_request(session=session, member_id=active_member_id, kind="opt_in", now=NOW)
    assert session.get(Member, active_member_id).consent_personalization is True


def test_export_request_is_received_for_staff(session: Session, active_member_id: str) -> None:
    result = privacy.record_privacy_request(session=session, member_id=active_member_id, kind="export", now=NOW)
    assert result["status"] == "received"
    assert session.get(Member, active_member_id).consent_personalization is True


def test_unknown_privacy_request_kind_is_rejected(session: Session, active_member_id: str) -> None:
    with pytest.raises(ValueError):
        privacy.record_privacy_request(session=session, member_id=active_member_id, kind="sell_my_data")


def test_privacy_requests_for_unknown_members_give_none(session: Session) -> None:
    assert privacy.describe_stored_data(session=session, member_id="M999999") is None
    assert privacy.record_privacy_request(session=session, member_id="abc", kind="opt_out") is None


def test_open_requests_list_what_staff_must_do_and_a_download_completes_exports(session: Session, active_member_id: str) -> None:
    privacy.record_privacy_request(session=session, member_id=active_member_id, kind="export", now=NOW)
    privacy.record_privacy_request(session=session, member_id=active_member_id, kind="opt_out", now=NOW)
    assert [r["kind"] for r in privacy.open_privacy_requests(session=session)] == ["export"]
    request_id = privacy.complete_export_requests(session=session, member_id=active_member_id, now=NOW)
    assert request_id.startswith("PR") and privacy.open_privacy_requests(session=session) == []
