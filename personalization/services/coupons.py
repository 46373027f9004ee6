"""Coupons: what a member can use now, claiming a template, and redeeming a coupon at checkout.

- :func:`usable_coupons` lists the member's usable coupons with bilingual summaries
  (满300减50 / ¥50 off orders over ¥300);
- :func:`claim_coupon` issues a coupon from a template, atomically: concurrent claims never exceed
  the template's stock or the member's per-period limit (see :mod:`personalization.coupon_rules`);
- :func:`redeem_coupon` checks ownership, validity, minimum spend and scope and marks a coupon used.

Personalised *offers* (which templates to show a member) live in :mod:`personalization.coupon_offers`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from personalization.coupon_rules import (
    audience_admits,
    claim_key,
    claims_in_period,
    coupon_valid_until,
    load_member_facts,
    window_state,
)
from personalization.models import Coupon, CouponTemplate, Member, Order
from personalization.services._common import (
    category_labels,
    find_member,
    iso,
    money,
    normalize_category,
    normalize_member_id,
    resolve_now,
    yuan_text,
)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no look-alikes (0/O, 1/I), like the seeded codes
CODE_LENGTH = 8


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


def template_terms(template: CouponTemplate) -> dict[str, Any]:
    """A template's terms as members read them: title, value, minimum spend, scope and summary."""
    category_zh, category_en = category_labels(template.category)
    summary_zh, summary_en = coupon_summary(template.kind, template.value, template.min_spend)
    return {
        "template_id": template.template_id,
        "title_zh": template.title_zh,
        "title_en": template.title_en,
        "kind": template.kind,
        "value": money(template.value),
        "min_spend": money(template.min_spend),
        "category": template.category,
        "category_zh": category_zh,
        "category_en": category_en,
        "summary_zh": summary_zh,
        "summary_en": summary_en,
    }


def coupon_dict(coupon: Coupon) -> dict[str, Any]:
    """An issued coupon as a JSON-ready card."""
    return {"code": coupon.code, **template_terms(coupon.template), "valid_until": iso(coupon.valid_until)}


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


# --------------------------------------------------------------------------------------------
# Claiming
# --------------------------------------------------------------------------------------------

CLAIM_MESSAGES: dict[str, tuple[str, str]] = {
    "claimed": ("领取成功", "Coupon claimed"),
    "already_claimed": ("你已领取过这张券，达到每人限领数量", "You have already claimed this coupon (limit reached)"),
    "out_of_stock": ("来晚了，这张券已经领完了", "Sorry, this coupon has run out"),
    "expired": ("这个领券活动已结束", "This coupon campaign has ended"),
    "not_eligible": ("这张券暂时不能领取", "This coupon is not available to you right now"),
    "unknown_member": ("没有找到这个会员", "Member not found"),
    "unknown_template": ("没有这张优惠券", "No such coupon"),
}
NOT_ELIGIBLE_REASONS: dict[str, tuple[str, str]] = {
    "inactive": ("活动已暂停", "The campaign is paused"),
    "not_started": ("活动尚未开始", "The campaign has not started yet"),
    "audience": ("这张券仅限特定会员领取", "This coupon is for other members"),
}


def _claim_result(status: str, member_id: str | None, template_id: str | None, **extra: Any) -> dict[str, Any]:
    message_zh, message_en = CLAIM_MESSAGES[status]
    reason = extra.pop("reason", None)
    if reason is not None:
        reason_zh, reason_en = NOT_ELIGIBLE_REASONS[reason]
        message_zh, message_en = f"{message_zh}：{reason_zh}", f"{message_en}: {reason_en}"
    return {
        "status": status,
        "member_id": member_id,
        "template_id": template_id,
        "reason": reason,
        "message_zh": message_zh,
        "message_en": message_en,
        "coupon": None,
        **extra,
    }


def normalize_template_id(template_id: object) -> str | None:
    """``" cat_beauty "`` -> ``"CAT_BEAUTY"``; None for anything that cannot be a template id."""
    if not isinstance(template_id, str):
        return None
    candidate = template_id.strip().upper()
    return candidate if 0 < len(candidate) <= 32 else None


def _new_code(session: Session) -> str:
    while True:
        code = "CP" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.get(Coupon, code) is None:
            return code


def _lock_for_claim(session: Session) -> None:
    """Take the database's write lock first on SQLite, so that check-then-write is serialised.

    SQLite has no row locks: ``BEGIN IMMEDIATE`` takes the single write lock up front (waiting up to
    the busy timeout), so two claims cannot both read "one left" before either writes. Other
    databases lock the template row with ``SELECT ... FOR UPDATE`` in :func:`_claim`.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def claim_coupon(
    *,
    bind: Engine | sessionmaker[Session],
    member_id: object,
    template_id: object,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Issue the member a coupon from a template, in its own transaction.

    The claim is atomic: the template row is locked (``SELECT ... FOR UPDATE``; the write lock on
    SQLite), the member's claims in the current period are counted against ``per_member_limit``,
    ``issued_count`` is raised by a conditional ``UPDATE ... WHERE issued_count < total_stock``,
    and the coupon's ``(member_id, template_id, claim_key)`` is unique, so concurrent claims never
    issue more than the stock or the member's limit.

    Args:
        bind: an engine or session factory; the function opens, commits and closes its own session.
        member_id: the member's id.
        template_id: the coupon template's id (case-insensitive).
        now: the claim instant (default: now).

    Returns:
        ``{"status", "member_id", "template_id", "reason", "message_zh", "message_en", "coupon"}``,
        ``status`` one of ``claimed`` (``coupon`` is the new coupon's card), ``already_claimed``,
        ``out_of_stock``, ``expired``, ``not_eligible`` (``reason``: ``inactive``, ``not_started``
        or ``audience``), ``unknown_member``, ``unknown_template``. Never raises on bad input.
    """
    factory = bind if isinstance(bind, sessionmaker) else sessionmaker(bind, expire_on_commit=False)
    now = resolve_now(now)
    with factory() as session:
        try:
            result = _claim(session, member_id, template_id, now)
        except IntegrityError:
            # The claim slot was taken by a concurrent claim that the lock did not serialise.
            session.rollback()
            return _claim_result("already_claimed", normalize_member_id(member_id), normalize_template_id(template_id))
        if result["status"] == "claimed":
            session.commit()
        else:
            session.rollback()
        return result


def _claim(session: Session, member_id: object, template_id: object, now: datetime) -> dict[str, Any]:
    _lock_for_claim(session)
    facts = load_member_facts(session=session, member_id=member_id, now=now)
    tid = normalize_template_id(template_id)
    if facts is None:
        return _claim_result("unknown_member", normalize_member_id(member_id), tid)
    template = (
        session.scalars(select(CouponTemplate).where(CouponTemplate.template_id == tid).with_for_update()).first()
        if tid is not None
        else None
    )
    if template is None:
        return _claim_result("unknown_template", facts.member_id, tid)
    state = window_state(template, now)
    if state == "ended":
        return _claim_result("expired", facts.member_id, tid)
    if state != "open":
        return _claim_result("not_eligible", facts.member_id, tid, reason=state)
    if not audience_admits(template.audience, facts, now):
        return _claim_result("not_eligible", facts.member_id, tid, reason="audience")
    claimed = claims_in_period(session=session, member_id=facts.member_id, template=template, now=now)
    if claimed >= template.per_member_limit:
        return _claim_result("already_claimed", facts.member_id, tid)
    taken = session.execute(
        update(CouponTemplate)
        .where(
            CouponTemplate.template_id == tid,
            or_(CouponTemplate.total_stock.is_(None), CouponTemplate.issued_count < CouponTemplate.total_stock),
        )
        .values(issued_count=CouponTemplate.issued_count + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return _claim_result("out_of_stock", facts.member_id, tid)
    coupon = Coupon(
        code=_new_code(session),
        member_id=facts.member_id,
        template_id=tid,
        issued_at=now,
        valid_from=now,
        valid_until=coupon_valid_until(
            valid_days=template.valid_days, template_valid_until=template.valid_until, claimed_at=now
        ),
        status="available",
        claim_key=claim_key(template.limit_period, now, claimed + 1),
    )
    coupon.template = template
    session.add(coupon)
    session.flush()
    return _claim_result("claimed", facts.member_id, tid, coupon=coupon_dict(coupon))


# --------------------------------------------------------------------------------------------
# Redeeming
# --------------------------------------------------------------------------------------------

REDEEM_MESSAGES: dict[str, tuple[str, str]] = {
    "redeemed": ("已使用优惠券", "Coupon applied"),
    "unknown_member": ("没有找到这个会员", "Member not found"),
    "unknown_coupon": ("没有找到这张优惠券", "Coupon not found"),
    "already_used": ("这张优惠券已经用过了", "This coupon has already been used"),
    "expired": ("这张优惠券已过期", "This coupon has expired"),
    "not_started": ("这张优惠券还没到可用时间", "This coupon is not valid yet"),
    "below_min_spend": ("订单金额未达到使用门槛", "The order does not reach the minimum spend"),
    "category_mismatch": ("这张券不能用于该品类", "This coupon does not apply to this category"),
    "invalid_order": ("订单信息有误", "Invalid order details"),
}


def _redeem_result(status: str, **extra: Any) -> dict[str, Any]:
    message_zh, message_en = REDEEM_MESSAGES[status]
    return {"status": status, "message_zh": message_zh, "message_en": message_en, **extra}


def _amount(value: object) -> Decimal | None:
    """A positive amount of yuan with at most fen precision, else None."""
    if isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount


def coupon_discount(template: CouponTemplate, order_total: Decimal) -> Decimal:
    """Yuan off ``order_total`` (the amount in the coupon's scope), never more than that amount."""
    if template.kind == "percent_off":
        off = (order_total * Decimal(template.value) / 100).quantize(Decimal("0.01"))
    else:
        off = Decimal(template.value)
    return min(off, order_total)


def redeem_coupon(
    *,
    session: Session,
    member_id: object,
    code: object,
    order_total: object,
    order_id: object,
    order_category: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Use one of the member's coupons on an order; the caller commits.

    Checks, in order: the member exists; the code is one of *this member's* coupons (another
    member's code gets the same ``unknown_coupon`` answer as a made-up one); it is not used; it is
    within its validity (an available coupon past its end is marked ``expired``); ``order_total``
    reaches the minimum spend; a category coupon matches ``order_category``. The coupon is then
    marked used with a conditional ``UPDATE ... WHERE status = 'available'``, so it is used once
    even when two checkouts race.

    Args:
        session: the caller's session (the caller commits or rolls back).
        member_id: the member's id.
        code: the coupon code (case-insensitive).
        order_total: yuan the coupon applies to: the order total, or for a category coupon the
            amount of the order's items in that category.
        order_id: the order the coupon is used on. An existing order must be the member's own
            and carry no other coupon; it then records the code.
        order_category: the category of the items (key, Chinese or English name) for category coupons.
        now: the redemption instant (default: now).

    Returns:
        ``{"status", "message_zh", "message_en", ...}``; on ``redeemed`` also ``code``,
        ``order_id``, ``discount`` and ``pay`` (yuan) and the coupon card. Never raises on bad input.
    """
    now = resolve_now(now)
    mid = normalize_member_id(member_id)
    if mid is None or session.scalar(select(Member.member_id).where(Member.member_id == mid)) is None:
        return _redeem_result("unknown_member")
    total = _amount(order_total)
    oid = order_id.strip() if isinstance(order_id, str) else ""
    if total is None or not oid or len(oid) > 20:
        return _redeem_result("invalid_order")
    normalized_code = code.strip().upper() if isinstance(code, str) else ""
    coupon = (
        session.scalars(select(Coupon).where(Coupon.code == normalized_code).with_for_update()).first()
        if 0 < len(normalized_code) <= 24
        else None
    )
    if coupon is None or coupon.member_id != mid:
        return _redeem_result("unknown_coupon")
    if coupon.status == "used":
        return _redeem_result("already_used", code=coupon.code)
    if coupon.status == "expired" or now > coupon.valid_until:
        if coupon.status == "available":
            coupon.status = "expired"
            session.flush()
        return _redeem_result("expired", code=coupon.code)
    if now < coupon.valid_from:
        return _redeem_result("not_started", code=coupon.code)
    template = coupon.template
    if total < template.min_spend:
        return _redeem_result("below_min_spend", code=coupon.code, min_spend=money(template.min_spend))
    if template.category is not None and normalize_category(order_category) != template.category:
        return _redeem_result("category_mismatch", code=coupon.code, category=template.category)
    order = session.get(Order, oid)
    if order is not None and (order.member_id != mid or order.coupon_code not in (None, coupon.code)):
        return _redeem_result("invalid_order")
    used = session.execute(
        update(Coupon)
        .where(Coupon.code == coupon.code, Coupon.status == "available")
        .values(status="used", used_at=now, order_id=oid)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        return _redeem_result("already_used", code=coupon.code)
    if order is not None:
        order.coupon_code = coupon.code
    session.flush()
    session.refresh(coupon)
    discount = coupon_discount(template, total)
    return _redeem_result(
        "redeemed",
        code=coupon.code,
        order_id=oid,
        discount=money(discount),
        pay=money(total - discount),
        coupon=coupon_dict(coupon),
    )
