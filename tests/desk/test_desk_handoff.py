"""Handoff queue: documented priority, one active handoff per conversation, claim race, permissions."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.desk import conversations, handoff
from personalization.desk.errors import DeskError
from personalization.models import AgentAction, HandoffRequest, Member, Tier
from personalization.services import requests

from .conftest import NOW, Db, Members


def _conversation(session: Session, member_id: str | None, visitor_id: str | None = None) -> str:
    return conversations.open_conversation(session, member_id=member_id, visitor_id=visitor_id, now=NOW)[
        "conversation_id"
    ]


def _queued(session: Session, member_id: str | None, *, reason: str = "member_request", emotion: str | None = None,
            minutes_ago: int = 0, visitor: str = "v") -> dict:  # fmt: skip
    cid = _conversation(session, member_id, None if member_id else f"{visitor}-{reason}-{emotion}-{minutes_ago}")
    return handoff.request_handoff(
        session, cid, reason=reason, emotion=emotion, now=NOW - timedelta(minutes=minutes_ago)
    )


def test_queue_is_ordered_by_the_documented_score(session: Session, members: Members) -> None:
    diamond = _queued(session, members.by_tier["diamond"])  # 30
    angry_visitor = _queued(session, None, reason="negative_emotion", emotion="anger")  # 30 + 15 = 45
    gold_anxious = _queued(session, members.by_tier["gold"], emotion="anxiety")  # 20 + 20 = 40
    silver_waiting = _queued(session, members.by_tier["silver"], minutes_ago=90)  # 10 + 30 (capped)
    normal_complaint = _queued(session, members.by_tier["normal"], reason="complaint")  # 0 + 10
    listed = handoff.queue(session, now=NOW)
    assert [item["handoff_id"] for item in listed] == [
        angry_visitor["handoff_id"],
        silver_waiting["handoff_id"],  # 40 like gold, but queued earlier
        gold_anxious["handoff_id"],
        diamond["handoff_id"],
        normal_complaint["handoff_id"],
    ]
    assert [item["score"] for item in listed] == [45, 40, 40, 30, 10]
    assert [item["queue_position"] for item in listed] == [1, 2, 3, 4, 5]
    first = listed[0]
    assert (first["tier"], first["emotion"], first["reason"], first["member_name_masked"]) == (
        None, "anger", "negative_emotion", None,
    )  # fmt: skip
    assert listed[1]["waiting_seconds"] == 90 * 60
    assert listed[2]["member_name_masked"].endswith("*") and listed[2]["tier"] == "gold"


def test_waiting_time_lifts_an_old_request_over_a_newer_higher_tier(session: Session, members: Members) -> None:
    silver = _queued(session, members.by_tier["silver"])  # 10
    gold = _queued(session, members.by_tier["gold"])  # 20
    later = NOW + timedelta(minutes=11)
    ids = [item["handoff_id"] for item in handoff.queue(session, now=later)]
    assert ids.index(gold["handoff_id"]) < ids.index(silver["handoff_id"])  # both waited: 31 vs 21
    assert handoff.static_priority(tier="diamond", emotion="anger", reason="negative_emotion") == 75


def test_queue_shows_the_last_member_message(session: Session, members: Members) -> None:
    cid = _conversation(session, members.with_orders)
    conversations.append_message(session, cid, sender="member", text="快递一直没到")
    conversations.append_message(session, cid, sender="bot", text="正在为您转接")
    handoff.request_handoff(session, cid, reason="member_request", now=NOW)
    (item,) = [i for i in handoff.queue(session, now=NOW) if i["conversation_id"] == cid]
    assert item["last_message"] == "快递一直没到"


def test_the_queue_preview_hides_personal_data_from_every_agent(session: Session, members: Members) -> None:
    member_id = members.with_orders
    name = session.get(Member, member_id).name
    cid = _conversation(session, member_id)
    conversations.append_message(session, cid, sender="member", text=f"我是{name}，电话13812345678，快递没到")
    handoff.request_handoff(session, cid, reason="member_request", now=NOW)
    (item,) = [i for i in handoff.queue(session, now=NOW) if i["conversation_id"] == cid]
    assert "13812345678" not in item["last_message"] and "138****5678" in item["last_message"]
    assert name not in item["last_message"] and item["last_message"].endswith("快递没到")


def test_a_conversation_has_at_most_one_active_handoff(session: Session, members: Members) -> None:
    cid = _conversation(session, members.with_orders)
    first = handoff.request_handoff(session, cid, reason="member_request", now=NOW)
    again = handoff.request_handoff(session, cid, reason="repeated_fallback", now=NOW)
    via_action = requests.record_handoff(session=session, conversation_id=cid, member_id=members.with_orders,
                                         reason="complaint", emotion="anger", now=NOW)  # fmt: skip
    assert (first["created"], again["created"]) == (True, False)
    assert again["handoff_id"] == first["handoff_id"] == via_action["handoff_id"]
    count = session.scalar(
        select(func.count()).select_from(HandoffRequest).where(HandoffRequest.conversation_id == cid)
    )
    assert count == 1


def test_record_handoff_stores_the_emotion_and_returns_the_desk_id(session: Session, members: Members) -> None:
    result = requests.record_handoff(session=session, conversation_id="rasa-sender-1", member_id=members.with_orders,
                                     reason="negative_emotion", emotion="anger", now=NOW)  # fmt: skip
    row = session.get(HandoffRequest, result["handoff_id"])
    assert (row.emotion, row.reason, row.status) == ("anger", "negative_emotion", "queued")
    assert result["handoff_ref"] == f"HO{row.id:06d}"
    assert result["priority"] == handoff.static_priority(tier=row.tier, emotion="anger", reason="negative_emotion")


def test_conversation_state_follows_the_handoff(session: Session, members: Members, agent_ids: dict[str, int]) -> None:
    cid = _conversation(session, members.with_orders)
    queued = handoff.request_handoff(session, cid, reason="member_request", now=NOW)
    state = conversations.get_conversation(session, cid, now=NOW)
    assert (state["state"], state["handoff_id"]) == ("queued", queued["handoff_id"])
    assert state["queue_position"] >= 1
    handoff.claim(session, queued["handoff_id"], agent_ids["agent1"], now=NOW)
    state = conversations.get_conversation(session, cid, now=NOW)
    assert (state["state"], state["agent_name"], state["queue_position"]) == ("assigned", "小王", None)
    handoff.resolve(session, queued["handoff_id"], agent_ids["agent1"], now=NOW)
    assert conversations.get_conversation(session, cid, now=NOW)["state"] == "bot"


def test_claim_only_from_the_queue_and_audited(session: Session, members: Members, agent_ids: dict[str, int]) -> None:
    hid = _queued(session, members.with_orders)["handoff_id"]
    claimed = handoff.claim(session, hid, agent_ids["agent1"], now=NOW + timedelta(minutes=2))
    assert (claimed["status"], claimed["agent_name"], claimed["waiting_seconds"]) == ("assigned", "小王", 120)
    with pytest.raises(DeskError) as taken:
        handoff.claim(session, hid, agent_ids["agent2"], now=NOW)
    assert taken.value.code == "already_claimed"
    with pytest.raises(DeskError) as ops:
        handoff.claim(session, _queued(session, members.other)["handoff_id"], agent_ids["ops1"], now=NOW)
    assert ops.value.code == "forbidden"
    kinds = session.scalars(select(AgentAction.kind).where(AgentAction.handoff_id == hid)).all()
    assert kinds == ["claim"]


def test_of_two_agents_claiming_at_once_exactly_one_wins(
    fresh_db: Db, members: Members, agent_ids: dict[str, int]
) -> None:
    with fresh_db.factory() as s:
        hid = _queued(s, members.with_orders)["handoff_id"]
        s.commit()
    barrier = threading.Barrier(2)

    def attempt(username: str) -> str:
        barrier.wait(timeout=10)
        with fresh_db.factory() as s:
            try:
                handoff.claim(s, hid, agent_ids[username], now=NOW)
            except DeskError as exc:
                s.rollback()
                return exc.code
            s.commit()
            return "won"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(attempt, ["agent1", "agent2"]))
    assert sorted(outcomes) == ["already_claimed", "won"]
    winner = ["agent1", "agent2"][outcomes.index("won")]
    with fresh_db.factory() as s:
        row = s.get(HandoffRequest, hid)
        assert (row.status, row.agent_id) == ("assigned", agent_ids[winner])
        assert s.scalar(select(func.count()).select_from(AgentAction).where(AgentAction.kind == "claim")) == 1


def test_transfer_is_for_the_assigned_agent_or_an_admin(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    hid = _queued(session, members.with_orders)["handoff_id"]
    handoff.claim(session, hid, agent_ids["agent1"], now=NOW)
    with pytest.raises(DeskError) as not_theirs:
        handoff.transfer(session, hid, agent_ids["agent2"], agent_ids["agent2"], now=NOW)
    assert not_theirs.value.code == "not_yours"
    with pytest.raises(DeskError) as to_ops:
        handoff.transfer(session, hid, agent_ids["agent1"], agent_ids["ops1"], now=NOW)
    assert to_ops.value.code == "bad_target"
    moved = handoff.transfer(session, hid, agent_ids["agent1"], agent_ids["agent2"], now=NOW)
    assert (moved["agent_name"], moved["status"]) == ("小李", "assigned")
    back = handoff.transfer(session, hid, agent_ids["admin"], agent_ids["agent1"], now=NOW)
    assert back["agent_name"] == "小王"


def test_resolve_is_for_the_assigned_agent_or_an_admin(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    hid = _queued(session, members.with_orders)["handoff_id"]
    with pytest.raises(DeskError) as queued:
        handoff.resolve(session, hid, agent_ids["agent1"], now=NOW)
    assert queued.value.code == "not_assigned"
    handoff.claim(session, hid, agent_ids["agent1"], now=NOW)
    for username, code in (("agent2", "not_yours"), ("ops1", "forbidden")):
        with pytest.raises(DeskError) as refused:
            handoff.resolve(session, hid, agent_ids[username], now=NOW)
        assert refused.value.code == code
    done = handoff.resolve(session, hid, agent_ids["agent1"], now=NOW + timedelta(minutes=5))
    assert (done["status"], done["resolved_at"]) == ("resolved", (NOW + timedelta(minutes=5)).isoformat())
    other = _queued(session, members.other)["handoff_id"]
    handoff.claim(session, other, agent_ids["agent2"], now=NOW)
    assert handoff.resolve(session, other, agent_ids["admin"], now=NOW)["status"] == "resolved"


def test_agents_see_queued_and_their_own_conversations_only(
    session: Session, members: Members, agent_ids: dict[str, int]
) -> None:
    queued_cid = _conversation(session, members.with_orders)
    handoff.request_handoff(session, queued_cid, reason="member_request", now=NOW)
    mine_cid = _conversation(session, members.other)
    hid = handoff.request_handoff(session, mine_cid, reason="member_request", now=NOW)["handoff_id"]
    handoff.claim(session, hid, agent_ids["agent1"], now=NOW)
    bot_cid = _conversation(session, None, "v-bot-only")
    view = lambda who, cid: handoff.can_agent_view(session, agent_ids[who], cid)
    assert view("agent1", queued_cid) and view("agent2", queued_cid)
    assert view("agent1", mine_cid) and not view("agent2", mine_cid)
    assert not view("agent1", bot_cid)
    assert view("admin", mine_cid) and view("admin", bot_cid)
    assert not any(view("ops1", cid) for cid in (queued_cid, mine_cid, bot_cid))
    assert [i["handoff_id"] for i in handoff.assigned_to(session, agent_ids["agent1"], now=NOW)] == [hid]
    handoff.resolve(session, hid, agent_ids["agent1"], now=NOW)
    assert not view("agent1", mine_cid)


def test_member_can_leave_the_queue(session: Session, members: Members) -> None:
    cid = _conversation(session, members.with_orders)
    handoff.request_handoff(session, cid, reason="member_request", now=NOW)
    cancelled = handoff.cancel(session, cid, now=NOW)
    assert cancelled["status"] == "cancelled"
    assert handoff.active_handoff(session, cid) is None and handoff.cancel(session, cid) is None
    assert handoff.request_handoff(session, cid, reason="member_request", now=NOW)["created"] is True


def test_unknown_handoffs_and_agents_are_refused(session: Session, agent_ids: dict[str, int]) -> None:
    with pytest.raises(DeskError) as missing:
        handoff.claim(session, 10**9, agent_ids["agent1"])
    with pytest.raises(DeskError) as nobody:
        handoff.claim(session, 1, 10**9)
    assert (missing.value.code, nobody.value.code) == ("not_found", "no_agent")
    with pytest.raises(DeskError):
        handoff.request_handoff(session, "C-nope", reason="member_request")


def test_priority_weights_cover_the_real_tier_codes(session: Session) -> None:
    codes = set(session.scalars(select(Tier.code)))
    assert codes == set(handoff.PRIORITY["tier"])
    assert [handoff.PRIORITY["tier"][c] for c in ("normal", "silver", "gold", "diamond")] == [0, 10, 20, 30]
