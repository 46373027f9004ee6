"""Ops metrics over the analytics tables (and the desk's tables for agent times), as JSON-ready dicts.

Every function takes ``(session, date_from, date_to, tier=None, segment=None)``:

* ``date_from`` / ``date_to``: inclusive days (``date`` or ``"YYYY-MM-DD"``) of the conversation's
  start (of the handoff's creation for :func:`agent_times`);
* ``tier``: a tier code (``normal``/``silver``/``gold``/``diamond``) or ``"anonymous"`` (no member);
* ``segment``: a member segment (``member_profiles.segment``) or ``"none"`` (no segment known).

Definitions (also returned as ``definition_zh`` / ``definition_en`` where a figure needs one):

* **containment**: conversations resolved by the bot: no handoff requested and the member's last
  message was not answered with a fallback (``resolved_by == "bot"``), over all conversations.
* **handoff rate**: conversations with a handoff request over all conversations.
* **fallback rate**: member messages that got a fallback (``nlu_fallback`` or ``utter_default``)
  over all member messages.
* **recommendation click-through**: of the conversations in which product cards were shown, the
  share in which the member then engaged within the same conversation: asked for more
  (``ask_recommendation`` again, typed or the 换一批 button) or claimed a coupon.
* **coupon claim rate**: of the conversations in which coupon offers were shown, the share with a
  successful claim; **redemption rate**: of the coupons claimed in chat, the share used on an order.

Personal data never leaves here unmasked: turn texts are masked when stored
(:func:`personalization.analytics.masking.mask_text`); no names or phones are returned.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from personalization.analytics.models import AnalyticsConversation as AC
from personalization.analytics.models import AnalyticsTurn as AT
from personalization.models import Agent, ChatMessage, Conversation, Coupon, HandoffRequest, MemberProfileRow

POLARITIES = ("negative", "neutral", "positive")
EMOTIONS = ("anger", "anxiety", "disappointment", "joy", "neutral")
ANONYMOUS = "anonymous"
NO_SEGMENT = "none"
MAX_DAYS = 1000
NEGATIVE_LIST_LIMIT = 50


class MetricsError(ValueError):
    """Bad filter input (unparsable dates, a range that ends before it starts or is too long)."""


def _day(value: date | str, label: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise MetricsError(f"{label} is not a date (YYYY-MM-DD): {value!r}") from None


def _range(date_from: date | str, date_to: date | str) -> tuple[date, date]:
    start, end = _day(date_from, "date_from"), _day(date_to, "date_to")
    if end < start:
        raise MetricsError(f"date_to {end} is before date_from {start}")
    if (end - start).days >= MAX_DAYS:
        raise MetricsError(f"date range longer than {MAX_DAYS} days")
    return start, end


def _filtered(stmt: Select[Any], start: date, end: date, tier: str | None, segment: str | None) -> Select[Any]:
    stmt = stmt.where(AC.started_day >= start, AC.started_day <= end)
    if tier:
        stmt = stmt.where(AC.tier.is_(None) if tier == ANONYMOUS else AC.tier == tier)
    if segment:
        stmt = stmt.where(AC.segment.is_(None) if segment == NO_SEGMENT else AC.segment == segment)
    return stmt


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _filters(start: date, end: date, tier: str | None, segment: str | None) -> dict[str, Any]:
    return {"date_from": start.isoformat(), "date_to": end.isoformat(), "tier": tier, "segment": segment}


def _as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# ---------------------------------------------------------------------------------------------


def conversations_per_day(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """``{"days": [{"day", "conversations", "members", "turns"}], "total"}``, every day of the range."""
    start, end = _range(date_from, date_to)
    stmt = _filtered(
        select(AC.started_day, func.count(AC.id), func.count(func.distinct(AC.member_id)), func.coalesce(func.sum(AC.turns), 0)),
        start, end, tier, segment,
    ).group_by(AC.started_day)
    found = {_as_day(day): (n, members, turns) for day, n, members, turns in session.execute(stmt)}
    days = [
        {"day": d.isoformat(), "conversations": found.get(d, (0, 0, 0))[0], "members": found.get(d, (0, 0, 0))[1],
         "turns": int(found.get(d, (0, 0, 0))[2])}
        for d in _days(start, end)
    ]
    return {"filters": _filters(start, end, tier, segment), "days": days, "total": sum(d["conversations"] for d in days)}


def containment_rate(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Conversations by ``resolved_by`` (bot / human / unresolved) and the bot's share."""
    start, end = _range(date_from, date_to)
    stmt = _filtered(select(AC.resolved_by, func.count(AC.id)), start, end, tier, segment).group_by(AC.resolved_by)
    counts = {"bot": 0, "human": 0, "unresolved": 0} | {k: int(v) for k, v in session.execute(stmt)}
    total = sum(counts.values())
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations": total,
        **counts,
        "containment_rate": _rate(counts["bot"], total),
        "definition_zh": "未转人工且最后一条消息未落入兜底回复的会话占比",
        "definition_en": "Share of conversations with no handoff whose last member message was not a fallback",
    }


def handoff_rate(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Handoff rate and reasons (``member_request``, ``negative_emotion``, ``complaint``, ...)."""
    start, end = _range(date_from, date_to)
    total = session.scalar(_filtered(select(func.count(AC.id)), start, end, tier, segment)) or 0
    stmt = _filtered(select(AC.handoff_reason, func.count(AC.id)), start, end, tier, segment).where(
        AC.handoff_requested.is_(True)
    ).group_by(AC.handoff_reason)
    counted: Counter[str] = Counter()
    for reason, n in session.execute(stmt):
        counted[reason or "unknown"] += int(n)
    reasons = sorted(counted.items(), key=lambda x: (-x[1], x[0]))
    handoffs = sum(n for _, n in reasons)
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations": int(total),
        "handoffs": handoffs,
        "handoff_rate": _rate(handoffs, int(total)),
        "reasons": [{"reason": r, "count": n, "share": _rate(n, handoffs)} for r, n in reasons],
    }


def fallback_rate(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Fallback share of member messages, and of conversations with at least one fallback."""
    start, end = _range(date_from, date_to)
    turns, fallbacks, conversations, with_fallback = session.execute(
        _filtered(
            select(
                func.coalesce(func.sum(AC.turns), 0),
                func.coalesce(func.sum(AC.fallbacks), 0),
                func.count(AC.id),
                func.coalesce(func.sum(case((AC.fallbacks > 0, 1), else_=0)), 0),
            ),
            start, end, tier, segment,
        )
    ).one()
    return {
        "filters": _filters(start, end, tier, segment),
        "turns": int(turns),
        "fallback_turns": int(fallbacks),
        "fallback_rate": _rate(int(fallbacks), int(turns)),
        "conversations": int(conversations),
        "conversations_with_fallback": int(with_fallback),
        "conversation_fallback_rate": _rate(int(with_fallback), int(conversations)),
    }


def _turns(start: date, end: date, tier: str | None, segment: str | None, *columns: Any) -> Select[Any]:
    return _filtered(select(*columns).select_from(AT).join(AC, AC.id == AT.conversation_id), start, end, tier, segment)


def intent_distribution(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Member messages per intent (most frequent first) and per day."""
    start, end = _range(date_from, date_to)
    rows = session.execute(_turns(start, end, tier, segment, AT.day, AT.intent, func.count(AT.id)).group_by(AT.day, AT.intent)).all()
    totals: Counter[str] = Counter()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for day, name, n in rows:
        totals[name or "unknown"] += int(n)
        per_day[_as_day(day)][name or "unknown"] += int(n)
    total = sum(totals.values())
    return {
        "filters": _filters(start, end, tier, segment),
        "total": total,
        "intents": [{"intent": k, "count": v, "share": _rate(v, total)} for k, v in sorted(totals.items(), key=lambda x: (-x[1], x[0]))],
        "trend": [{"day": d.isoformat(), "counts": dict(per_day.get(d, {}))} for d in _days(start, end)],
    }


def sentiment_distribution(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Polarity and emotion of member messages, in all and per day (with the day's negative share)."""
    start, end = _range(date_from, date_to)
    rows = session.execute(
        _turns(start, end, tier, segment, AT.day, AT.polarity, AT.emotion, func.count(AT.id))
        .where(AT.polarity.is_not(None))
        .group_by(AT.day, AT.polarity, AT.emotion)
    ).all()
    polarity: Counter[str] = Counter({p: 0 for p in POLARITIES})
    emotion: Counter[str] = Counter({e: 0 for e in EMOTIONS})
    daily: dict[date, dict[str, Counter[str]]] = defaultdict(lambda: {"polarity": Counter(), "emotion": Counter()})
    for day, pol, emo, n in rows:
        polarity[pol] += n
        emotion[emo or "neutral"] += n
        daily[_as_day(day)]["polarity"][pol] += n
        daily[_as_day(day)]["emotion"][emo or "neutral"] += n
    total = sum(polarity.values())
    trend = []
    for d in _days(start, end):
        pols, emos = daily[d]["polarity"] if d in daily else Counter(), daily[d]["emotion"] if d in daily else Counter()
        n = sum(pols.values())
        trend.append({"day": d.isoformat(), "turns": n, "polarity": dict(pols), "emotion": dict(emos),
                      "negative_share": _rate(pols.get("negative", 0), n)})
    return {
        "filters": _filters(start, end, tier, segment),
        "turns": total,
        "polarity": dict(polarity),
        "emotion": dict(emotion),
        "polarity_share": {k: _rate(v, total) for k, v in polarity.items()},
        "trend": trend,
    }


def sentiment_change(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """First -> last polarity of each conversation: ``matrix[first][last]``, improved / worsened / unchanged."""
    start, end = _range(date_from, date_to)
    rows = session.execute(
        _filtered(select(AC.first_polarity, AC.last_polarity, func.count(AC.id)), start, end, tier, segment)
        .where(AC.first_polarity.is_not(None), AC.last_polarity.is_not(None))
        .group_by(AC.first_polarity, AC.last_polarity)
    ).all()
    matrix = {first: {last: 0 for last in POLARITIES} for first in POLARITIES}
    rank = {p: i for i, p in enumerate(POLARITIES)}
    improved = worsened = unchanged = 0
    for first, last, n in rows:
        if first not in rank or last not in rank:
            continue
        matrix[first][last] += int(n)
        if rank[last] > rank[first]:
            improved += int(n)
        elif rank[last] < rank[first]:
            worsened += int(n)
        else:
            unchanged += int(n)
    total = improved + worsened + unchanged
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations": total,
        "matrix": matrix,
        "improved": improved,
        "worsened": worsened,
        "unchanged": unchanged,
        "improved_share": _rate(improved, total),
        "worsened_share": _rate(worsened, total),
    }


def ended_negative(
    session: Session,
    date_from: date | str,
    date_to: date | str,
    tier: str | None = None,
    segment: str | None = None,
    *,
    limit: int = NEGATIVE_LIST_LIMIT,
) -> dict[str, Any]:
    """Conversations whose last member message was negative, newest first, for drill-down.

    Each item carries ``sender_id`` (the transcript's id) and the last member message, masked.
    """
    start, end = _range(date_from, date_to)
    base = _filtered(select(AC), start, end, tier, segment).where(AC.last_polarity == "negative")
    count = session.scalar(_filtered(select(func.count(AC.id)), start, end, tier, segment).where(AC.last_polarity == "negative")) or 0
    conversations = list(session.scalars(base.order_by(AC.ended_at.desc(), AC.id.desc()).limit(max(1, min(limit, 500)))))
    last_texts: dict[int, str] = {}
    if conversations:
        ids = [c.id for c in conversations]
        latest = (
            select(AT.conversation_id, func.max(AT.seq).label("seq")).where(AT.conversation_id.in_(ids)).group_by(AT.conversation_id).subquery()
        )
        for conv_id, text in session.execute(
            select(AT.conversation_id, AT.text_masked).join(latest, and_(AT.conversation_id == latest.c.conversation_id, AT.seq == latest.c.seq))
        ):
            last_texts[conv_id] = text
    return {
        "filters": _filters(start, end, tier, segment),
        "count": int(count),
        "conversations": [
            {
                "conversation_key": c.conversation_key,
                "sender_id": c.sender_id,
                "member_id": c.member_id,
                "tier": c.tier or ANONYMOUS,
                "segment": c.segment,
                "started_at": c.started_at.isoformat(timespec="seconds"),
                "ended_at": c.ended_at.isoformat(timespec="seconds"),
                "first_polarity": c.first_polarity,
                "last_emotion": c.last_emotion,
                "handoff": c.handoff_requested,
                "resolved_by": c.resolved_by,
                "csat": c.csat,
                "last_text_masked": last_texts.get(c.id, ""),
            }
            for c in conversations
        ],
    }


def csat_summary(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """CSAT (1-5): count, mean, distribution, and bot vs human (by ``resolved_by``)."""
    start, end = _range(date_from, date_to)
    rows = session.execute(
        _filtered(select(AC.resolved_by, AC.csat, func.count(AC.id)), start, end, tier, segment)
        .where(AC.csat.is_not(None))
        .group_by(AC.resolved_by, AC.csat)
    ).all()
    distribution = {str(s): 0 for s in range(1, 6)}
    groups: dict[str, list[int]] = {"bot": [0, 0], "human": [0, 0], "unresolved": [0, 0]}  # [count, sum]
    for by, score, n in rows:
        distribution[str(score)] = distribution.get(str(score), 0) + int(n)
        group = groups.setdefault(by, [0, 0])
        group[0] += int(n)
        group[1] += int(score) * int(n)
    rated = sum(g[0] for g in groups.values())
    total = sum(g[1] for g in groups.values())
    return {
        "filters": _filters(start, end, tier, segment),
        "rated": rated,
        "mean": round(total / rated, 2) if rated else None,
        "distribution": distribution,
        "by_resolved_by": {k: {"rated": c, "mean": round(s / c, 2) if c else None} for k, (c, s) in groups.items()},
    }


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    ordered = sorted(values)

    def pct(p: float) -> float:
        index = max(0, min(len(ordered) - 1, int(round(p * len(ordered) + 0.5)) - 1))
        return round(ordered[index], 1)

    return {"count": len(ordered), "mean": round(sum(ordered) / len(ordered), 1), "p50": pct(0.5), "p90": pct(0.9)}


def agent_times(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Seconds from handoff request to the agent's claim, first reply and resolution, overall and per agent.

    From the desk's tables: ``HandoffRequest`` (created_at, claimed_at, resolved_at, tier then) and
    the first ``ChatMessage`` with ``sender == "agent"`` at or after the request. Handoffs are
    selected by their creation day; ``tier`` is the member's tier at the handoff.
    """
    start, end = _range(date_from, date_to)
    lower, upper = datetime.combine(start, datetime.min.time()), datetime.combine(end + timedelta(days=1), datetime.min.time())
    first_reply = (
        select(HandoffRequest.id.label("handoff_id"), func.min(ChatMessage.created_at).label("first_reply_at"))
        .join(Conversation, Conversation.public_id == HandoffRequest.conversation_id)
        .join(ChatMessage, and_(ChatMessage.conversation_id == Conversation.id, ChatMessage.sender == "agent",
                                ChatMessage.created_at >= HandoffRequest.created_at))
        .where(HandoffRequest.created_at >= lower, HandoffRequest.created_at < upper)
        .group_by(HandoffRequest.id)
        .subquery()
    )
    stmt = (
        select(HandoffRequest, first_reply.c.first_reply_at, Agent.display_name)
        .outerjoin(first_reply, first_reply.c.handoff_id == HandoffRequest.id)
        .outerjoin(Agent, Agent.id == HandoffRequest.agent_id)
        .where(HandoffRequest.created_at >= lower, HandoffRequest.created_at < upper)
    )
    if tier:
        stmt = stmt.where(HandoffRequest.tier.is_(None) if tier == ANONYMOUS else HandoffRequest.tier == tier)
    if segment:
        stmt = stmt.outerjoin(MemberProfileRow, MemberProfileRow.member_id == HandoffRequest.member_id)
        stmt = stmt.where(MemberProfileRow.segment.is_(None) if segment == NO_SEGMENT else MemberProfileRow.segment == segment)
    claim: list[float] = []
    reply: list[float] = []
    resolve: list[float] = []
    per_agent: dict[int, dict[str, Any]] = {}
    handoffs = 0
    for request, first_reply_at, agent_name in session.execute(stmt):
        handoffs += 1
        times = {
            "claim": (request.claimed_at - request.created_at).total_seconds() if request.claimed_at else None,
            "reply": (first_reply_at - request.created_at).total_seconds() if isinstance(first_reply_at, datetime) else None,
            "resolve": (request.resolved_at - request.created_at).total_seconds() if request.resolved_at else None,
        }
        for key, bucket in (("claim", claim), ("reply", reply), ("resolve", resolve)):
            if times[key] is not None:
                bucket.append(max(times[key], 0.0))
        if request.agent_id is not None:
            agent = per_agent.setdefault(
                request.agent_id, {"agent_id": request.agent_id, "agent_name": agent_name, "handoffs": 0, "reply": [], "resolve": []}
            )
            agent["handoffs"] += 1
            if times["reply"] is not None:
                agent["reply"].append(max(times["reply"], 0.0))
            if times["resolve"] is not None:
                agent["resolve"].append(max(times["resolve"], 0.0))
    return {
        "filters": _filters(start, end, tier, segment),
        "handoffs": handoffs,
        "claimed": len(claim),
        "resolved": len(resolve),
        "wait_to_claim_s": _stats(claim),
        "first_response_s": _stats(reply),
        "resolution_s": _stats(resolve),
        "by_agent": [
            {"agent_id": a["agent_id"], "agent_name": a["agent_name"], "handoffs": a["handoffs"],
             "first_response_s": _stats(a["reply"]), "resolution_s": _stats(a["resolve"])}
            for a in sorted(per_agent.values(), key=lambda a: a["agent_id"])
        ],
    }


def recommendation_click_through(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Share of conversations with product cards in which the member then engaged (see module doc)."""
    start, end = _range(date_from, date_to)
    shown, engaged, cards = session.execute(
        _filtered(
            select(func.count(AC.id), func.coalesce(func.sum(case((AC.rec_engaged.is_(True), 1), else_=0)), 0),
                   func.coalesce(func.sum(AC.rec_shown), 0)),
            start, end, tier, segment,
        ).where(AC.rec_shown > 0)
    ).one()
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations_with_recommendations": int(shown),
        "card_replies": int(cards),
        "engaged": int(engaged),
        "click_through_rate": _rate(int(engaged), int(shown)),
        "definition_zh": "展示过商品卡片的会话中，会员随后在同一会话内要求“换一批/更多推荐”或成功领券的占比",
        "definition_en": "Of conversations that showed product cards, the share where the member then asked for more "
        "recommendations or claimed a coupon in the same conversation",
    }


def coupon_rates(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Coupon offers shown -> claimed in chat -> redeemed on an order."""
    start, end = _range(date_from, date_to)
    offered = session.scalar(_filtered(select(func.count(AC.id)), start, end, tier, segment).where(AC.coupon_offers_shown > 0)) or 0
    offered_claimed = session.scalar(
        _filtered(select(func.count(AC.id)), start, end, tier, segment).where(AC.coupon_offers_shown > 0, AC.coupons_claimed > 0)
    ) or 0
    codes: list[str] = []
    claims = 0
    for n, claimed_codes in session.execute(
        _filtered(select(AC.coupons_claimed, AC.claimed_codes), start, end, tier, segment).where(AC.coupons_claimed > 0)
    ):
        claims += int(n)
        codes.extend(code for code in (claimed_codes or []) if isinstance(code, str))
    redeemed = 0
    for i in range(0, len(codes), 500):
        redeemed += session.scalar(
            select(func.count(Coupon.code)).where(Coupon.code.in_(codes[i : i + 500]), Coupon.status == "used")
        ) or 0
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations_offered": int(offered),
        "conversations_offered_and_claimed": int(offered_claimed),
        "claim_rate": _rate(int(offered_claimed), int(offered)),
        "claims": claims,
        "claimed_codes_known": len(codes),
        "redeemed": int(redeemed),
        "redemption_rate": _rate(int(redeemed), len(codes)),
    }


METRICS = {
    "conversations_per_day": conversations_per_day,
    "containment": containment_rate,
    "handoffs": handoff_rate,
    "fallbacks": fallback_rate,
    "intents": intent_distribution,
    "sentiment": sentiment_distribution,
    "sentiment_change": sentiment_change,
    "ended_negative": ended_negative,
    "csat": csat_summary,
    "agent_times": agent_times,
    "recommendations": recommendation_click_through,
    "coupons": coupon_rates,
}


def overview(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Every metric of :data:`METRICS` for one filter."""
    start, end = _range(date_from, date_to)
    result: dict[str, Any] = {"filters": _filters(start, end, tier, segment)}
    for name, metric in METRICS.items():
        value = metric(session, start, end, tier, segment)
        value.pop("filters", None)
        result[name] = value
    return result
