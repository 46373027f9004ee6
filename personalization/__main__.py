"""``python -m personalization``: the JSON command line (see :mod:`personalization.cli`)."""

import sys

from personalization.cli import main

sys.exit(main())
