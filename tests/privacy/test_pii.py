"""Finding and masking personal data: the kinds, their checks, and text left alone."""

from __future__ import annotations

import pytest

from personalization.analytics import masking
from personalization.privacy.pii import Span, find_pii, id_card_valid, luhn_valid, mask_text

VALID_ID = "110101199003071233"  # GB 11643 check character 3
VISA = "4111111111111111"  # Luhn-valid
UNIONPAY = "6222021234567890128"  # 19 digits, Luhn-valid


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("call +86 138-1234-5678 please", "call 138****5678 please"),
        ("手机：+8613812345678。", "手机：138****5678。"),
        ("手机 138 1234 5678", "手机 138****5678"),
        ("手机１３８１２３４５６７８", "手机138****5678"),  # full-width digits from a Chinese keyboard
        (f"身份证{VALID_ID}", "身份证1101**********1233"),
        ("身份证11010119900307123X", "身份证11010119900307123X"),  # wrong check character: not an ID
        ("证件 11010519491231002x", "证件 1101**********002x"),
        ("老身份证 110101900307123", "老身份证 1101*******7123"),
        (f"卡号{VISA}", "卡号************1111"),
        ("卡号 6222 0212 3456 7890 128", "卡号 ***************0128"),
        ("卡号 6222-0212-3456-7890-128", "卡号 ***************0128"),
        ("卡号 4111111111111112", "卡号 4111111111111112"),  # fails the Luhn check: not a card
        ("tel13812345678thanks", "tel138****5678thanks"),  # letters around a number do not hide it
        ("订单DD202610150123怎么还没到", "订单DD2026******23怎么还没到"),
        ("邮箱alice.wong@example.com", "邮箱a***@example.com"),
        ("qq邮箱 12345678@qq.com", "qq邮箱 1***@qq.com"),
        ("寄到上海市浦东新区世纪大道100号3号楼502室", "寄到上海市浦东新区********"),
        ("地址：北京市朝阳区阳光花园3号楼", "地址：北京市朝阳区********"),
        ("ship to 12 Baker Street", "ship to *** (address)"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "我不知道订单到哪了",
        "SKU10001 的价格是 199 元，库存 35 件",
        "快递单号 SF1234567890124 还没更新",  # not Luhn-valid: left alone
        "2026-10-15 下单，满200减50",
        "Order total: 1,299.00 yuan, 3 items",
        "",
    ],
)
def test_text_without_personal_data_is_unchanged(text: str) -> None:
    assert mask_text(text) == text
    assert find_pii(text) == []


def test_known_names_are_masked_and_unknown_names_are_not() -> None:
    assert mask_text("我是张伟，找李娜", names=("张伟", "李娜", None, "")) == "我是张*，找李*"
    assert mask_text("我是张伟", names=("王",)) == "我是张伟"  # one character is too little to find safely


def test_spans_name_kind_and_position_in_text_order() -> None:
    text = f"电话 138-1234-5678，卡 {VISA}，邮箱 a@b.cn"
    spans = find_pii(text)
    assert [s.kind for s in spans] == ["phone", "bank_card", "email"]
    assert text[spans[0].start : spans[0].end] == "138-1234-5678"
    assert text[spans[1].start : spans[1].end] == VISA
    assert spans[2] == Span("email", text.index("a@b.cn"), len(text))


def _luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it Luhn-valid."""
    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


def test_the_longest_candidate_wins_an_overlap() -> None:
    card = _luhn_complete("13812345678000000")  # 18 digits that start like a mobile number
    written = f"138 1234 5678 {card[11:15]} {card[15:]}"
    text = f"号码 {written} 结束"
    assert [s.kind for s in find_pii("号码 138 1234 5678 结束")] == ["phone"]
    assert find_pii(text) == [Span("bank_card", 3, 3 + len(written))]  # the card, not the phone inside it
    assert mask_text(text) == f"号码 {'*' * 14}{card[-4:]} 结束"


def test_checks_of_id_numbers_and_cards() -> None:
    assert id_card_valid(VALID_ID) and not id_card_valid("110101199003071234")
    assert id_card_valid("11010519491231002X") and id_card_valid("11010519491231002x")
    assert not id_card_valid("110101199013071233")  # month 13
    assert id_card_valid("110101900307123") and not id_card_valid("110101901307123")
    assert luhn_valid(VISA) and luhn_valid(UNIONPAY) and not luhn_valid("4111111111111112")
    assert not luhn_valid("４１１１") and not luhn_valid("")  # only ASCII digits count


def test_the_analytics_import_path_still_works() -> None:
    assert masking.mask_text("电话13812345678") == "电话138****5678"
    assert masking.find_pii is find_pii
