"""Masking of personal data in free text shown by analytics (turn texts, transcripts, exports).

The implementation lives in :mod:`personalization.privacy.pii` (phones, ID numbers, bank cards,
e-mails, order numbers, addresses and known names); this module keeps the analytics import path.
"""

from __future__ import annotations

from personalization.privacy.pii import Span, find_pii, mask_text

__all__ = ["Span", "find_pii", "mask_text"]
