"""action_manage_privacy: requests recorded from the member's words; otherwise what is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.privacy import ActionManagePrivacy, request_kind
from personalization.models import Member, PrivacyRequest
from personalization.services import privacy


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我想导出我的数据", "export"),
        ("我的数据能下载一份吗", "export"),
        ("export my data", "export"),
        ("删除我的个人数据", "delete"),
        ("我要注销账号", "delete"),
        ("please erase everything", "delete"),
        ("关闭个性化推荐", "opt_out"),
        ("不要给我个性化推荐了", "opt_out"),
        ("别再根据我的浏览记录推东西了", "opt_out"),
        ("I want to opt out", "opt_out"),
        ("开启个性化推荐", "opt_in"),
        ("turn on personalised recommendations", "opt_in"),
        ("你们存了我哪些信息", None),
        ("隐私政策在哪看", None),
    ],
)
def test_request_kind_from_the_members_words(text: str, kind: str | None) -> None:
    assert request_kind(text) == kind


def test_opt_out_is_recorded_and_takes_effect(shop, members, tracker, run) -> None:
    result = run(ActionManagePrivacy(), tracker("关闭个性化推荐", member_id=members.with_orders))

    with shop.session() as s:
        member = s.get(Member, members.with_orders)
        (request,) = s.scalars(select(PrivacyRequest)).all()
    assert member.consent_personalization is False
    assert (request.kind, request.member_id) == ("opt_out", members.with_orders)
    assert result.responses == ["utter_privacy_opt_out"]


def test_delete_request_is_recorded_with_its_number(shop, members, tracker, run) -> None:
    result = run(ActionManagePrivacy(), tracker("delete my data", member_id=members.with_orders, language="en"))

    with shop.session() as s:
        (request,) = s.scalars(select(PrivacyRequest)).all()
    assert request.kind == "delete"
    assert f"PR{request.id:06d}" in result.text


def test_otherwise_the_stored_data_are_described_with_request_buttons(shop, members, tracker, run) -> None:
    result = run(ActionManagePrivacy(), tracker("你们存了我哪些信息", member_id=members.with_orders))

    with shop.session() as s:
        counts = privacy.describe_stored_data(session=s, member_id=members.with_orders)
        assert s.scalars(select(PrivacyRequest)).all() == []
    assert f"订单 {counts['orders']} 笔" in result.text
    assert f"浏览记录 {counts['browse_events']} 条" in result.text
    assert [b["payload"] for b in result.buttons] == ["我想导出我的数据", "删除我的个人数据", "关闭个性化推荐"]


def test_visitor_gets_the_general_privacy_answer(shop, tracker, run) -> None:
    result = run(ActionManagePrivacy(), tracker("删除我的个人数据"))

    with shop.session() as s:
        assert s.scalars(select(PrivacyRequest)).all() == []
    assert result.responses == ["utter_privacy_anonymous", "utter_login_invite"]


def test_export_request_offers_the_members_own_download(shop, members, tracker, run) -> None:
    result = run(ActionManagePrivacy(), tracker("我想导出我的数据", member_id=members.with_orders))

    (payload,) = result.payloads("privacy_export")
    with shop.session() as s:
        (request,) = s.scalars(select(PrivacyRequest)).all()
    assert payload["url"] == "/api/me/export" and payload["request_id"] == f"PR{request.id:06d}"
    assert payload["title_zh"] and payload["title_en"]
    assert result.responses == ["utter_privacy_export"] and payload["request_id"] in result.text


def test_delete_from_chat_is_only_recorded_and_says_so(shop, members, tracker, run) -> None:
    with shop.session() as s:
        name = s.get(Member, members.with_orders).name
    result = run(ActionManagePrivacy(), tracker("删除我的个人数据", member_id=members.with_orders))

    with shop.session() as s:
        (request,) = s.scalars(select(PrivacyRequest)).all()
        assert s.get(Member, members.with_orders).name == name  # nothing erased by a chat message
    assert request.status == "received" and f"PR{request.id:06d}" in result.text
    assert "尚未删除" in result.text
