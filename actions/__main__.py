"""``python -m actions [rasa_sdk arguments]``: the action server (``python -m rasa_sdk``) with log masking.

Identical to ``python -m rasa_sdk`` except that every log record is masked first
(:mod:`personalization.privacy.log_filter`): slot values and messages may hold members' phones,
ID numbers or addresses. ``make run`` (``launcher.stack``) starts the action server this way.
"""

from __future__ import annotations

import sys


def main() -> None:
    from rasa_sdk.__main__ import main as rasa_sdk_main

    from personalization.privacy import log_filter

    log_filter.install()
    sys.argv[0] = "rasa_sdk"
    rasa_sdk_main()


if __name__ == "__main__":
    main()
