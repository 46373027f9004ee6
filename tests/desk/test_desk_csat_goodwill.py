"""CSAT ratings and goodwill coupons: validation, one rating per handoff, the agent's limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.desk import conversations, csat, goodwill, handoff
from personalization.desk.errors import DeskError
from personalization.models import AgentAction, Coupon, CsatRating
from personalization.services.coupons import usable_coupons

from .conftest import NOW, Members


def _served(session: Session, member_id: str, agent_id: int) -> tuple[str, int]:
    """A conversation of the member, claimed by the agent: (conversation id, handoff id)."""
    cid = conversations.open_conversation(session, member_id=member_id, visitor_id=None, now=NOW)["conversation_id"]
    hid = handoff.request_handoff(session, cid, reason="complaint", now=NOW)["handoff_id"]
    handoff.claim(session, hid, agent_id, now=NOW)
    return cid, hid


@pytest.mark.parametrize("score", [0, 6, "5", None, 4.0, True])
def test_csat_score_must_be_an_int_from_1_to_5(session: Session, members: Members, score: object) -> None:
    cid = conversations.open_conversation(session, member_id=members.with_orders, visitor_id=None)["conversation_id"]
    with pytest.raises(DeskError) as refused:
        csat.record_csat(session, cid, score)  # type: ignore[arg-type]
    assert refused.value.code == "bad_score"
    assert "1到5" in refused.value.message_zh


def test_csat_is_stored_once_per_handoff(session: Session, members: Members, agent_ids: dict[str, int]) -> None:
    cid, hid = _served(session, members.with_orders, agent_ids["agent1"])
    handoff.resolve(session, hid, agent_ids["agent1"], now=NOW)
    first = csat.record_csat(session, cid, 5, handoff_id=hid, now=NOW)
    second = csat.record_csat(session, cid, 1, handoff_id=hid, now=NOW)
    assert (first["created"], first["score"], first["member_id"], first["source"]) == (
        True, 5, members.with_orders, "widget",
    )  # fmt: skip
    assert (second["created"], second["score"], second["rating_id"]) == (False, 5, first["rating_id"])
    assert session.scalar(select(func.count()).select_from(CsatRating).where(CsatRating.conversation_id == cid)) == 1


def test_csat_for_a_handoff_of_another_conversation_is_refused(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    _, hid = _served(session, members.with_orders, agent_ids["agent1"])
    other = conversations.open_conversation(session, member_id=members.other, visitor_id=None)["conversation_id"]
    with pytest.raises(DeskError) as refused:
        csat.record_csat(session, other, 4, handoff_id=hid)
    assert refused.value.code == "no_handoff"
    with pytest.raises(DeskError):
        csat.record_csat(session, other, 4, source="email")


def test_goodwill_coupon_is_issued_to_the_member_and_audited(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    cid, _ = _served(session, members.with_orders, agent_ids["agent1"])
    card = goodwill.issue_goodwill_coupon(session, agent_ids["agent1"], members.with_orders, Decimal(15), cid, now=NOW)
    assert (card["value"], card["min_spend"], card["summary_zh"]) == (15.0, 0.0, "无门槛减15")
    assert card["valid_until"] == (NOW + timedelta(days=30) - timedelta(seconds=1)).isoformat()
    assert card["code"] in {c["code"] for c in usable_coupons(session=session, member_id=members.with_orders, now=NOW)}
    assert session.get(Coupon, card["code"]).member_id == members.with_orders
    action = session.scalars(select(AgentAction).where(AgentAction.kind == "goodwill_coupon")).one()
    assert (action.agent_id, action.conversation_id, action.detail["code"]) == (agent_ids["agent1"], cid, card["code"])


def test_goodwill_over_the_agents_amount_limit_is_refused(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    cid, _ = _served(session, members.with_orders, agent_ids["agent1"])
    with pytest.raises(DeskError) as over:
        goodwill.issue_goodwill_coupon(
            session, agent_ids["agent1"], members.with_orders, Decimal("20.01"), cid, now=NOW
        )
    assert over.value.code == "over_limit"
    for bad in (Decimal(0), Decimal(-5), "abc", Decimal("1.005")):
        with pytest.raises(DeskError) as refused:
            goodwill.issue_goodwill_coupon(session, agent_ids["agent1"], members.with_orders, bad, cid, now=NOW)  # type: ignore[arg-type]
        assert refused.value.code == "bad_amount"


def test_goodwill_daily_count_is_enforced_per_day(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    cid, _ = _served(session, members.with_orders, agent_ids["agent1"])
    for _ in range(5):
        goodwill.issue_goodwill_coupon(session, agent_ids["agent1"], members.with_orders, Decimal(5), cid, now=NOW)
    with pytest.raises(DeskError) as sixth:
        goodwill.issue_goodwill_coupon(session, agent_ids["agent1"], members.with_orders, Decimal(5), cid, now=NOW)
    assert sixth.value.code == "daily_limit"
    tomorrow = NOW + timedelta(days=1)
    assert goodwill.issue_goodwill_coupon(
        session, agent_ids["agent1"], members.with_orders, Decimal(5), cid, now=tomorrow
    )


def test_ops_cannot_issue_goodwill_coupons(session: Session, members: Members, agent_ids: dict[str, int]) -> None:
    cid, _ = _served(session, members.with_orders, agent_ids["agent1"])
    with pytest.raises(DeskError) as refused:
        goodwill.issue_goodwill_coupon(session, agent_ids["ops1"], members.with_orders, Decimal(1), cid, now=NOW)
    assert refused.value.code == "forbidden"


def test_goodwill_only_for_the_member_of_a_conversation_the_agent_serves(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    cid, _ = _served(session, members.with_orders, agent_ids["agent1"])
    cases = [
        (agent_ids["agent2"], members.with_orders, "not_yours"),
        (agent_ids["agent1"], members.other, "no_member"),
        (agent_ids["agent1"], "M999999999", "no_member"),
    ]
    for agent_id, member_id, code in cases:
        with pytest.raises(DeskError) as refused:
            goodwill.issue_goodwill_coupon(session, agent_id, member_id, Decimal(5), cid, now=NOW)
        assert refused.value.code == code
    card = goodwill.issue_goodwill_coupon(session, agent_ids["admin"], members.with_orders, Decimal(50), cid, now=NOW)
    assert card["value"] == 50.0
