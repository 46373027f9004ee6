"""What reaches the logs: personal data and secrets masked, in this process and in the real entry points."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from personalization.privacy import log_filter

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
PHONE, ID_NUMBER, CARD = "13812345678", "110101199003071233", "4111111111111111"
SECRETS = (PHONE, ID_NUMBER, CARD, "alice.wong@example.com", "eyJtIjoiTTAwMSJ9.abc")


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text
    assert "138****5678" in text, text


@pytest.fixture()
def installed() -> Iterator[None]:
    log_filter.install()
    yield
    log_filter.uninstall()


def test_records_of_any_logger_are_masked_once_installed(installed: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        said = f"手机{PHONE}，身份证{ID_NUMBER}，卡号{CARD}"
        logging.getLogger("some.library").debug("member said %r", said)
        logging.getLogger("other").info("mail alice.wong@example.com phone %s", PHONE)
        logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', "127.0.0.1:1",
                                                "/ws/chat?token=eyJtIjoiTTAwMSJ9.abc&after_seq=3")
        logging.getLogger("numbers").info("%d", int(PHONE))  # not a string argument: the line is masked whole
    text = "\n".join(r.getMessage() for r in caplog.records)
    _assert_clean(text)
    assert "token=***&after_seq=3" in text and "1101**********1233" in text and "************1111" in text


def test_tracebacks_are_masked(installed: None, caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        logging.getLogger("x").exception("lookup failed for %s", CARD)
    formatted = logging.Formatter().format(caplog.records[-1])
    assert "bad phone 138****5678" in formatted and PHONE not in formatted and CARD not in formatted


def test_uvicorn_access_lines_keep_their_arguments(installed: None) -> None:
    """uvicorn's access formatter unpacks ``record.args``: masking keeps the 5-tuple."""
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/x?phone={PHONE}&token=abc", "1.1", 200), None)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.getMessage() == '127.0.0.1:5 - "GET /x?phone=138****5678&token=*** HTTP/1.1" 200'


def test_uninstall_restores_plain_records() -> None:
    log_filter.install()
    log_filter.uninstall()
    record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "%s", (PHONE,), None)
    assert record.getMessage() == PHONE


def _run(python: Path | str, script: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run([str(python), "-c", textwrap.dedent(script)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_the_web_app_installs_the_filter_on_uvicorns_handlers() -> None:
    out = _run(sys.executable, f"""
        import logging, uvicorn.config
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # uvicorn's own handlers, as `python -m web` has
        from web import logs
        logs.install()
        logging.getLogger("uvicorn.error").warning("member {PHONE} on /ws/chat?token=eyJtIjoiTTAwMSJ9.abc")
        logging.getLogger("web.gateway").warning("card {CARD} mail alice.wong@example.com id {ID_NUMBER}")
    """)
    _assert_clean(out)
    assert "token=***" in out


def test_the_action_server_entry_point_masks_its_logs() -> None:
    """``python -m actions`` (what ``make run`` starts) installs the filter before rasa_sdk runs."""
    out = _run(sys.executable, f"""
        import logging, rasa_sdk.__main__ as sdk
        def fake_main():  # rasa_sdk configures its logging, then an action logs a slot value
            logging.basicConfig(level=logging.DEBUG)
            logging.getLogger("rasa_sdk.executor").debug("slot phone={PHONE} id {ID_NUMBER} card {CARD}")
        sdk.main = fake_main
        from actions.__main__ import main
        main()
    """)
    _assert_clean(out)


def test_the_launcher_masks_its_logs() -> None:
    out = _run(sys.executable, f"""
        import logging, launcher.__main__ as entry
        def serve(settings):
            logging.getLogger("launcher.stack").error("child said {PHONE} {CARD}")
            return 0
        entry.serve_forever = serve
        entry.main()
    """)
    _assert_clean(out)


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="no .venv-rasa (make setup builds it)")
def test_the_rasa_server_masks_user_messages_in_its_debug_logs() -> None:
    """``python -m rasa_ext``: Rasa's structlog JSON lines and plain records, at debug level."""
    out = _run(RASA_PYTHON, f"""
        import logging, structlog
        import rasa.__main__
        from rasa.utils.log_utils import configure_structlog
        def fake_rasa_main():  # what `rasa run --debug` does before serving, then a parsed message
            configure_structlog(logging.DEBUG)
            structlog.get_logger().debug("processor.message.parse",
                                         parse_data_text="我的手机{PHONE}，身份证{ID_NUMBER}，卡{CARD}")
            logging.getLogger("rasa.core.processor").debug("Received user message 'alice.wong@example.com'")
        rasa.__main__.main = fake_rasa_main
        import rasa_ext.channels, rasa_ext.payload_sentiment, rasa_ext.speedups
        for module in (rasa_ext.channels, rasa_ext.payload_sentiment, rasa_ext.speedups):
            module.install = lambda: None  # only the logging matters here
        from rasa_ext.__main__ import main
        main()
    """)
    _assert_clean(out)
    assert "身份证1101**********1233" in out  # JSON escapes written out, then masked
