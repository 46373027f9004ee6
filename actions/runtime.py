"""Database access for the action server: settings, engine and sessions, created lazily.

Nothing is created at import. The first action that needs the database builds the engine from
``Settings.from_env()`` (or from the settings handed to :func:`configure`, which tests use to
point the actions at a seeded temporary database) and caches it for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from personalization.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_settings: Settings | None = None
_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def configure(settings: Settings | None) -> None:
    """Use ``settings`` from now on (``None``: read the environment again on next use).

    Disposes of the cached engine, so the next session connects to the new database.
    """
    global _settings, _engine, _factory
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _settings, _engine, _factory = settings, None, None


def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def session_factory() -> sessionmaker[Session]:
    """The process's session factory (for services that run their own transaction, e.g. claims)."""
    return _session_factory()


def _session_factory() -> sessionmaker[Session]:
    global _engine, _factory
    settings = get_settings()
    with _lock:
        if _factory is None:
            from personalization.db import make_engine, session_factory

            _engine = make_engine(settings)
            _factory = session_factory(_engine)
        return _factory


@contextmanager
def session_scope() -> Iterator[Session]:
    """One session per action run: commits when the block succeeds, rolls back when it raises."""
    session = _session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
