"""Texts the web app itself says to members (system messages), in Chinese and English."""

from __future__ import annotations

from typing import Any

SYSTEM_TEXTS: dict[str, tuple[str, str]] = {
    "agent_joined": ("人工客服 {name} 已接入", "Agent {name} has joined"),
    "transferred": ("已为您转接，人工客服 {name} 已接入", "You have been transferred; agent {name} has joined"),
    "resolved": (
        "人工服务已结束，智能助手继续为您服务。请为本次服务打分",
        "The agent has finished; the assistant is back to help you. Please rate this service",
    ),
    "cancelled": ("已取消转人工，智能助手继续为您服务。", "You left the queue; the assistant is back to help you."),
    "goodwill": ("送您一张{amount}元补偿券，已放入您的账户。", "Here is a ¥{amount} goodwill coupon; it is in your account now."),
}


def system_text(key: str, language: str, **values: Any) -> tuple[str, dict[str, Any]]:
    """(text in the conversation's language, payload with both languages) of a system message."""
    zh, en = SYSTEM_TEXTS[key]
    text_zh, text_en = zh.format(**values), en.format(**values)
    payload: dict[str, Any] = {"type": "system", "event": key, "text_zh": text_zh, "text_en": text_en}
    return (text_en if language == "en" else text_zh), payload
