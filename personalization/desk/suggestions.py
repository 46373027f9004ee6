"""Suggested replies for the agent: 3-4 short texts picked by the member's intent and emotion.

Anger or a complaint puts an apology first; an order question quotes the latest order's status;
a coupon question offers a goodwill coupon; otherwise a greeting naming the agent. Pure: it reads
only the last member message (intent, sentiment) and the profile panel.
"""

from __future__ import annotations

from typing import Any

MAX_SUGGESTIONS = 4
NEGATIVE_EMOTIONS = ("anger", "anxiety", "disappointment")


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _greeting(lang: str, agent_name: str | None) -> str:
    name = agent_name or ""
    return _t(
        lang,
        f"您好，我是人工客服{name}，请问有什么可以帮您？",
        f"Hello, I'm {name or 'your agent'}. How can I help you?",
    )


def _apology(lang: str, emotion: str | None) -> list[str]:
    if emotion == "anger":
        return [
            _t(
                lang,
                "非常抱歉给您带来不好的体验，我马上为您处理。",
                "I'm very sorry for the trouble. I'll sort this out for you right away.",
            ),
            _t(
                lang,
                "您的心情我完全理解，请告诉我具体情况，我来跟进到底。",
                "I understand how frustrating this is. Tell me what happened and I'll follow it through.",
            ),
        ]
    if emotion == "anxiety":
        return [_t(lang, "请别着急，我这就帮您查看。", "Please don't worry, I'm checking this for you now.")]
    return [_t(lang, "抱歉让您失望了，我们一定改进。", "I'm sorry we let you down; we will do better.")]


def _order_lines(lang: str, panel: dict[str, Any]) -> list[str]:
    recent = panel.get("recent_orders") or []
    if not recent:
        return [_t(lang, "请提供一下订单号，我帮您查询。", "Could you share the order number? I'll look it up.")]
    order = recent[0]
    status = order.get("status_en" if lang == "en" else "status_zh") or order.get("status")
    return [
        _t(
            lang,
            f"您最近的订单 {order['order_id']} 当前状态：{status}。",
            f"Your latest order {order['order_id']} is: {status}.",
        ),
        _t(lang, "我帮您联系物流加急处理。", "I'll ask the carrier to speed it up."),
    ]


def _coupon_lines(lang: str, panel: dict[str, Any]) -> list[str]:
    lines = [
        _t(lang, "为表歉意，我给您发一张无门槛补偿券。", "As an apology, I'll send you a no-minimum goodwill coupon.")
    ]
    usable = panel.get("coupons") or []
    if usable:
        lines.append(
            _t(
                lang,
                f"您账户里还有 {len(usable)} 张可用优惠券。",
                f"You also have {len(usable)} usable coupons in your account.",
            )
        )
    return lines


def _by_intent(intent: str | None, lang: str, panel: dict[str, Any]) -> list[str]:
    if intent == "check_order_status":
        return _order_lines(lang, panel)
    if intent == "ask_coupons":
        return _coupon_lines(lang, panel)
    if intent == "request_return":
        return [
            _t(
                lang,
                "签收后7天内支持七天无理由退货，我帮您提交申请。",
                "Returns are accepted within 7 days of delivery; I'll file it for you.",
            )
        ]
    if intent == "ask_points":
        balance = (panel.get("points") or {}).get("balance")
        if balance is not None:
            return [_t(lang, f"您当前的积分余额是 {balance} 分。", f"Your points balance is {balance}.")]
    if intent == "ask_tier_benefits":
        tier = panel.get("tier") or {}
        name = tier.get("name_en" if lang == "en" else "name_zh")
        if name:
            return [
                _t(
                    lang,
                    f"您是{name}，我为您介绍一下专属权益。",
                    f"You are a {name} member; let me walk you through your benefits.",
                )
            ]
    if intent == "complain":
        return _coupon_lines(lang, panel)
    return []


def suggest_replies(
    last_member_message: dict[str, Any] | None, panel: dict[str, Any], lang: str, *, agent_name: str | None = None
) -> list[str]:
    """3-4 replies for the agent to click, most fitting first (``lang`` ``zh`` or ``en``)."""
    lang = "en" if lang == "en" else "zh"
    message = last_member_message or {}
    sentiment = message.get("sentiment") or {}
    emotion = sentiment.get("emotion") if isinstance(sentiment, dict) else None
    intent = message.get("intent")
    replies: list[str] = []
    if emotion in NEGATIVE_EMOTIONS or intent == "complain":
        replies += _apology(lang, emotion if emotion in NEGATIVE_EMOTIONS else "anger")
    replies += _by_intent(intent, lang, panel)
    if not replies:
        replies.append(_greeting(lang, agent_name))
    for filler in (
        _t(lang, "请问还有其他可以帮您的吗？", "Is there anything else I can help with?"),
        _t(lang, "好的，我这就为您处理，请稍等。", "Sure, I'm on it — one moment please."),
        _greeting(lang, agent_name),
    ):
        if len(replies) >= 3:
            break
        if filler not in replies:
            replies.append(filler)
    return replies[:MAX_SUGGESTIONS]
