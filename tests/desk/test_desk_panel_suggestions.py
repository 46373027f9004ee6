"""The agent's profile panel and suggested replies."""

from __future__ import annotations

from sqlalchemy.orm import Session

from personalization.desk.panel import profile_panel
from personalization.desk.suggestions import suggest_replies
from personalization.models import Order

from .conftest import NOW, Db, Members


def test_panel_of_a_member_with_orders(session: Session, shared_db: Db, members: Members) -> None:
    panel = profile_panel(session, members.with_orders, shared_db.settings, now=NOW)
    assert panel["anonymous"] is False and panel["member_id"] == members.with_orders
    assert panel["tier"]["code"] in ("normal", "silver", "gold", "diamond")
    assert isinstance(panel["points"]["balance"], int)
    newest = (
        session.query(Order).filter(Order.member_id == members.with_orders).order_by(Order.created_at.desc()).first()
    )
    assert 1 <= len(panel["recent_orders"]) <= 5
    assert panel["recent_orders"][0]["order_id"] == newest.order_id
    assert panel["consent_personalization"] is True and len(panel["recommendations"]) == 3
    assert all(item["reason_zh"] and item["reason_en"] for item in panel["recommendations"])
    assert panel["recommendations_note_zh"] is None


def test_panel_of_an_opted_out_member_has_no_recommendations(session: Session, shared_db: Db, members: Members) -> None:
    panel = profile_panel(session, members.opted_out, shared_db.settings, now=NOW)
    assert panel["consent_personalization"] is False
    assert panel["recommendations"] == []
    assert "关闭个性化" in panel["recommendations_note_zh"] and "opted out" in panel["recommendations_note_en"]
    assert panel["recent_orders"]  # service data are still shown


def test_panel_of_a_visitor_is_anonymous(session: Session, shared_db: Db) -> None:
    assert profile_panel(session, None, shared_db.settings) == {"anonymous": True}
    assert profile_panel(session, "M999999999", shared_db.settings) == {"anonymous": True}


PANEL = {
    "recent_orders": [
        {"order_id": "DD202610010001", "status_zh": "运输中", "status_en": "In transit", "status": "shipped"}
    ],
    "coupons": [{"code": "CPX"}],
    "points": {"balance": 1200},
    "tier": {"name_zh": "金卡会员", "name_en": "Gold"},
}


def _message(intent: str | None, emotion: str | None = None) -> dict:
    return {"text": "...", "intent": intent, "sentiment": {"emotion": emotion, "polarity": "negative", "score": 0.9}}


def test_angry_member_gets_an_apology_first_in_both_languages() -> None:
    zh = suggest_replies(_message("check_order_status", "anger"), PANEL, "zh")
    en = suggest_replies(_message("check_order_status", "anger"), PANEL, "en")
    assert zh[0].startswith("非常抱歉") and en[0].startswith("I'm very sorry")
    assert any("DD202610010001" in line and "运输中" in line for line in zh)
    assert any("In transit" in line for line in en)
    assert 3 <= len(zh) <= 4 and 3 <= len(en) <= 4


def test_coupon_question_offers_a_goodwill_coupon() -> None:
    replies = suggest_replies(_message("ask_coupons"), PANEL, "zh")
    assert "补偿券" in replies[0]
    assert 3 <= len(replies) <= 4


def test_without_a_member_message_the_agent_greets_by_name() -> None:
    assert (
        suggest_replies(None, {"anonymous": True}, "zh", agent_name="小王")[0]
        == "您好，我是人工客服小王，请问有什么可以帮您？"
    )
    assert suggest_replies(None, {}, "en", agent_name="Wang")[0] == "Hello, I'm Wang. How can I help you?"
    assert len(suggest_replies(None, {}, "zh")) == 3
