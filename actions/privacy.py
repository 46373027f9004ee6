"""action_manage_privacy: export / delete / opt-out / opt-in requests, or what we store."""

from __future__ import annotations

import re

from rasa_sdk.events import EventType

from actions import context, texts
from actions.base import MemberServiceAction, Turn
from personalization.services import privacy

# Checked in this order: asking to switch personalization off or on often mentions data too
# ("别再根据我的浏览记录推东西了"), so the consent switches are matched before delete/export.
_SWITCH_OBJECT = r"(个性化|推荐|推东西|猜你喜欢)"
_KINDS = (
    (
        "opt_in",
        re.compile(
            rf"(开启|打开|恢复|重新开)[^，。,.]{{0,4}}{_SWITCH_OBJECT}|opt[\s-]?in\b|turn on personali[sz]", re.I
        ),
    ),
    (
        "opt_out",
        re.compile(
            rf"(关闭|关掉|关了|取消|停止|不要|别再?|不想要)[^，。,.!?！？]{{0,10}}{_SWITCH_OBJECT}"
            r"|opt[\s-]?out\b|turn off personali[sz]",
            re.I,
        ),
    ),
    ("delete", re.compile(r"删除|删掉|删了|注销|清除|delete|erase|remove my data", re.I)),
    ("export", re.compile(r"导出|下载|export|download|copy of my data", re.I)),
)

BUTTONS = {
    "zh": {
        "export": {"title": "导出我的数据", "payload": "我想导出我的数据"},
        "delete": {"title": "删除我的数据", "payload": "删除我的个人数据"},
        "opt_out": {"title": "关闭个性化推荐", "payload": "关闭个性化推荐"},
        "opt_in": {"title": "开启个性化推荐", "payload": "开启个性化推荐"},
    },
    "en": {
        "export": {"title": "Export my data", "payload": "export my data"},
        "delete": {"title": "Delete my data", "payload": "delete my data"},
        "opt_out": {"title": "Turn off personalisation", "payload": "turn off personalised recommendations"},
        "opt_in": {"title": "Turn on personalisation", "payload": "turn on personalised recommendations"},
    },
}


EXPORT_URL = "/api/me/export"  # web.admin_api.my_export: the member token's own data only


def export_payload(request_id: str) -> dict[str, str]:
    """The widget's download button for the member's own export."""
    return {
        "type": "privacy_export",
        "url": EXPORT_URL,
        "request_id": request_id,
        "title_zh": "下载我的数据",
        "title_en": "Download my data",
    }


def request_kind(text: str) -> str | None:
    """export / delete / opt_out / opt_in when the text asks for one, else None."""
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return None


class ActionManagePrivacy(MemberServiceAction):
    def name(self) -> str:
        return "action_manage_privacy"

    def respond(self, turn: Turn) -> list[EventType]:
        if turn.member is None:
            turn.say("utter_privacy_anonymous")
            turn.invite_login()
            return []
        kind = request_kind(context.latest_text(turn.tracker))
        if kind is not None:
            # A deletion is only recorded here: an admin carries it out (one mis-read message must
            # never erase an account). An export can be downloaded at once by the member.
            result = privacy.record_privacy_request(session=turn.session, member_id=turn.member.member_id, kind=kind)
            payload = export_payload(result["request_id"]) if kind == "export" else None
            turn.say(f"utter_privacy_{kind}", request_id=result.get("request_id"), payload=payload)
            return []
        counts = privacy.describe_stored_data(session=turn.session, member_id=turn.member.member_id)
        turn.say("utter_privacy_summary", rows=texts.stored_data_lines(counts, turn.lang))
        switch = "opt_out" if turn.member.consent_personalization else "opt_in"
        buttons = BUTTONS[turn.lang]
        turn.say("utter_privacy_options", buttons=[buttons["export"], buttons["delete"], buttons[switch]])
        return []
