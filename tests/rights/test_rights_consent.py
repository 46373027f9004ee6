"""Opt-out means only non-personal answers: recommendations, coupon offers, the agent's panel and
suggestions, and the shop recommender's training data."""

from __future__ import annotations

from personalization import coupon_offers
from personalization.desk.panel import profile_panel
from personalization.desk.suggestions import suggest_replies
from personalization.models import MemberProfileRow
from personalization.services import privacy, recommendations
from personalization.shop_recommender import load_shop_data
from tests.rights.conftest import at

NOW = at(60)


def _opt_out(world, member_id: str) -> None:
    with world.session() as s:
        assert privacy.record_privacy_request(session=s, member_id=member_id, kind="opt_out", now=NOW)["status"] == "completed"
        s.commit()


def test_opt_out_deletes_the_stored_profile_at_once(world) -> None:
    _opt_out(world, world.a.member_id)
    with world.session() as s:
        assert s.get(MemberProfileRow, world.a.member_id) is None
        assert s.get(MemberProfileRow, world.b.member_id) is not None


def test_opted_out_member_gets_best_sellers_and_open_coupon_offers(world) -> None:
    _opt_out(world, world.a.member_id)
    with world.session() as s:
        recs = recommendations.recommend_for_member(session=s, member_id=world.a.member_id, k=5, now=NOW)
        assert recs == recommendations.best_sellers(session=s, k=5, now=NOW)
        offers = coupon_offers.offers_for_member(session=s, member_id=world.a.member_id, now=NOW)
    assert offers and all(o.get("personalized") is False for o in offers)


def test_agent_panel_and_suggestions_hold_nothing_profiled_after_opt_out(world) -> None:
    with world.session() as s:
        before = profile_panel(s, world.a.member_id, world.settings, now=NOW)
    assert before["segment"] is not None and before["churn_risk"] is not None
    _opt_out(world, world.a.member_id)
    with world.session() as s:
        s.add(MemberProfileRow(member_id=world.a.member_id, computed_at=NOW, segment="loyal", lifecycle="active",
                               profiled=True, churn_risk=0.3, data={}))  # a stale row written before the opt-out
        s.flush()
        panel = profile_panel(s, world.a.member_id, world.settings, now=NOW)
    assert panel["consent_personalization"] is False
    assert panel["segment"] is None and panel["churn_risk"] is None and panel["recommendations"] == []
    replies = suggest_replies({"intent": "ask_recommendation", "sentiment": None}, panel, "zh")
    titles = [card["title_zh"] for card in before["recommendations"]]
    assert replies and not any(title in reply for title in titles for reply in replies)


def test_the_shop_recommender_does_not_learn_from_opted_out_members(world) -> None:
    with world.session() as s:
        assert world.a.member_id in {m for m, *_ in load_shop_data(s).interactions}
    _opt_out(world, world.a.member_id)
    with world.session() as s:
        members = {m for m, *_ in load_shop_data(s).interactions}
    assert world.a.member_id not in members and world.b.member_id in members


