"""``python -m web``: serve the web app on ``settings.web_host:web_port`` (uvicorn, one process).

The Rasa server is ``RASA_URL`` (default ``http://127.0.0.1:{RASA_PORT}``); its API token comes
from ``launcher.stack.ensure_rasa_token`` (``RASA_TOKEN`` or ``var/rasa_token``).
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from launcher.stack import ensure_rasa_token
from personalization.settings import Settings
from web import logs
from web.app import create_app


def main() -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rasa_url = os.environ.get("RASA_URL") or f"http://127.0.0.1:{settings.rasa_port}"
    app = create_app(settings, rasa_url=rasa_url, rasa_token=ensure_rasa_token(settings))
    config = uvicorn.Config(
        app, host=settings.web_host, port=settings.web_port, log_level=settings.log_level.lower(),
        proxy_headers=False, ws_max_size=64 * 1024,
        # wsproto: uvicorn's websockets backend needs websockets>=13, but rasa-sdk pins 10.
        ws="wsproto",
    )
    server = uvicorn.Server(config)
    logs.install()  # after uvicorn configured its loggers: no member token in the socket log lines
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
