"""Property-based tests (hypothesis) of the parsers that read untrusted text: prices and catalog
words, signed blobs and member tokens, the ops date filters, and member text cleaning."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from personalization.catalog_nlu import CatalogParser, parse_amount
from personalization.catalog_nlu.prices import find_prices
from web.errors import ApiError
from web.guards import clean_text, has_visible_text
from web.ops_api import parse_filters
from web.signing import BadSignature, sign, unsign
from web.tokens import InvalidToken, sign_member_token, verify_member_token

SECRET = "property-secret-0123456789"
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
ids = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)


# -- prices and catalog words -----------------------------------------------------------------------

@FAST
@given(st.integers(min_value=1, max_value=10**9))
def test_arabic_amounts_read_back_exactly(value: int) -> None:
    assert parse_amount(str(value)) == Decimal(value)
    assert parse_amount(f"{value:,}") == Decimal(value)


@FAST
@given(st.text(max_size=30))
def test_any_amount_text_is_a_positive_number_or_none(text: str) -> None:
    value = parse_amount(text)
    assert value is None or value > 0


@FAST
@given(st.text(max_size=80))
def test_price_spans_lie_in_the_text_in_order_with_sane_bounds(text: str) -> None:
    found = find_prices(text)
    assert [p.start for p in found] == sorted(p.start for p in found)
    for price in found:
        assert 0 <= price.start < price.end <= len(text)
        assert price.low is None or price.low >= 0
        if price.low is not None and price.high is not None:
            assert price.low <= price.high


@pytest.fixture(scope="module")
def parser() -> CatalogParser:
    return CatalogParser()


@SLOW
@given(text=st.text(max_size=60) | st.sampled_from(["300到100元的口红", "一百千块", "便宜点的耳机", "预算 1e999 元"]))
def test_the_catalog_parser_never_fails_and_keeps_price_bounds_ordered(parser: CatalogParser, text: str) -> None:
    filters = parser.parse(text)
    if filters.price_min is not None and filters.price_max is not None:
        assert filters.price_min <= filters.price_max
    for span in filters.spans:
        assert 0 <= span.start <= span.end <= len(filters.text)


# -- signed blobs and member tokens ----------------------------------------------------------------

@FAST
@given(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "exp"), json_values, max_size=4),
       st.sampled_from(["member", "desk_session", "csrf"]))
def test_sign_then_unsign_gives_the_data_back(data: dict[str, object], purpose: str) -> None:
    token = sign(SECRET, purpose, data, ttl_s=60)
    assert {k: v for k, v in unsign(SECRET, purpose, token).items() if k != "exp"} == data


@FAST
@given(st.data())
def test_any_change_to_a_signed_blob_is_refused(data: st.DataObject) -> None:
    token = sign(SECRET, "member", {"m": "M100001", "v": None}, ttl_s=60)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="utf-8"))
    tampered = token[:position] + replacement + token[position + 1:]
    assume(tampered != token)
    with pytest.raises(BadSignature):
        unsign(SECRET, "member", tampered)


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_is_never_a_valid_blob_and_never_crashes(text: str) -> None:
    with pytest.raises(BadSignature):
        unsign(SECRET, "member", text)


def test_a_blob_for_one_purpose_is_refused_for_another() -> None:
    token = sign(SECRET, "csrf", {"n": "x"}, ttl_s=60)
    with pytest.raises(BadSignature):
        unsign(SECRET, "desk_session", token)


@FAST
@given(member_id=ids, ttl=st.integers(1, 7 * 86400), elapsed=st.integers(0, 8 * 86400))
def test_member_tokens_hold_until_they_expire(member_id: str, ttl: int, elapsed: int) -> None:
    issued = float(int(time.time()))  # expiry is kept in whole seconds
    token = sign_member_token(SECRET, member_id=member_id, visitor_id=None, ttl_s=ttl, now=issued)
    if elapsed <= ttl:
        assert verify_member_token(SECRET, token, now=issued + elapsed).member_id == member_id
    else:
        with pytest.raises(InvalidToken):
            verify_member_token(SECRET, token, now=issued + elapsed)


@FAST
@given(a=ids, b=ids)
def test_a_token_names_exactly_one_member(a: str, b: str) -> None:
    token = sign_member_token(SECRET, member_id=a, visitor_id=None)
    assert verify_member_token(SECRET, token).member_id == a
    assume(a != b)
    assert verify_member_token(SECRET, token).member_id != b


# -- ops date filters ------------------------------------------------------------------------------

TODAY = date(2026, 6, 15)


@FAST
@given(st.dates(date(2000, 1, 1), date(2030, 12, 31)), st.integers(0, 500))
def test_valid_date_ranges_parse_to_themselves(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    try:
        found = parse_filters(start.isoformat(), end.isoformat(), None, None, today=TODAY)
    except ApiError as exc:  # only a range too long may be refused
        assert exc.status == 400 and "不能超过" in exc.message_zh
        return
    assert (found.date_from, found.date_to) == (start, end)


@FAST
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=12), st.text(max_size=20))
def test_any_filter_text_is_accepted_or_a_polite_400(start: str, end: str, tier: str, segment: str) -> None:
    try:
        found = parse_filters(start, end, tier, segment, today=TODAY)
    except ApiError as exc:
        assert exc.status == 400 and exc.message_zh and exc.message_en
        return
    assert found.date_from <= found.date_to


# -- member text -----------------------------------------------------------------------------------

@FAST
@given(st.text(max_size=200))
def test_cleaned_text_is_storable_utf8_without_controls_and_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogates left
    assert not any(ord(ch) < 32 and ch not in "\t\n" for ch in cleaned)
    assert not any(ch in cleaned for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x7f")
    assert clean_text(cleaned) == cleaned


@FAST
@given(st.text(alphabet=st.sampled_from(" \t\n\u200b\u200c\u200d\ufeff\u0301\u3000"), max_size=30))
def test_invisible_only_text_counts_as_empty(text: str) -> None:
    assert not has_visible_text(text)
