"""Coupons a member can use now, with bilingual summaries (满300减50 / ¥50 off orders over ¥300)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personalization.models import Coupon
from personalization.services._common import category_labels, find_member, iso, money, resolve_now, yuan_text


def coupon_summary(kind: str, value: Decimal | float, min_spend: Decimal | float) -> tuple[str, str]:
    """(Chinese, English) one-line summary of a coupon's terms.

    ``amount_off`` 50 / min 300 -> ("满300减50", "¥50 off orders over ¥300");
    ``percent_off`` 5 / min 199 -> ("满199享95折", "5% off orders over ¥199");
    no minimum -> ("无门槛减20", "¥20 off, no minimum spend").
    """
    has_minimum = float(min_spend) > 0
    if kind == "percent_off":
        pay = round(100 - float(value))
        rate_zh = f"{pay // 10}折" if pay % 10 == 0 else f"{pay}折"
        percent = yuan_text(value)
        if has_minimum:
            return (f"满{yuan_text(min_spend)}享{rate_zh}", f"{percent}% off orders over ¥{yuan_text(min_spend)}")
        return (f"全场{rate_zh}", f"{percent}% off, no minimum spend")
    if has_minimum:
        return (
            f"满{yuan_text(min_spend)}减{yuan_text(value)}",
            f"¥{yuan_text(value)} off orders over ¥{yuan_text(min_spend)}",
        )
    return (f"无门槛减{yuan_text(value)}", f"¥{yuan_text(value)} off, no minimum spend")


def coupon_dict(coupon: Coupon) -> dict[str, Any]:
    """An issued coupon as a JSON-ready card."""
    template = coupon.template
    category_zh, category_en = category_labels(template.category)
    summary_zh, summary_en = coupon_summary(template.kind, template.value, template.min_spend)
    return {
        "code": coupon.code,
        "template_id": template.template_id,
        "title_zh": template.title_zh,
        "title_en": template.title_en,
        "kind": template.kind,
        "value": money(template.value),
        "min_spend": money(template.min_spend),
        "category": template.category,
        "category_zh": category_zh,
        "category_en": category_en,
        "valid_until": iso(coupon.valid_until),
        "summary_zh": summary_zh,
        "summary_en": summary_en,
    }


def usable_coupons(*, session: Session, member_id: str | None, now: datetime | None = None) -> list[dict[str, Any]]:
    """The member's coupons that can be used at ``now``, soonest expiry first.

    A coupon is usable when its status is ``available`` and ``valid_from <= now <= valid_until``.

    Returns:
        Coupon cards ``{"code", "template_id", "title_zh", "title_en", "kind", "value",
        "min_spend", "category", "category_zh", "category_en", "valid_until", "summary_zh",
        "summary_en"}``; empty for an unknown member.
    """
    member = find_member(session=session, member_id=member_id)
    if member is None:
        return []
    now = resolve_now(now)
    coupons = session.scalars(
        select(Coupon)
        .where(
            Coupon.member_id == member.member_id,
            Coupon.status == "available",
            Coupon.valid_from <= now,
            Coupon.valid_until >= now,
        )
        .order_by(Coupon.valid_until, Coupon.code)
    )
    return [coupon_dict(c) for c in coupons]
