"""Encryption at rest of sensitive member fields (AES-256-GCM), as SQLAlchemy column types.

Stored form: ``enc1:`` + base64(12-byte nonce + ciphertext + 16-byte tag). The column's name
(``purpose``, e.g. ``members.phone``) is the associated data, so a value copied into another
column does not decrypt. A value without the prefix is legacy plaintext and is read as it is, so
databases written before encryption keep working; they are encrypted when rows are rewritten, or
all at once by ``python -m personalization encrypt-pii`` (:func:`encrypt_existing_rows`).

Where the key comes from: ``Settings.data_key`` (env ``SHOP_DATA_KEY``), or when that is empty a
key generated once into ``<var_dir>/data_key`` (mode 0600; like the Rasa token and the web secret).
:func:`personalization.db.make_engine` registers the settings' key for the engine's dialect in a
keyring this module owns (:func:`install_key`); the column types look the key up by the dialect
they are given, so two engines with two keys in one process (tests) do not mix, nothing reads
``os.environ``, and the key file is read only when an encrypted value is first written or read.
An engine made without ``make_engine`` has no key: writing to an encrypted column then fails with
:class:`DataKeyMissing` instead of storing plaintext.

Encrypted columns cannot be compared or sorted in SQL (every write uses a fresh nonce): filter in
Python after loading, or keep a separate non-identifying column for what must be queried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import sys
import threading
import weakref
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, inspect, select, text, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from personalization.local_secrets import ensure_secret_file
from personalization.settings import Settings

PREFIX = "enc1:"
KEY_FILE = "data_key"
_NONCE = 12
_STORED_LENGTH = 128  # enough for 40 characters of plaintext (CJK text: 13) once encrypted


class DataKeyMissing(RuntimeError):
    """An encrypted column was used through an engine that has no data key."""


class DecryptionFailed(ValueError):
    """A stored value could not be decrypted (another key, another column, or damaged)."""


def key_from_secret(secret: str) -> bytes:
    """The 32-byte AES key of ``secret``: its base64url decoding when that is 32 bytes, else a
    SHA-256-based derivation (for keys given as passphrases, at least 16 characters)."""
    secret = secret.strip()
    try:
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return raw
    if len(secret) < 16:
        raise ValueError("SHOP_DATA_KEY is too short: give 32 random bytes in base64url, or at least 16 characters.")
    return hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), b"shop data key v1", 200_000)


def settings_key(settings: Settings) -> bytes:
    """The data key of ``settings``: ``data_key``, or the one kept in ``<var_dir>/data_key``."""
    secret = settings.data_key or ensure_secret_file(Path(settings.var_dir) / KEY_FILE)
    return key_from_secret(secret)


class DataCipher:
    """AES-256-GCM with a random nonce per value; ``purpose`` is the associated data."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("utf-8"))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, purpose: str) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(stored[len(PREFIX) :], validate=True)
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode("utf-8")).decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise DecryptionFailed(f"cannot decrypt a value of {purpose} (wrong data key or damaged value)") from exc


class _LazyCipher:
    """A cipher whose key is loaded on first use (so engines that never touch PII read no key file)."""

    def __init__(self, load_key: Callable[[], bytes]) -> None:
        self._load_key = load_key
        self._cipher: DataCipher | None = None
        self._lock = threading.Lock()

    def get(self) -> DataCipher:
        with self._lock:
            if self._cipher is None:
                self._cipher = DataCipher(self._load_key())
            return self._cipher


_KEYRING: "weakref.WeakKeyDictionary[Dialect, _LazyCipher]" = weakref.WeakKeyDictionary()


def install_key(engine: Engine, settings: Settings | None = None, *, key: bytes | None = None) -> None:
    """Give ``engine`` its data key: ``key``, or the key of ``settings`` (loaded on first use)."""
    if key is None and settings is None:
        raise ValueError("install_key needs settings or a key")
    if key is not None:
        fixed = key
        _KEYRING[engine.dialect] = _LazyCipher(lambda: fixed)
    else:
        given = settings
        _KEYRING[engine.dialect] = _LazyCipher(lambda: settings_key(given))  # type: ignore[arg-type]


def _cipher(dialect: Dialect) -> DataCipher:
    found = _KEYRING.get(dialect)
    if found is None:
        raise DataKeyMissing(
            "This engine has no data key for encrypted columns; create it with personalization.db.make_engine."
        )
    return found.get()


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class EncryptedString(TypeDecorator[str]):
    """A string stored encrypted (``enc1:…``); legacy plaintext is read unchanged."""

    impl = String(_STORED_LENGTH)
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def _to_text(self, value: Any) -> str:
        return str(value)

    def _from_text(self, value: str) -> Any:
        return value

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if is_encrypted(value):
            return str(value)  # already sealed (copied from another row of this column)
        return _cipher(dialect).encrypt(self._to_text(value), self.purpose)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if is_encrypted(value):
            return self._from_text(_cipher(dialect).decrypt(value, self.purpose))
        return self._from_text(value) if isinstance(value, str) else value  # legacy plaintext


class EncryptedDate(EncryptedString):
    """A date stored encrypted as its ISO text; legacy ``YYYY-MM-DD`` text or DATE values read as dates."""

    cache_ok = True

    def _to_text(self, value: Any) -> str:
        if not isinstance(value, date):
            raise TypeError(f"{self.purpose} takes a date, not {type(value).__name__}")
        return value.isoformat()[:10]

    def _from_text(self, value: str) -> Any:
        return date.fromisoformat(value[:10])


# -- rewriting existing rows ----------------------------------------------------------------------


def _encrypted_columns() -> list[tuple[Any, Any, list[Any]]]:
    """(model, primary key column, encrypted columns) of every model with encrypted columns."""
    from personalization.models import Base

    found = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if columns:
            (pk,) = table.primary_key.columns
            found.append((mapper.class_, pk, columns))
    return found


def _widen_postgresql_columns(engine: Engine) -> list[str]:
    """On PostgreSQL, turn encrypted columns of older schemas (DATE, short VARCHAR) into VARCHAR(128)."""
    if engine.dialect.name != "postgresql":
        return []
    changed = []
    inspector = inspect(engine)
    with engine.begin() as connection:
        for _model, _pk, columns in _encrypted_columns():
            table = columns[0].table.name
            existing = {c["name"]: c["type"] for c in inspector.get_columns(table)}
            for column in columns:
                current = existing.get(column.name)
                if current is None:
                    continue
                if isinstance(current, String) and (current.length is None or current.length >= _STORED_LENGTH):
                    continue
                connection.execute(text(
                    f'ALTER TABLE "{table}" ALTER COLUMN "{column.name}" TYPE VARCHAR({_STORED_LENGTH}) '
                    f'USING "{column.name}"::text'
                ))
                changed.append(f"{table}.{column.name}")
    return changed


def encrypt_existing_rows(engine: Engine, *, batch: int = 500, progress: bool = False) -> dict[str, Any]:
    """Encrypt every plaintext value of the encrypted columns (idempotent; ``engine`` needs its key).

    Returns:
        ``{"widened": [columns], "tables": {table: {"rows", "encrypted", "already"}}}``.
    """
    from sqlalchemy.orm import Session
    from tqdm import tqdm

    _cipher(engine.dialect)  # fail early, before touching anything, when there is no key
    summary: dict[str, Any] = {"widened": _widen_postgresql_columns(engine), "tables": {}}
    for model, pk, columns in _encrypted_columns():
        raw = [type_coerce(c, String()).label(c.key) for c in columns]
        with Session(engine) as session:
            rows = session.execute(select(pk, *raw).order_by(pk)).all()
            todo = [r for r in rows if any(v is not None and not is_encrypted(v) for v in r[1:])]
            with tqdm(total=len(todo), desc=f"encrypting {pk.table.name}", unit="row", file=sys.stderr,
                      disable=not progress) as bar:
                for start in range(0, len(todo), batch):
                    chunk = todo[start : start + batch]
                    values = []
                    for row in chunk:
                        item = {pk.key: row[0]}
                        for column, value in zip(columns, row[1:]):
                            if value is not None and not is_encrypted(value):
                                item[column.key] = column.type.process_result_value(str(value), engine.dialect)
                        values.append(item)
                    session.execute(update(model), values)
                    bar.update(len(chunk))
            session.commit()
        summary["tables"][pk.table.name] = {"rows": len(rows), "encrypted": len(todo), "already": len(rows) - len(todo)}
    return summary
