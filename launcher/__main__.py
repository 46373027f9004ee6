"""`python -m launcher`: serve the product until Ctrl-C (used by `make run`)."""

from __future__ import annotations

import logging
import sys

from launcher.stack import serve_forever
from personalization.privacy import log_filter
from personalization.settings import Settings


def main() -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_filter.install()
    return serve_forever(settings)


if __name__ == "__main__":
    sys.exit(main())
