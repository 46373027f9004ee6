"""Errors as members and agents see them: a code plus a polite Chinese and English message."""

from __future__ import annotations

from typing import Any

# code: (HTTP status, Chinese, English)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求格式不正确。", "The request is not valid."),
    "bad_frame": (400, "消息格式不正确，请重试。", "That message could not be read; please try again."),
    "unknown_type": (400, "不支持的消息类型。", "That kind of message is not supported."),
    "empty": (400, "消息不能为空。", "The message is empty."),
    "too_long": (400, "消息太长了，请精简到2000字以内。", "That message is too long; please keep it under 2000 characters."),
    "bad_client_id": (400, "消息编号无效。", "The message id is not valid."),
    "bad_score": (400, "评分需为1到5分。", "The rating must be a whole number from 1 to 5."),
    "bad_language": (400, "暂不支持该语言。", "That language is not supported."),
    "bad_amount": (400, "金额无效。", "The amount is not valid."),
    "no_csat_pending": (409, "当前没有需要评价的人工服务。", "There is no agent conversation to rate right now."),
    "not_handed_off": (409, "当前没有在排队或人工服务中。", "You are not waiting for or talking to an agent."),
    "invalid_token": (401, "身份验证失败，请刷新页面后重试。", "We could not verify who you are; please reload the page."),
    "forbidden": (403, "无权访问该会话。", "You may not access this conversation."),
    "account_closed": (403, "该会员账户已注销，无法继续会话。", "This member account has been closed; the chat cannot continue."),
    "not_logged_in": (401, "请先登录。", "Please log in first."),
    "wrong_role": (403, "您的账号没有此权限。", "Your account does not have access to this."),
    "csrf": (403, "页面已过期，请刷新后重试。", "This page has expired; please reload and try again."),
    "bad_origin": (403, "请求来源不被允许。", "Requests from this origin are not allowed."),
    "not_found": (404, "没有找到。", "Not found."),
    "not_assigned": (403, "该会话未分配给您。", "This conversation is not assigned to you."),
    "already_claimed": (409, "该会话已被其他客服接入。", "Another agent has already taken this conversation."),
    "demo_off": (404, "演示功能已关闭。", "The demo is switched off."),
    "bot_unavailable": (503, "智能助手暂时无法回复，请稍后再试。", "The assistant cannot answer right now; please try again shortly."),
    "payload_too_large": (413, "请求内容太大了。", "The request is too large."),
    "uri_too_long": (414, "请求地址太长了。", "The request address is too long."),
    "headers_too_large": (431, "请求头太大了。", "The request headers are too large."),
    "rate_limited": (429, "操作太频繁了，请稍后再试。", "Too many requests; please slow down and try again shortly."),
    "internal": (500, "系统繁忙，请稍后再试。", "Something went wrong on our side; please try again."),
}


class ApiError(Exception):
    """An error answered as ``{"error": code, "message_zh", "message_en"}`` with an HTTP status."""

    def __init__(self, code: str, *, status: int | None = None, message_zh: str | None = None,
                 message_en: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        default_status, zh, en = MESSAGES.get(code, MESSAGES["bad_request"])
        super().__init__(code)
        self.code = code
        self.status = status or default_status
        self.message_zh = message_zh or zh
        self.message_en = message_en or en
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})  # e.g. retry_after_s, the client_id of the refused message

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message_zh": self.message_zh, "message_en": self.message_en, **self.extra}

    def frame(self) -> dict[str, Any]:
        """The same error as a WebSocket frame."""
        return {"type": "error", "code": self.code, "message_zh": self.message_zh, "message_en": self.message_en,
                **self.extra}


def rate_limited(retry_after_s: int, **extra: Any) -> ApiError:
    """429 with ``Retry-After`` and the wait in both languages."""
    wait = max(1, int(retry_after_s))
    return ApiError("rate_limited", message_zh=f"操作太频繁了，请{wait}秒后再试。",
                    message_en=f"Too many requests; please try again in {wait} s.",
                    headers={"Retry-After": str(wait)}, extra={"retry_after_s": wait, **extra})


def from_desk_error(exc: Exception) -> ApiError:
    """Translate a ``personalization.desk`` ``DeskError`` (code + zh/en messages) into an :class:`ApiError`."""
    code = str(getattr(exc, "code", "bad_request"))
    statuses = {"already_claimed": 409, "not_assigned": 409, "not_yours": 403, "forbidden": 403,
                "not_found": 404, "no_conversation": 404, "no_message": 404, "no_handoff": 404,
                "no_agent": 404, "no_member": 400, "over_limit": 400, "daily_limit": 409, "bad_score": 400,
                "bad_target": 400, "bad_amount": 400, "empty": 400, "too_long": 400,
                "bad_client_id": 400, "bad_language": 400}
    status = statuses.get(code, MESSAGES.get(code, (400,))[0])
    return ApiError(code, status=status, message_zh=getattr(exc, "message_zh", None),
                    message_en=getattr(exc, "message_en", None))
