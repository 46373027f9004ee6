"""Keeps the ops dashboard fresh: the analytics pipeline, incrementally, in a background thread.

Every ``Settings.analytics_interval_s`` seconds (0 = off) the thread runs
:func:`personalization.analytics.run_pipeline` on Rasa's SQL event broker
(``Settings.rasa_events_db``). ``POST /ops/api/refresh`` runs it once at once. A failing run is
logged and retried on the next tick; it never takes the web app down.

After a run that added fallback turns it refits the unrecognized-message clusters
(:class:`~personalization.analytics.clusters.ClusterIndex`, also fitted once when the thread
starts), so ``GET /ops/api/unrecognized`` reads them instead of clustering in the request.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from personalization.analytics.clusters import ClusterIndex
from personalization.analytics.pipeline import EventSourceError, SqlEventSource, run_pipeline
from personalization.settings import Settings

logger = logging.getLogger(__name__)
BATCH = 5000
STOP_WAIT_S = 10.0


class AnalyticsRunner:
    """Runs the pipeline now (:meth:`run_once`) or every ``interval_s`` seconds (:meth:`start`)."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.interval_s = float(settings.analytics_interval_s)
        self.source = SqlEventSource.for_sqlite_file(settings.rasa_events_db)
        self.last_run_at: datetime | None = None
        self.last_success_at: datetime | None = None
        self.last_error: str | None = None
        self.last_summary: dict[str, Any] | None = None
        self.clusters = ClusterIndex()
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._skip_logged: str | None = None

    def run_once(self) -> dict[str, Any]:
        """One incremental run (runs one at a time); the pipeline's summary.

        Raises:
            EventSourceError: the events database cannot be read.
        """
        with self._run_lock:
            self.last_run_at = datetime.now(timezone.utc)
            try:
                summary = run_pipeline(self.factory, self.source, batch=BATCH)
            except Exception as exc:
                self.last_error = str(exc) or type(exc).__name__
                raise
            self.last_success_at = datetime.now(timezone.utc)
            self.last_error = None
            self.last_summary = summary
            if summary.get("fallback_turns_written") or summary.get("rollup_rebuilt"):
                self.refresh_clusters()
            return summary

    def refresh_clusters(self) -> bool:
        """Refit the clusters if the fallback messages changed; False (logged) if it failed."""
        try:
            with self.factory() as session:
                self.clusters.refresh(session)
                session.rollback()
        except Exception:  # the dashboard then fits them on its next read
            logger.exception("clustering the unrecognized messages failed")
            return False
        return True

    def _tick(self) -> None:
        try:
            summary = self.run_once()
        except EventSourceError as exc:  # no events yet (Rasa not started) or the file moved: try again later
            if str(exc) != self._skip_logged:  # once per reason, not every tick
                self._skip_logged = str(exc)
                logger.info("analytics pipeline skipped until the events can be read: %s", exc)
        except Exception:
            logger.exception("analytics pipeline run failed; retrying in %.0f s", self.interval_s)
        else:
            self._skip_logged = None
            if summary["events_read"]:
                logger.info("analytics pipeline: %d events in %.2f s", summary["events_read"], summary["seconds"])

    def _loop(self) -> None:
        self.refresh_clusters()  # ready before the first dashboard load after a restart
        while not self._stop.wait(self.interval_s):
            self._tick()

    def start(self) -> None:
        """Start the background thread (no-op when the interval is 0 or it already runs)."""
        if self.interval_s <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="analytics-pipeline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits for a run in flight, at most a few seconds) and close the source."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
            self._thread = None
        self.source.close()

    def status(self) -> dict[str, Any]:
        """When it last ran and succeeded, and the last error (for the API)."""
        return {
            "interval_s": self.interval_s,
            "running": self._thread is not None and self._thread.is_alive(),
            "last_run_at": self.last_run_at.isoformat(timespec="seconds") if self.last_run_at else None,
            "last_success_at": self.last_success_at.isoformat(timespec="seconds") if self.last_success_at else None,
            "last_error": self.last_error,
        }
