"""Bilingual wording: domain responses rendered in the member's language, and list lines.

Sentences live in ``domain.yml`` (a Chinese default and an English variation conditioned on the
``language`` slot). The actions decide the language themselves (see ``actions.context.language``),
so they render the variation here instead of letting Rasa pick it from the slot. Lists
(products, coupons, order items and timelines, tier benefits) are composed line by line below.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import yaml

from personalization.catalog_data import BRANDS, CATEGORIES
from personalization.settings import PROJECT_ROOT


class _KeepMissing(dict):  # type: ignore[type-arg]
    """Leaves ``{name}`` in place when a template variable has no value, like Rasa does."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@lru_cache(maxsize=1)
def _file_responses() -> dict[str, list[dict[str, Any]]]:
    # Only used when the Rasa server sends no domain (selective domain) or in scripts.
    with open(PROJECT_ROOT / "domain.yml", encoding="utf-8") as handle:
        return dict((yaml.safe_load(handle) or {}).get("responses") or {})


def _variations(domain: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    responses = (domain or {}).get("responses") or {}
    variations = responses.get(name) or _file_responses().get(name)
    if not variations:
        raise KeyError(f"response {name!r} is not in the domain")
    return list(variations)


def _matches(variation: Mapping[str, Any], lang: str) -> bool:
    conditions = variation.get("condition") or []
    return bool(conditions) and all(
        c.get("type") == "slot" and c.get("name") == "language" and c.get("value") == lang for c in conditions
    )


def variation(domain: Mapping[str, Any], response: str, lang: str, /) -> dict[str, Any]:
    """The variation of ``response`` for ``lang``: the one conditioned on it, else the default."""
    variations = _variations(domain, response)
    for candidate in variations:
        if _matches(candidate, lang):
            return candidate
    for candidate in variations:
        if not candidate.get("condition"):
            return candidate
    return variations[0]


def render(domain: Mapping[str, Any], response: str, lang: str, /, **values: Any) -> str:
    """The text of ``response`` in ``lang`` with ``{variables}`` filled from ``values``."""
    text = str(variation(domain, response, lang).get("text") or "")
    return text.format_map(_KeepMissing({k: v for k, v in values.items() if v is not None}))


def pick(item: Mapping[str, Any], field: str, lang: str) -> str:
    """``item[field_<lang>]``, falling back to the Chinese field."""
    return str(item.get(f"{field}_{lang}") or item.get(f"{field}_zh") or "")


def money(amount: Any) -> str:
    """¥199 / ¥89.90."""
    value = float(amount or 0)
    return f"¥{int(value)}" if value == int(value) else f"¥{value:.2f}"


def date(iso: str | None) -> str:
    """2026-10-15 from an ISO date or datetime string (the string itself if it is not ISO)."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(str(iso)).date().isoformat()
    except ValueError:
        return str(iso)


def date_time(iso: str | None) -> str:
    """2026-10-15 14:30 from an ISO datetime string."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(str(iso)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(iso)


def lines(header: str, rows: Iterable[str]) -> str:
    """A header followed by one row per line."""
    return "\n".join([header, *rows]) if header else "\n".join(rows)


def product_lines(products: Sequence[Mapping[str, Any]], lang: str) -> list[str]:
    """ "1. 保湿精华液 经典款（兰蔻）¥576 · 因为你常买美妆护肤"."""
    rows = []
    for number, product in enumerate(products, start=1):
        title, brand = pick(product, "title", lang), pick(product, "brand", lang)
        if brand and brand not in title:
            title = f"{title}（{brand}）" if lang == "zh" else f"{title} ({brand})"
        reason = pick(product, "reason", lang)
        row = f"{number}. {title} {money(product.get('price'))}"
        rows.append(f"{row} · {reason}" if reason else row)
    return rows


def coupon_lines(coupons: Sequence[Mapping[str, Any]], lang: str) -> list[str]:
    """ "· 美妆满减券：满300减50（限美妆护肤），2026-11-30 到期"."""
    rows = []
    for coupon in coupons:
        title, summary = pick(coupon, "title", lang), pick(coupon, "summary", lang)
        category = pick(coupon, "category", lang) if coupon.get("category") else ""
        until = date(coupon.get("valid_until"))
        if lang == "en":
            scope = f"{category} only" if category else "store-wide"
            rows.append(f"· {title}: {summary} ({scope}), expires {until}")
        else:
            scope = f"限{category}" if category else "全场通用"
            rows.append(f"· {title}：{summary}（{scope}），{until} 到期")
    return rows


def price_range(price_min: float | None, price_max: float | None, lang: str) -> str:
    """ "300元以内" / "200-500元" / "300元以上"; "under ¥300" / "¥200-500" / "over ¥300"; "" for none."""
    low, high = (f"{value:g}" if value is not None else None for value in (price_min, price_max))
    if low and high:
        return f"¥{low}-{high}" if lang == "en" else f"{low}-{high}元"
    if high:
        return f"under ¥{high}" if lang == "en" else f"{high}元以内"
    if low:
        return f"over ¥{low}" if lang == "en" else f"{low}元以上"
    return ""


def offer_lines(offers: Sequence[Mapping[str, Any]], lang: str) -> list[str]:
    """ "· 服饰鞋包专享券：满300减40（为你推荐：你常买服饰鞋包）"."""
    rows = []
    for offer in offers:
        title, summary, reason = pick(offer, "title", lang), pick(offer, "summary", lang), pick(offer, "reason", lang)
        rows.append(f"· {title}: {summary} ({reason})" if lang == "en" else f"· {title}：{summary}（{reason}）")
    return rows


def claim_buttons(offers: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, str]]:
    """One 领取 button per offer; its payload claims that template without going through NLU."""
    label = "Claim" if lang == "en" else "领取"
    return [
        {
            "title": f"{label} {pick(offer, 'summary', lang)}",
            "payload": "/ask_coupons" + json.dumps({"coupon_template": offer["template_id"]}, ensure_ascii=False),
        }
        for offer in offers
    ]


def order_item_lines(order: Mapping[str, Any], lang: str) -> list[str]:
    """ "· 保湿精华液 × 2"."""
    return [f"· {pick(item, 'title', lang)} × {item.get('quantity', 1)}" for item in order.get("items") or []]


def timeline_lines(order: Mapping[str, Any], lang: str, limit: int = 3) -> list[str]:
    """The newest ``limit`` timeline events, newest first: "· 2026-10-16 09:12 已发货"."""
    events = list(order.get("timeline") or [])[-limit:]
    return [f"· {date_time(event.get('at'))} {pick(event, 'description', lang)}" for event in reversed(events)]


def order_button(order: Mapping[str, Any], lang: str, prefix_zh: str, prefix_en: str) -> dict[str, str]:
    """A button that sends "<prefix> <order id>" back through NLU."""
    order_id = str(order.get("order_id"))
    label = f"{order_id} · {pick(order, 'status', lang)} · {money(order.get('total_amount'))}"
    payload = f"{prefix_en} {order_id}" if lang == "en" else f"{prefix_zh}{order_id}"
    return {"title": label, "payload": payload}


def category_name(key: str, lang: str) -> str:
    """The display name of a category key ("美妆护肤" / "Beauty & Skincare")."""
    for category in CATEGORIES:
        if category.key == key:
            return category.en if lang == "en" else category.zh
    return key


def brand_name(key: str, lang: str) -> str:
    """The display name of a brand key ("兰蔻" / "Lancome")."""
    for brand in BRANDS:
        if brand.key == key:
            return brand.en if lang == "en" else brand.zh
    return key


def tier_name(tier: Mapping[str, Any] | None, lang: str) -> str:
    """ "金卡会员" / "Gold"."""
    return pick(tier or {}, "name", lang)


def benefit_lines(tier: Mapping[str, Any], lang: str) -> list[str]:
    """One "· benefit" line per benefit of ``tier``."""
    return [f"· {benefit}" for benefit in tier.get(f"benefits_{lang}") or tier.get("benefits_zh") or []]


def tier_overview_lines(tiers: Sequence[Mapping[str, Any]], lang: str) -> list[str]:
    """ "· 金卡会员（成长值 8000 起）：积分1.5倍、免运费"."""
    rows = []
    for tier in tiers:
        benefits = tier.get(f"benefits_{lang}") or tier.get("benefits_zh") or []
        if lang == "en":
            rows.append(
                f"· {tier_name(tier, lang)} (from {tier.get('threshold', 0)} growth points): {'; '.join(benefits)}"
            )
        else:
            rows.append(f"· {tier_name(tier, lang)}（成长值 {tier.get('threshold', 0)} 起）：{'、'.join(benefits)}")
    return rows


def points_lot_lines(lots: Sequence[Mapping[str, Any]], lang: str) -> list[str]:
    """ "· 120 分，2026-12-31 到期"."""
    if lang == "en":
        return [f"· {lot.get('points')} points on {date(lot.get('expires_at'))}" for lot in lots]
    return [f"· {lot.get('points')} 分，{date(lot.get('expires_at'))} 到期" for lot in lots]


# How the counts of privacy.describe_stored_data read; keys not listed are shown by name.
_STORED_DATA_LABELS: dict[str, tuple[str, str]] = {
    "orders": ("订单 {n} 笔", "{n} orders"),
    "order_items": ("订单商品 {n} 件", "{n} order items"),
    "browse_events": ("浏览记录 {n} 条", "{n} browsing events"),
    "coupons": ("优惠券 {n} 张", "{n} coupons"),
    "points_entries": ("积分流水 {n} 条", "{n} points entries"),
    "points_ledger": ("积分流水 {n} 条", "{n} points entries"),
    "return_requests": ("退货申请 {n} 条", "{n} return requests"),
    "complaints": ("投诉记录 {n} 条", "{n} complaints"),
    "handoff_requests": ("人工客服请求 {n} 条", "{n} human-agent requests"),
    "handoffs": ("人工客服请求 {n} 条", "{n} human-agent requests"),
    "privacy_requests": ("隐私申请 {n} 条", "{n} privacy requests"),
    "conversations": ("在线客服会话 {n} 个", "{n} web chat conversations"),
    "chat_messages": ("聊天消息 {n} 条", "{n} chat messages"),
    "csat_ratings": ("服务评价 {n} 条", "{n} service ratings"),
}


def stored_data_lines(counts: Mapping[str, Any], lang: str) -> list[str]:
    """What ``privacy.describe_stored_data`` reports, one line each ("· 订单 12 笔")."""
    rows = []
    fields = counts.get("profile_fields") or []
    if fields:
        rows.append(
            f"· {len(fields)} profile fields (name, phone, city, ...)"
            if lang == "en"
            else f"· 基本资料 {len(fields)} 项（姓名、手机号、城市等）"
        )
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        zh, en = _STORED_DATA_LABELS.get(key, (f"{key}：{{n}}", f"{key}: {{n}}"))
        rows.append("· " + (en if lang == "en" else zh).format(n=value))
    if "consent_personalization" in counts:
        on = bool(counts["consent_personalization"])
        if lang == "en":
            rows.append(f"· Personalised recommendations: {'on' if on else 'off'}")
        else:
            rows.append(f"· 个性化推荐：{'已开启' if on else '已关闭'}")
    note = pick(counts, "conversations_note", lang)
    if note:
        rows.append(note)
    return rows
