"""Database access from async code: one short session per call, run in the thread pool."""

from __future__ import annotations

from typing import Callable, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class Store:
    """Runs ``fn(session, ...)`` in a worker thread, commits on success and rolls back on error."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def _run_sync(self, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:  # type: ignore[type-arg]
        with self.factory() as session:
            try:
                result = fn(session, *args, **kwargs)
                session.commit()
                return result
            except BaseException:
                session.rollback()
                raise

    async def call(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """``fn(session, *args, **kwargs)`` in its own transaction, off the event loop."""
        return await run_in_threadpool(self._run_sync, fn, args, kwargs)
