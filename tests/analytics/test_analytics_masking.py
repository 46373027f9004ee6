"""Personal data is masked in what analytics stores and returns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from personalization.analytics.masking import mask_text
from personalization.analytics.models import AnalyticsConversation, AnalyticsTurn
from personalization.analytics.pipeline import SqlEventSource, run_pipeline
from tests.analytics.conftest import World


@pytest.mark.parametrize(
    ("text", "names", "masked"),
    [
        ("电话13812345678", (), "电话138****5678"),
        ("call +86 138-1234-5678 please", (), "call 138****5678 please"),
        ("订单DD202610150123怎么还没到", (), "订单DD2026******23怎么还没到"),
        ("身份证110101199003071233", (), "身份证1101**********1233"),
        ("邮箱alice.wong@example.com", (), "邮箱a***@example.com"),
        ("寄到上海市浦东新区世纪大道100号3号楼502室", (), "寄到上海市浦东新区********"),
        ("ship to 12 Baker Street", (), "ship to *** (address)"),
        ("我是张伟，找李娜", ("张伟", "李娜", None, ""), "我是张*，找李*"),
        ("我不知道订单到哪了", (), "我不知道订单到哪了"),
        ("", (), ""),
    ],
)
def test_mask_text_hides_personal_data_and_keeps_the_rest(text: str, names: tuple, masked: str) -> None:
    assert mask_text(text, names=names) == masked


def test_stored_turn_texts_are_masked_with_the_members_name(world: World) -> None:
    run_pipeline(world.app.factory, SqlEventSource(world.events_url))
    with world.app.factory() as session:
        texts = list(session.scalars(select(AnalyticsTurn.text_masked)))
    joined = "\n".join(texts)
    assert "谢谢，我叫张*，电话138****5678" in texts
    assert "我的订单DD2026******01到哪了" in texts
    for secret in ("张伟", "李娜", "13812345678", "13900001111", "DD202611010001"):
        assert secret not in joined


def test_drill_down_transcript_is_masked_and_includes_the_agent(world: World) -> None:
    from personalization.analytics.transcript import masked_transcript

    source = SqlEventSource(world.events_url)
    run_pipeline(world.app.factory, source)
    with world.app.factory() as session:
        key = session.scalar(select(AnalyticsConversation.conversation_key).where(AnalyticsConversation.sender_id == "C-b"))
        result = masked_transcript(session, source, key)
        assert masked_transcript(session, source, "nobody#1") is None
    assert result is not None
    speakers = [m["speaker"] for m in result["messages"]]
    assert speakers == ["member", "bot", "member", "bot", "agent", "agent"]
    text = "\n".join(m["text_masked"] for m in result["messages"])
    assert "李*" in text and "139****1111" in text and "DD2026******01" in text
    for secret in ("李娜", "13900001111", "DD202611010001"):
        assert secret not in text
    assert result["messages"][2]["emotion"] == "anger"
