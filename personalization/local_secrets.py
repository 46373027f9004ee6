"""Secrets kept in a local file when no environment variable gives them (the embedded default)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret_file(path: Path, nbytes: int = 32) -> str:
    """The secret stored in ``path``; created once (mode 0600) with ``nbytes`` random bytes.

    Two processes starting at once get the same value: the file is created exclusively, and the
    loser of that race reads the winner's file.
    """
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
