"""Members' phones and birthdays are encrypted at rest; the app reads them as before."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from personalization import cli
from personalization.db import create_schema, make_engine, session_factory
from personalization.models import Member, Tier
from personalization.privacy import crypto
from personalization.seed import seed_database
from personalization.services import members
from personalization.settings import Settings

KEY = "privacy-tests-data-key-0123456789"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    values = {"database_url": f"sqlite:///{tmp_path / 'shop.db'}", "var_dir": str(tmp_path), "data_key": KEY}
    return replace(Settings(), **{**values, **changes})


def _raw(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "shop.db") as connection:
        return connection.execute(sql).fetchall()


def _add_member(session: Session, member_id: str = "M900001", phone: str = "13812345678",
                birthday: date | None = date(1990, 3, 7)) -> None:
    if session.get(Tier, "normal") is None:
        session.add(Tier(code="normal", rank=0, name_zh="普通", name_en="Normal", threshold=0,
                         points_multiplier=1, benefits_zh=[], benefits_en=[], perks={}))
    session.add(Member(member_id=member_id, name="张伟", gender="U", birthday=birthday, city="上海", phone=phone,
                       registered_at=datetime(2025, 1, 1), tier_code="normal"))
    session.commit()


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(_settings(tmp_path))
    create_schema(engine)
    yield engine
    engine.dispose()


def test_the_raw_row_holds_no_plaintext_and_the_app_reads_the_values(engine: Engine, tmp_path: Path) -> None:
    with session_factory(engine)() as session:
        _add_member(session)
    ((phone, birthday),) = _raw(tmp_path, "SELECT phone, birthday FROM members")
    assert phone.startswith("enc1:") and birthday.startswith("enc1:")
    assert "13812345678" not in phone + birthday and "1990" not in phone + birthday
    with session_factory(engine)() as session:
        member = session.get(Member, "M900001")
        assert (member.phone, member.birthday) == ("13812345678", date(1990, 3, 7))
        profile = members.member_profile(session=session, member_id="M900001")
    assert profile is not None and profile["masked_phone"] == "138****5678"


def test_the_same_phone_encrypts_differently_each_time(engine: Engine, tmp_path: Path) -> None:
    with session_factory(engine)() as session:
        _add_member(session, "M900001")
        _add_member(session, "M900002")
    first, second = (row[0] for row in _raw(tmp_path, "SELECT phone FROM members ORDER BY member_id"))
    assert first != second  # a fresh nonce per value: equal phones cannot be spotted in a dump


def test_another_key_cannot_read_the_values(engine: Engine, tmp_path: Path) -> None:
    with session_factory(engine)() as session:
        _add_member(session)
    other = make_engine(_settings(tmp_path, data_key="another-key-of-the-wrong-kind-0000"))
    with pytest.raises(crypto.DecryptionFailed), Session(other) as session:
        session.scalar(select(Member.phone))
    other.dispose()


def test_a_value_moved_to_another_column_does_not_decrypt(engine: Engine, tmp_path: Path) -> None:
    with session_factory(engine)() as session:
        _add_member(session)
    with engine.begin() as connection:
        connection.execute(text("UPDATE members SET birthday = phone"))
    with pytest.raises(crypto.DecryptionFailed), Session(engine) as session:
        session.scalar(select(Member.birthday))


def test_an_engine_without_a_key_refuses_to_write(tmp_path: Path) -> None:
    plain = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    create_schema(plain)
    with pytest.raises(Exception, match="no data key") as caught, Session(plain) as session:
        _add_member(session)
    plain.dispose()
    assert "make_engine" in str(caught.value)  # says how to get a key
    with sqlite3.connect(tmp_path / "plain.db") as connection:
        assert connection.execute("SELECT count(*) FROM members").fetchall() == [(0,)]  # nothing stored in plaintext


def test_legacy_plaintext_rows_are_read_and_encrypt_pii_rewrites_them(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_factory(engine)() as session:
        _add_member(session, "M900001")
        _add_member(session, "M900002", birthday=None)
    with engine.begin() as connection:  # a database written before encryption existed
        connection.execute(text("UPDATE members SET phone = '13900001111', birthday = '1985-12-31' "
                                "WHERE member_id = 'M900001'"))
        connection.execute(text("UPDATE members SET phone = '13700002222' WHERE member_id = 'M900002'"))
    with Session(engine) as session:
        assert session.get(Member, "M900001").birthday == date(1985, 12, 31)
        assert session.get(Member, "M900002").phone == "13700002222"

    settings = _settings(tmp_path)
    assert cli.main(["encrypt-pii", "--quiet"], settings_factory=lambda: settings) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tables"]["members"] == {"rows": 2, "encrypted": 2, "already": 0}
    raw = _raw(tmp_path, "SELECT phone, birthday FROM members ORDER BY member_id")
    assert raw[0][0].startswith("enc1:") and raw[0][1].startswith("enc1:") and raw[1][1] is None
    assert "13900001111" not in str(raw) and "13700002222" not in str(raw)
    with Session(engine) as session:
        first = session.get(Member, "M900001")
        assert (first.phone, first.birthday) == ("13900001111", date(1985, 12, 31))
    assert cli.main(["encrypt-pii", "--quiet"], settings_factory=lambda: settings) == 0  # idempotent
    assert json.loads(capsys.readouterr().out)["tables"]["members"]["encrypted"] == 0


def test_the_seed_writes_encrypted_values(tmp_path: Path) -> None:
    engine = make_engine(_settings(tmp_path))
    seed_database(engine, members=20, orders=60, seed=7, as_of=date(2026, 10, 15))
    with Session(engine) as session:
        phones = list(session.scalars(select(Member.phone)))
    engine.dispose()
    raw = _raw(tmp_path, "SELECT phone, birthday FROM members")
    assert len(raw) == 20 and all(p.startswith("enc1:") for p, _ in raw)
    assert all(b is None or b.startswith("enc1:") for _, b in raw)
    dump = "\n".join(str(row) for row in raw)
    assert not any(phone in dump for phone in phones)


def test_the_key_is_generated_once_into_the_var_folder(tmp_path: Path) -> None:
    settings = _settings(tmp_path, data_key="")
    first = crypto.settings_key(settings)
    assert len(first) == 32 and crypto.settings_key(settings) == first
    assert stat.S_IMODE((tmp_path / "data_key").stat().st_mode) == 0o600
    assert Settings.from_env({"SHOP_DATA_KEY": " k "}).data_key == "k"
    assert "data_key" not in repr(Settings(data_key="secret-value-123456"))  # never printed with the settings


def test_keys_given_in_the_environment() -> None:
    raw = bytes(range(32))
    import base64

    assert crypto.key_from_secret(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert len(crypto.key_from_secret("a passphrase of some length")) == 32
    with pytest.raises(ValueError, match="too short"):
        crypto.key_from_secret("short")
