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

Most figures are sums over the per-day rollup (:mod:`personalization.analytics.rollups`), which the
pipeline keeps equal to the conversation and turn tables; distinct members, the negative list,
coupon redemption and agent times are read from their tables.

Personal data never leaves here unmasked: turn texts are masked when stored
(:func:`personalization.analytics.masking.mask_text`); no names or phones are returned.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from personalization.analytics import rollups
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
# Most figures are sums over the per-day rollup (``analytics_daily``, see rollups.py): one read of
# a few rows per day. Each function loads it unless ``totals`` (already loaded for the same
# filter, as :func:`overview` does) is given.


def _totals(session: Session, start: date, end: date, tier: str | None, segment: str | None) -> rollups.Totals:
    return rollups.load(session, start, end, tier, segment, anonymous=ANONYMOUS, no_segment=NO_SEGMENT)


def _prefixed(counts: Counter[str], prefix: str) -> dict[str, int]:
    """``{"x": n}`` for every ``"<prefix>x": n`` of ``counts``."""
    size = len(prefix)
    return {key[size:]: n for key, n in counts.items() if key.startswith(prefix)}


def conversations_per_day(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """``{"days": [{"day", "conversations", "members", "turns"}], "total"}``, every day of the range."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    members = {day: len(ids) for day, ids in t.members.items()}
    days = []
    for d in _days(start, end):
        counts = t.per_day.get(d, Counter())
        days.append({"day": d.isoformat(), "conversations": counts["conversations"], "members": members.get(d, 0),
                     "turns": counts["turns"]})
    return {"filters": _filters(start, end, tier, segment), "days": days, "total": sum(d["conversations"] for d in days)}


def containment_rate(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Conversations by ``resolved_by`` (bot / human / unresolved) and the bot's share."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    counts = {"bot": 0, "human": 0, "unresolved": 0} | _prefixed(t.counts, "resolved:")
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
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Handoff rate and reasons (``member_request``, ``negative_emotion``, ``complaint``, ...)."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    total = t.counts["conversations"]
    reasons = sorted(_prefixed(t.counts, "reason:").items(), key=lambda x: (-x[1], x[0]))
    handoffs = sum(n for _, n in reasons)
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations": int(total),
        "handoffs": handoffs,
        "handoff_rate": _rate(handoffs, int(total)),
        "reasons": [{"reason": r, "count": n, "share": _rate(n, handoffs)} for r, n in reasons],
    }


def fallback_rate(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Fallback share of member messages, and of conversations with at least one fallback."""
    start, end = _range(date_from, date_to)
    c = (totals or _totals(session, start, end, tier, segment)).counts
    return {
        "filters": _filters(start, end, tier, segment),
        "turns": c["turns"],
        "fallback_turns": c["fallback_turns"],
        "fallback_rate": _rate(c["fallback_turns"], c["turns"]),
        "conversations": c["conversations"],
        "conversations_with_fallback": c["with_fallback"],
        "conversation_fallback_rate": _rate(c["with_fallback"], c["conversations"]),
    }


def _turns(start: date, end: date, tier: str | None, segment: str | None, *columns: Any) -> Select[Any]:
    return _filtered(select(*columns).select_from(AT).join(AC, AC.id == AT.conversation_id), start, end, tier, segment)


def intent_distribution(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Member messages per intent (most frequent first) and per day (of the message).

    Conversations are selected by their start day; a message after midnight counts on its own day.
    """
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    per_day = {day: _prefixed(counts, "intent:") for day, counts in t.turn_days.items()}
    totals_: Counter[str] = Counter()
    for counts in per_day.values():
        totals_.update(counts)
    total = sum(totals_.values())
    return {
        "filters": _filters(start, end, tier, segment),
        "total": total,
        "intents": [{"intent": k, "count": v, "share": _rate(v, total)} for k, v in sorted(totals_.items(), key=lambda x: (-x[1], x[0]))],
        "trend": [{"day": d.isoformat(), "counts": per_day.get(d.isoformat(), {})} for d in _days(start, end)],
    }


def sentiment_distribution(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Polarity and emotion of member messages, in all and per day (with the day's negative share)."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    polarity: Counter[str] = Counter({p: 0 for p in POLARITIES})
    emotion: Counter[str] = Counter({e: 0 for e in EMOTIONS})
    daily: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    for day, counts in t.turn_days.items():
        pols, emos = _prefixed(counts, "polarity:"), _prefixed(counts, "emotion:")
        polarity.update(pols)
        emotion.update(emos)
        daily[day] = (pols, emos)
    total = sum(polarity.values())
    trend = []
    for d in _days(start, end):
        pols, emos = daily.get(d.isoformat(), ({}, {}))
        n = sum(pols.values())
        trend.append({"day": d.isoformat(), "turns": n, "polarity": pols, "emotion": emos,
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
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """First -> last polarity of each conversation: ``matrix[first][last]``, improved / worsened / unchanged."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    matrix = {first: {last: 0 for last in POLARITIES} for first in POLARITIES}
    rank = {p: i for i, p in enumerate(POLARITIES)}
    improved = worsened = unchanged = 0
    for pair, n in _prefixed(t.counts, "change:").items():
        first, _, last = pair.partition(":")
        if first not in rank or last not in rank:
            continue
        matrix[first][last] += n
        if rank[last] > rank[first]:
            improved += n
        elif rank[last] < rank[first]:
            worsened += n
        else:
            unchanged += n
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


_NEGATIVE_COLUMNS = (
    AC.id, AC.conversation_key, AC.sender_id, AC.member_id, AC.tier, AC.segment, AC.started_at, AC.ended_at,
    AC.first_polarity, AC.last_emotion, AC.handoff_requested, AC.resolved_by, AC.csat,
)


def ended_negative(
    session: Session,
    date_from: date | str,
    date_to: date | str,
    tier: str | None = None,
    segment: str | None = None,
    *,
    limit: int = NEGATIVE_LIST_LIMIT,
    totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Conversations whose last member message was negative, newest first, for drill-down.

    Each item carries ``sender_id`` (the transcript's id) and the last member message, masked.
    """
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    limit = max(1, min(limit, 500))
    stmt = select(*_NEGATIVE_COLUMNS)
    if limit <= rollups.NEGATIVE_KEEP:  # the newest of the filter are among the rollup rows' newest
        ids = [conv_id for _, conv_id in sorted(t.negatives, reverse=True)[:limit]]
        stmt = stmt.where(AC.id.in_(ids))
    else:
        stmt = _filtered(stmt, start, end, tier, segment).where(AC.last_polarity == "negative")
    conversations = session.execute(stmt.order_by(AC.ended_at.desc(), AC.id.desc()).limit(limit)).all()
    count = t.counts["ended_negative"]
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
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """CSAT (1-5): count, mean, distribution, and bot vs human (by ``resolved_by``)."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    distribution = {str(s): 0 for s in range(1, 6)}
    groups: dict[str, list[int]] = {"bot": [0, 0], "human": [0, 0], "unresolved": [0, 0]}  # [count, sum]
    for key, n in sorted(_prefixed(t.counts, "csat:").items()):
        by, _, score = key.rpartition(":")
        distribution[score] = distribution.get(score, 0) + n
        group = groups.setdefault(by, [0, 0])
        group[0] += n
        group[1] += int(score) * n
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
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Seconds from handoff request to the agent's claim, first reply and resolution, overall and per agent.

    From the desk's tables: ``HandoffRequest`` (created_at, claimed_at, resolved_at, tier then) and
    the first ``ChatMessage`` with ``sender == "agent"`` at or after the request. Handoffs are
    selected by their creation day; ``tier`` is the member's tier at the handoff. Not from the
    rollup (``totals`` is ignored): percentiles do not add up, and these rows change without events.
    """
    start, end = _range(date_from, date_to)
    lower, upper = datetime.combine(start, datetime.min.time()), datetime.combine(end + timedelta(days=1), datetime.min.time())
    # Per handoff (correlated: only the handoffs the filter keeps), through the chat-message index.
    first_reply = (
        select(func.min(ChatMessage.created_at))
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(Conversation.public_id == HandoffRequest.conversation_id, ChatMessage.sender == "agent",
               ChatMessage.created_at >= HandoffRequest.created_at)
        .correlate(HandoffRequest)
        .scalar_subquery()
    )
    # Plain columns, not ORM objects: 3-5x faster with thousands of handoffs in a 90-day range.
    stmt = (
        select(HandoffRequest.created_at, HandoffRequest.claimed_at, HandoffRequest.resolved_at, HandoffRequest.agent_id,
               first_reply.label("first_reply_at"), Agent.display_name)
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
    for created_at, claimed_at, resolved_at, agent_id, first_reply_at, agent_name in session.execute(stmt):
        handoffs += 1
        first_reply_at = _as_datetime(first_reply_at)
        times = {
            "claim": (claimed_at - created_at).total_seconds() if claimed_at else None,
            "reply": (first_reply_at - created_at).total_seconds() if first_reply_at else None,
            "resolve": (resolved_at - created_at).total_seconds() if resolved_at else None,
        }
        for key, bucket in (("claim", claim), ("reply", reply), ("resolve", resolve)):
            if times[key] is not None:
                bucket.append(max(times[key], 0.0))
        if agent_id is not None:
            agent = per_agent.setdefault(
                agent_id, {"agent_id": agent_id, "agent_name": agent_name, "handoffs": 0, "reply": [], "resolve": []}
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


def _as_datetime(value: Any) -> datetime | None:
    """``min()`` over a subquery comes back from SQLite as text: parse it."""
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def recommendation_click_through(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Share of conversations with product cards in which the member then engaged (see module doc)."""
    start, end = _range(date_from, date_to)
    c = (totals or _totals(session, start, end, tier, segment)).counts
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations_with_recommendations": c["rec_conversations"],
        "card_replies": c["rec_cards"],
        "engaged": c["rec_engaged"],
        "click_through_rate": _rate(c["rec_engaged"], c["rec_conversations"]),
        "definition_zh": "展示过商品卡片的会话中，会员随后在同一会话内要求“换一批/更多推荐”或成功领券的占比",
        "definition_en": "Of conversations that showed product cards, the share where the member then asked for more "
        "recommendations or claimed a coupon in the same conversation",
    }


_CODES_PER_QUERY = 900


def coupon_rates(
    session: Session, date_from: date | str, date_to: date | str, tier: str | None = None, segment: str | None = None,
    *, totals: rollups.Totals | None = None,
) -> dict[str, Any]:
    """Coupon offers shown -> claimed in chat -> redeemed on an order (looked up on ``coupons`` now)."""
    start, end = _range(date_from, date_to)
    t = totals or _totals(session, start, end, tier, segment)
    c, codes = t.counts, t.coupon_codes
    redeemed = 0
    for i in range(0, len(codes), _CODES_PER_QUERY):
        redeemed += session.scalar(
            select(func.count(Coupon.code)).where(Coupon.code.in_(codes[i : i + _CODES_PER_QUERY]), Coupon.status == "used")
        ) or 0
    return {
        "filters": _filters(start, end, tier, segment),
        "conversations_offered": c["coupon_offered"],
        "conversations_offered_and_claimed": c["coupon_offered_claimed"],
        "claim_rate": _rate(c["coupon_offered_claimed"], c["coupon_offered"]),
        "claims": c["coupon_claims"],
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
    """Every metric of :data:`METRICS` for one filter (the rollup is read once for all of them)."""
    start, end = _range(date_from, date_to)
    totals = _totals(session, start, end, tier, segment)
    result: dict[str, Any] = {"filters": _filters(start, end, tier, segment)}
    for name, metric in METRICS.items():
        value = metric(session, start, end, tier, segment, totals=totals)
        value.pop("filters", None)
        result[name] = value
    return result
