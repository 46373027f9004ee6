"""Two hot spots of Rasa 3.6, replaced by equivalents that do the expensive part once.

Found by profiling the Rasa server under the chat benchmark (``make bench-chat``):

- Action-server responses: Rasa checks each with ``jsonschema.validate(result, spec)``, which
  first re-validates the large, constant schema against the JSON-Schema meta-schema: ~23% of the
  server's CPU time. :func:`validate_action_result` checks the schema once and reuses the
  compiled validator: same schema, same validator class, same :class:`ValidationError` and
  message on failure.
- Event deserialisation: ``Event.resolve_by_type`` walks every ``Event`` subclass, recursively,
  for every event read from the tracker store: ~11%. :func:`resolve_event_type` looks the
  name up in a table of the same subclasses (rebuilt if an unknown name appears, so events
  defined later are still found) and defers to Rasa's own function for what it cannot find.

:func:`install` swaps both in; ``python -m rasa_ext`` calls it before starting Rasa.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional, Type

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

_original_resolve_by_type = Event.resolve_by_type
_event_types: Dict[str, Type[Event]] = {}


@lru_cache(maxsize=1)
def _validator() -> Any:
    spec = RemoteAction.action_response_format_spec()
    validator_class = validator_for(spec)
    validator_class.check_schema(spec)
    return validator_class(spec)


def validate_action_result(_action: RemoteAction, result: Dict[str, Any]) -> bool:
    """Drop-in for ``RemoteAction._validate_action_result``: ``True``, or raise ``ValidationError``."""
    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def resolve_event_type(type_name: str, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """Drop-in for ``Event.resolve_by_type``, with a lookup table instead of a class-tree walk."""
    found = _event_types.get(type_name)
    if found is None:
        for cls in all_subclasses(Event):  # first call, or a subclass defined since
            _event_types.setdefault(cls.type_name, cls)
        found = _event_types.get(type_name)
    if found is not None:
        return found
    return _original_resolve_by_type(type_name, default)


def install() -> None:
    """Swap both replacements into Rasa (idempotent)."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(resolve_event_type)  # type: ignore[method-assign]


__all__ = ["ValidationError", "install", "resolve_event_type", "validate_action_result"]
