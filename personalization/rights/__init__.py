"""Members' rights over their data: access (export), erasure with a verifiable report, consent.

* :func:`export_member_data` — everything about a member as one versioned JSON document.
* :func:`erase_member` — delete / anonymize the member in the app database, Rasa's tracker store,
  the event broker copy and the analytics tables; re-scan; save an :class:`ErasureReport`.
* Consent (opt-out / opt-in) is :func:`personalization.services.privacy.record_privacy_request`.

Nothing happens at import.
"""

from personalization.rights.erase import ERASED_NAME, POLICY, erase_member, is_erased, load_report
from personalization.rights.export import EXPORT_FORMAT, EXPORT_VERSION, export_member_data
from personalization.rights.report import ErasureReport, StoreResult, TableResult, Verification
from personalization.rights.stores import RasaEventStore, RasaStores, StoreUnavailable

__all__ = [
    "ERASED_NAME",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "POLICY",
    "ErasureReport",
    "RasaEventStore",
    "RasaStores",
    "StoreResult",
    "StoreUnavailable",
    "TableResult",
    "Verification",
    "erase_member",
    "export_member_data",
    "is_erased",
    "load_report",
]
