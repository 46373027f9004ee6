"""The support desk: web conversations, the human-handoff queue, agents, CSAT and goodwill coupons.

Every function takes the caller's :class:`~sqlalchemy.orm.Session` first and flushes (never
commits); times come from an optional ``now``. Results are JSON-ready dicts with ISO times.
Problems a caller must report to a person raise :class:`~personalization.desk.errors.DeskError`.
"""

from personalization.desk.errors import DeskError

__all__ = ["DeskError"]
