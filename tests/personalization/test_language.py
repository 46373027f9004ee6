"""Language detection shared by the Rasa component and the actions."""

import pytest

from personalization.language import detect_language, has_chinese


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的积分呢", "zh"),
        ("我的coupon呢", "zh"),
        ("how many points do I have", "en"),
        ("DD202611170104", None),
        ("where is DD202611170104", "en"),
        ("SKU10001", None),
        ("😀👍", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_language(text: str | None, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_has_chinese_ignores_latin_text() -> None:
    assert has_chinese("订单") and not has_chinese("order")
