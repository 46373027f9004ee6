"""``python -m rasa_ext <rasa arguments>``: the ``rasa`` command with this project's extensions.

Identical to ``rasa`` except that action-server responses are validated with a schema validator
built once and event types are found in a lookup table (:mod:`rasa_ext.speedups`), and button
payloads keep their sentiment tag (:mod:`rasa_ext.payload_sentiment`), and the ``rest_nlu`` channel
returns each message's NLU result with the answer (:mod:`rasa_ext.channels`), and every log record
is masked (:mod:`personalization.privacy.log_filter`: Rasa logs members' messages at debug level).
``make run`` and the benchmarks serve through it.
"""

from __future__ import annotations

import sys


def main() -> None:
    from rasa.__main__ import main as rasa_main

    from personalization.privacy import log_filter
    from rasa_ext import channels, payload_sentiment, speedups

    log_filter.install()  # a record factory: also covers the handlers Rasa adds while it starts
    speedups.install()
    payload_sentiment.install()
    channels.install()
    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
