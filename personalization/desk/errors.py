"""DeskError: a refusal with a stable code and a polite bilingual message."""

from __future__ import annotations

from typing import Any

# code -> (Chinese, English): what a member or an agent is told.
MESSAGES: dict[str, tuple[str, str]] = {
    "no_identity": ("缺少会员或访客身份", "A member or visitor identity is required"),
    "no_member": ("没有找到这个会员", "Member not found"),
    "no_conversation": ("没有找到这个会话", "Conversation not found"),
    "no_message": ("没有找到这条消息", "Message not found"),
    "not_found": ("没有找到这个人工服务请求", "Handoff request not found"),
    "no_handoff": ("这个会话没有对应的人工服务", "No such handoff in this conversation"),
    "bad_sender": ("消息发送方无效", "Invalid message sender"),
    "empty": ("消息不能为空", "The message is empty"),
    "too_long": ("消息太长了，请分几次发送（最多2000字）", "The message is too long (2,000 characters at most)"),
    "bad_client_id": ("消息编号无效", "Invalid message id"),
    "bad_language": ("不支持的语言", "Unsupported language"),
    "already_claimed": ("该会话已被其他客服接入", "Another agent has already taken this conversation"),
    "not_assigned": ("该会话不在人工服务中", "This conversation is not with an agent"),
    "not_yours": ("该会话由其他客服负责", "This conversation is assigned to another agent"),
    "forbidden": ("您没有权限执行此操作", "You are not allowed to do this"),
    "bad_target": ("无法转接给该客服", "Cannot transfer to that agent"),
    "no_agent": ("没有找到这个客服账号", "Agent not found"),
    "bad_score": ("评分须为1到5的整数", "The rating must be a whole number from 1 to 5"),
    "bad_source": ("评分来源无效", "Invalid rating source"),
    "bad_amount": ("补偿金额无效", "Invalid goodwill amount"),
    "over_limit": ("补偿金额超过您的权限额度", "The amount is over your goodwill limit"),
    "daily_limit": ("今日补偿券发放次数已用完", "You have used today's goodwill coupons"),
    "bad_username": (
        "用户名须为2-64位小写字母、数字或 . _ -",
        "Usernames are 2-64 lowercase letters, digits, . _ or -",
    ),
    "username_taken": ("用户名已存在", "That username is taken"),
    "bad_role": ("角色须为 agent、ops 或 admin", "The role must be agent, ops or admin"),
    "weak_password": ("密码至少8位", "The password needs at least 8 characters"),
    "bad_name": ("显示名称不能为空（最多64字）", "The display name is required (64 characters at most)"),
}


class DeskError(Exception):
    """A request the desk refuses; ``code`` is stable, the messages are for people.

    ``DeskError("already_claimed")`` takes its texts from :data:`MESSAGES`; both can be overridden.
    """

    def __init__(self, code: str, message_zh: str | None = None, message_en: str | None = None) -> None:
        default_zh, default_en = MESSAGES.get(code, ("请求无法完成", "The request could not be completed"))
        self.code = code
        self.message_zh = message_zh or default_zh
        self.message_en = message_en or default_en
        super().__init__(f"{code}: {self.message_en}")

    def to_dict(self) -> dict[str, Any]:
        """``{"error", "message_zh", "message_en"}`` as the web API returns it."""
        return {"error": self.code, "message_zh": self.message_zh, "message_en": self.message_en}
