"""Ops analytics: an incremental pipeline from Rasa's event stream and the app's tables into
analytics tables (:mod:`.pipeline`), and the metrics ops look at (:mod:`.metrics`).

Importing this package registers the analytics tables on the app's ``Base`` (so
``personalization.db.create_schema`` creates them); nothing else happens at import.
"""

from personalization.analytics.models import AnalyticsConversation, AnalyticsCursor, AnalyticsTurn
from personalization.analytics.pipeline import (
    EventSource,
    EventSourceError,
    SqlEventSource,
    ensure_tables,
    run_pipeline,
)

__all__ = [
    "AnalyticsConversation",
    "AnalyticsCursor",
    "AnalyticsTurn",
    "EventSource",
    "EventSourceError",
    "SqlEventSource",
    "ensure_tables",
    "run_pipeline",
]
