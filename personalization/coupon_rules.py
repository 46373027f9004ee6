"""The rules of coupon templates, shared by offers, claims and the demo data.

A template can be claimed while it is ``active`` and ``valid_from <= now <= valid_until`` (either
bound may be open), while stock is left (``issued_count < total_stock``; no stock limit when
``total_stock`` is None), by members its ``audience`` admits, at most ``per_member_limit`` times
per ``limit_period`` (``campaign``: ever; ``year``/``month``: per calendar year/month of the claim).

What the rules may know about a member is :class:`MemberFacts`. It deliberately has no gender and
no birthday (only the birth *month*: the birthday is encrypted at rest, so it is decrypted in
:func:`load_member_facts` and only its month is kept): coupon offers and their values must not
depend on gender or age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personalization.models import Coupon, CouponTemplate, Member, Order, Tier
from personalization.services._common import normalize_member_id
from personalization.services.members import NEW_MEMBER_DAYS

LIMIT_PERIODS = ("campaign", "year", "month")
AUDIENCES = ("all", "new_member", "birthday", "winback")  # plus "tier:<code>"
# Welcome offers go to members registered less than NEW_MEMBER_DAYS (30) days ago.
WINBACK_DAYS = 90  # at-risk or dormant: no order for this many days

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class MemberFacts:
    """What coupon rules may know about a member: never gender, age or birth year."""

    member_id: str
    tier_code: str
    tier_name_zh: str
    tier_name_en: str
    registered_at: datetime
    birth_month: int | None
    consent_personalization: bool
    last_order_at: datetime | None

    def is_new(self, now: datetime) -> bool:
        """Registered less than :data:`NEW_MEMBER_DAYS` days before ``now``."""
        return now - timedelta(days=NEW_MEMBER_DAYS) < self.registered_at <= now

    def has_birthday_month(self, now: datetime) -> bool:
        return self.birth_month is not None and self.birth_month == now.month

    def is_lapsing(self, now: datetime) -> bool:
        """No order in the last :data:`WINBACK_DAYS` days (and not a new member)."""
        if self.is_new(now):
            return False
        last = self.last_order_at or self.registered_at
        return last <= now - timedelta(days=WINBACK_DAYS)


def load_member_facts(*, session: Session, member_id: object, now: datetime) -> MemberFacts | None:
    """The member's :class:`MemberFacts` as of ``now``; None for an unknown or malformed id."""
    normalized = normalize_member_id(member_id)
    if normalized is None:
        return None
    row = session.execute(
        select(
            Member.member_id,
            Member.tier_code,
            Tier.name_zh,
            Tier.name_en,
            Member.registered_at,
            Member.birthday,  # encrypted: SQL cannot take the month out; only the month is kept below
            Member.consent_personalization,
        )
        .join(Tier, Tier.code == Member.tier_code)
        .where(Member.member_id == normalized)
    ).first()
    if row is None:
        return None
    last_order_at = session.scalar(
        select(func.max(Order.created_at)).where(Order.member_id == normalized, Order.created_at <= now)
    )
    member_id_, tier_code, name_zh, name_en, registered_at, birthday, consent = row
    birth_month = birthday.month if birthday is not None else None
    del birthday  # the year goes no further
    return MemberFacts(
        member_id=member_id_,
        tier_code=tier_code,
        tier_name_zh=name_zh,
        tier_name_en=name_en,
        registered_at=registered_at,
        birth_month=int(birth_month) if birth_month is not None else None,
        consent_personalization=bool(consent),
        last_order_at=last_order_at,
    )


def audience_admits(audience: str, facts: MemberFacts, now: datetime) -> bool:
    """Whether a template's audience (all / new_member / birthday / winback / tier:<code>) admits the member."""
    if audience == "all":
        return True
    if audience == "new_member":
        return facts.is_new(now)
    if audience == "birthday":
        return facts.has_birthday_month(now)
    if audience == "winback":
        return facts.is_lapsing(now)
    if audience.startswith("tier:"):
        return audience.split(":", 1)[1] == facts.tier_code
    return False  # an audience this code does not know admits no one


def window_state(template: CouponTemplate, now: datetime) -> str:
    """``open``, ``inactive``, ``not_started`` or ``ended`` for claims at ``now``."""
    if not template.active:
        return "inactive"
    if template.valid_from is not None and now < template.valid_from:
        return "not_started"
    if template.valid_until is not None and now > template.valid_until:
        return "ended"
    return "open"


def stock_left(template: CouponTemplate) -> int | None:
    """Coupons that can still be issued; None when the template has no stock limit."""
    if template.total_stock is None:
        return None
    return max(template.total_stock - template.issued_count, 0)


def period_key(limit_period: str, at: datetime) -> str:
    """The claim period of an instant: ``all`` (campaign), ``2026`` (year) or ``2026-10`` (month)."""
    if limit_period == "month":
        return f"{at.year:04d}-{at.month:02d}"
    if limit_period == "year":
        return f"{at.year:04d}"
    return "all"


def period_bounds(limit_period: str, at: datetime) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the claim period containing ``at`` (None, None for a whole campaign)."""
    if limit_period == "month":
        start = datetime(at.year, at.month, 1)
        end = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1)
        return start, end
    if limit_period == "year":
        return datetime(at.year, 1, 1), datetime(at.year + 1, 1, 1)
    return None, None


def claims_in_period(*, session: Session, member_id: str, template: CouponTemplate, now: datetime) -> int:
    """How many coupons of ``template`` the member claimed in the period containing ``now`` (any status)."""
    start, end = period_bounds(template.limit_period, now)
    query = (
        select(func.count())
        .select_from(Coupon)
        .where(Coupon.member_id == member_id, Coupon.template_id == template.template_id)
    )
    if start is not None and end is not None:
        query = query.where(Coupon.issued_at >= start, Coupon.issued_at < end)
    return int(session.scalar(query) or 0)


def claim_key(limit_period: str, at: datetime, number: int) -> str:
    """The slot of the member's ``number``-th claim in the period (unique per member and template)."""
    return f"{period_key(limit_period, at)}#{number}"


def coupon_valid_until(*, valid_days: int, template_valid_until: datetime | None, claimed_at: datetime) -> datetime:
    """Last instant a coupon claimed at ``claimed_at`` is valid: ``valid_days`` later, within the campaign."""
    until = claimed_at + timedelta(days=valid_days) - _SECOND
    if template_valid_until is not None and template_valid_until < until:
        return template_valid_until
    return until
