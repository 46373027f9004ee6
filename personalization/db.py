"""Engine and session factory. Nothing is created at import time."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from personalization.models import Base
from personalization.privacy.crypto import install_key
from personalization.settings import Settings


def make_engine(settings: Settings) -> Engine:
    """Create the engine for ``settings.database_url``.

    SQLite files get their folder created, WAL journaling and a busy timeout so that the
    action server and a CLI command can use the same file at once. The engine gets the data key
    of the encrypted member fields (:func:`personalization.privacy.crypto.install_key`).
    """
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True)
        install_key(engine, settings)
        return engine
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 15})
    install_key(engine, settings)  # the data key of the encrypted member fields (loaded on first use)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    return engine


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet."""
    import personalization.analytics.models  # noqa: F401  registers the analytics tables on Base

    Base.metadata.create_all(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; callers own each session (``with factory() as session``)."""
    return sessionmaker(engine, expire_on_commit=False)
