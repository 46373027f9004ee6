"""Properties of masking, checked with hypothesis on generated text.

* no Luhn-valid card, valid ID number or mobile number put into a text survives masking;
* masking is idempotent and never raises, whatever the unicode;
* text without personal data comes back unchanged; spans lie inside the text and do not overlap.
"""

from __future__ import annotations

import re
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalization.privacy.pii import find_pii, id_card_valid, luhn_valid, mask_text

settings.register_profile("privacy", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("privacy")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@st.composite
def cards(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=12, max_size=18))
    digits = next(body + d for d in "0123456789" if luhn_valid(body + d))
    assert luhn_valid(digits)
    return digits


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    area = draw(st.integers(110000, 829999))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    seq = draw(st.integers(0, 999))
    body = f"{area}{born:%Y%m%d}{seq:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]
    value = body + check
    assert id_card_valid(value)
    return value


mobiles = st.builds(lambda second, rest: f"1{second}{rest}", st.sampled_from("3456789"),
                    st.text("0123456789", min_size=9, max_size=9))


def _grouped(digits: str, draw: st.DrawFn) -> str:
    """The digits as a member might write them: plain, or in groups of 4 with spaces or dashes."""
    style = draw(st.sampled_from(["plain", " ", "-"]))
    if style == "plain":
        return digits
    return style.join(digits[i : i + 4] for i in range(0, len(digits), 4))


# Surrounding text: Chinese, Latin words and punctuation, without digits or "*" (a digit right beside
# the number makes it another number; see personalization.privacy.pii for "*").
_PIECES = list("我的卡号是电话请查一下订单谢谢，。！？ :;()[]\n") + ["hello ", "card ", " no. "]
_AROUND = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


@st.composite
def texts_with(draw: st.DrawFn, secret: st.SearchStrategy[str]) -> tuple[str, str]:
    value = draw(secret)
    return draw(_AROUND) + _grouped(value, draw) + draw(_AROUND), value


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text)


@given(texts_with(cards()))
def test_no_luhn_valid_card_survives(case: tuple[str, str]) -> None:
    text, card = case
    masked = mask_text(text)
    assert _digits(masked) == card[-4:]  # only the last four digits stay
    assert not [s for s in find_pii(masked) if s.kind == "bank_card"]


@given(texts_with(id_numbers()))
def test_no_valid_id_number_survives(case: tuple[str, str]) -> None:
    text, id_number = case
    masked = mask_text(text)
    assert _digits(masked) == id_number[:4] + id_number[-4:]  # the first and last four stay
    assert not [s for s in find_pii(masked) if s.kind == "id_card"]


@given(texts_with(mobiles))
def test_no_mobile_number_survives(case: tuple[str, str]) -> None:
    text, mobile = case
    masked = mask_text(text)
    assert _digits(masked) == mobile[:3] + mobile[-4:]  # 138****5678


# Arbitrary text, with extra weight on the characters the patterns care about.
_tricky = st.text(
    st.one_of(st.characters(), st.sampled_from(list("0123456789 -+*@.X号路区市DD１２３")),),
    max_size=80,
)


@given(_tricky)
def test_masking_never_raises_and_is_idempotent(text: str) -> None:
    once = mask_text(text)
    assert mask_text(once) == once


@given(_tricky, st.lists(st.text(min_size=2, max_size=4), max_size=2))
def test_spans_are_inside_the_text_sorted_and_disjoint(text: str, names: list[str]) -> None:
    spans = find_pii(text, names)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


@given(st.text(st.characters(blacklist_categories=("Nd",), blacklist_characters="@"), max_size=80))
def test_text_without_digits_or_at_signs_is_unchanged_unless_an_address(text: str) -> None:
    # No digits: no phone, card, ID or order; no "@": no e-mail; addresses need a house number.
    assert mask_text(text) == text
