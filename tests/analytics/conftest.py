"""A small hand-built world with known answers: five conversations over two days.

=====  ======  =======================  ==============================================================
 day   sender  member                   what happens
=====  ======  =======================  ==============================================================
 D1    C-a     M100001 张伟 gold/loyal   asks for recommendations, asks for more (engaged), thanks: bot
 D1    C-b     M100002 李娜 normal/at_risk order status (anxious), angry, hands off: agent claims 60 s,
                                        replies 90 s, resolves 600 s after the request; CSAT 5
 D2    C-c     anonymous                two fallbacks (nlu_fallback, then utter_default): unresolved
 D2    C-d     M100001                  cards, coupon offers, claims CP1 (later used) and CP2: bot
 D2    C-a     M100001 (2nd session)    cards shown, no engagement, goodbye (joy); CSAT 3 by chat: bot
=====  ======  =======================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.analytics.builders import (
    AppDb,
    EventLog,
    add_chat,
    add_coupon,
    add_csat,
    add_handoff,
    app_db,
    product_cards,
    write_events,
)

D1 = datetime(2026, 11, 2)
D2 = datetime(2026, 11, 3)


def at(day: datetime, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute, seconds=second)


@dataclass(frozen=True)
class World:
    app: AppDb
    events_url: str
    log: EventLog
    handoff_id: int


def scenario_events(handoff_id: int) -> EventLog:
    log = EventLog()
    # C-a, D1: engaged with recommendations.
    log.session_start("C-a", at(D1, 10), member="M100001", name="张伟", tier="gold")
    log.user("C-a", at(D1, 10, 0, 5), "有什么推荐", "ask_recommendation", member="M100001")
    log.action("C-a", at(D1, 10, 0, 6), "action_recommend_products")
    log.bot("C-a", at(D1, 10, 0, 6), "为您精选了这些好物", product_cards("SKU10001", "SKU10002"))
    log.action("C-a", at(D1, 10, 0, 6), "action_listen")
    # C-b starts while C-a is still open: events of two conversations interleave.
    log.session_start("C-b", at(D1, 11), member="M100002", name="李娜", tier="normal")
    log.user("C-a", at(D1, 11, 0, 10), "换一批", "ask_recommendation", polarity="positive", emotion="joy", member="M100001")
    log.bot("C-a", at(D1, 11, 0, 11), "再看看这些", product_cards("SKU10003"))
    log.user("C-b", at(D1, 11, 0, 15), "我的订单DD202611010001到哪了", "check_order_status",
             polarity="negative", emotion="anxiety", member="M100002")
    log.action("C-b", at(D1, 11, 0, 16), "action_order_status")
    log.bot("C-b", at(D1, 11, 0, 16), "您的订单运输中", {"type": "order", "order": {"order_id": "DD202611010001"}})
    log.user("C-a", at(D1, 11, 0, 20), "谢谢，我叫张伟，电话13812345678", "thank", polarity="positive", emotion="joy", member="M100001")
    log.bot("C-a", at(D1, 11, 0, 21), "不客气")
    log.user("C-b", at(D1, 11, 0, 25), "太慢了！我是李娜 13900001111 转人工", "request_human",
             polarity="negative", emotion="anger", member="M100002")
    log.action("C-b", at(D1, 11, 0, 30), "action_handoff_to_human")
    log.bot("C-b", at(D1, 11, 0, 30), "正在为您转接人工客服",
            {"type": "handoff", "handoff_id": handoff_id, "reason": "member_request", "priority": 40, "position": 1})
    # C-c, D2: anonymous, two fallbacks.
    log.session_start("C-c", at(D2, 9))
    log.user("C-c", at(D2, 9, 0, 5), "asdfgh", "nlu_fallback", confidence=1.0)
    log.action("C-c", at(D2, 9, 0, 6), "utter_default")
    log.bot("C-c", at(D2, 9, 0, 6), "抱歉，我没太明白")
    log.user("C-c", at(D2, 9, 0, 30), "嗯??", "out_of_scope", confidence=0.3)
    log.action("C-c", at(D2, 9, 0, 31), "utter_default")
    log.bot("C-c", at(D2, 9, 0, 31), "抱歉，我没太明白")
    # C-d, D2: cards, then coupons claimed.
    log.session_start("C-d", at(D2, 15), member="M100001", name="张伟", tier="gold")
    log.user("C-d", at(D2, 15, 0, 5), "推荐点东西", "ask_recommendation", member="M100001")
    log.bot("C-d", at(D2, 15, 0, 6), "为您精选了这些好物", product_cards("SKU10004"))
    log.user("C-d", at(D2, 15, 1), "有什么优惠券", "ask_coupons", member="M100001")
    log.bot("C-d", at(D2, 15, 1, 1), "可以领这些券", {"type": "coupon_offers", "items": [{"template_id": "T10"}]})
    log.user("C-d", at(D2, 15, 2), '/ask_coupons{"coupon_template": "T10"}', "ask_coupons", member="M100001")
    log.bot("C-d", at(D2, 15, 2, 1), "领取成功", {"type": "coupon_claim", "status": "claimed", "template_id": "T10", "coupon": {"code": "CP1"}})
    log.user("C-d", at(D2, 15, 3), '/ask_coupons{"coupon_template": "T10"}', "ask_coupons", member="M100001")
    log.bot("C-d", at(D2, 15, 3, 1), "领取成功", {"type": "coupon_claim", "status": "claimed", "template_id": "T10", "coupon": {"code": "CP2"}})
    # C-a again, D2: a second session of the same sender; cards shown, no engagement.
    log.session_start("C-a", at(D2, 16), member="M100001", name="张伟", tier="gold")
    log.user("C-a", at(D2, 16, 0, 5), "推荐一下", "ask_recommendation", member="M100001")
    log.bot("C-a", at(D2, 16, 0, 6), "为您精选了这些好物", product_cards("SKU10005"))
    log.user("C-a", at(D2, 16, 1), "再见", "goodbye", polarity="positive", emotion="joy", member="M100001")
    log.action("C-a", at(D2, 16, 1, 1), "utter_goodbye")
    return log


def build_world(folder: Path, *, resolved: bool = True, app_url: str | None = None) -> World:
    """The app database (handoff, chat copy, CSAT, coupons) and the broker database of the scenario."""
    app = app_db(app_url or folder / "shop.db")
    with app.factory() as session:
        request = add_handoff(
            session, "C-b", "M100002", at(D1, 11, 0, 30), emotion="anger", tier="normal",
            claimed=at(D1, 11, 1, 30), resolved=at(D1, 11, 10, 30) if resolved else None,
        )
        add_chat(session, "C-b", "M100002", [
            ("member", at(D1, 11, 0, 25), "太慢了！转人工"),
            ("agent", at(D1, 11, 2), "您好，我是小王"),
            ("agent", at(D1, 11, 5), "已为您催件"),
        ])
        if resolved:
            add_csat(session, "C-b", 5, at(D1, 11, 11), handoff_id=request.id, member_id="M100002")
        add_csat(session, "C-a", 3, at(D2, 16, 5), member_id="M100001")
        add_coupon(session, "CP1", "M100001", used=True)
        add_coupon(session, "CP2", "M100001", used=False)
        session.commit()
        handoff_id = request.id
    log = scenario_events(handoff_id)
    return World(app=app, events_url=write_events(folder / "events.db", log), log=log, handoff_id=handoff_id)


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(tmp_path)
    yield built
    built.app.engine.dispose()
