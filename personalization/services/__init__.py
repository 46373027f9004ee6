"""Member services the actions and the CLI call.

Every function takes the caller's SQLAlchemy session keyword-only and returns plain,
JSON-serialisable dicts and lists (dates as ISO strings, money as float yuan). Only the
writers in :mod:`~personalization.services.requests` and :mod:`~personalization.services.privacy`
add rows; they flush and leave the commit to the caller.

Modules: ``members``, ``tiers``, ``points``, ``recommendations``, ``coupons``, ``orders``,
``requests``, ``privacy``.
"""
