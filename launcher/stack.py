"""The local process stack behind `make run`, the end-to-end tests and the benchmarks.

One implementation starts the action server (``.venv``) and the Rasa server (``.venv-rasa``),
waits until both answer their health checks, and stops them together.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Callable, Mapping, Optional

from personalization.local_secrets import ensure_secret_file
from personalization.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

# The Rasa server runs as `python -m rasa_ext` (the `rasa` command plus rasa_ext/, see there).
RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"


def ensure_rasa_token(settings: Settings) -> str:
    """The token of Rasa's HTTP API: from settings, else kept in ``var/rasa_token`` (created once, mode 0600)."""
    if settings.rasa_token:
        return settings.rasa_token
    return ensure_secret_file(Path(settings.var_dir) / "rasa_token", nbytes=32)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_settings(base: Settings, directory: Path, name: str = "") -> Settings:
    """``base`` with free ports and its own tracker and event databases in ``directory``.

    Tests and benchmarks run a stack beside a running ``make run`` this way.
    """
    prefix = f"{name}-" if name else ""
    return replace(
        base,
        rasa_port=free_port(),
        action_server_port=free_port(),
        web_port=free_port(),
        rasa_tracker_db=str(directory / f"{prefix}tracker.db"),
        rasa_events_db=str(directory / f"{prefix}events.db"),
    )


def _http_ok(url: str, must_contain: Optional[bytes] = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            ok = 200 <= response.status < 300
            return ok and (must_contain is None or must_contain in response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class Stack:
    """The Rasa server, the action server and (unless ``with_web`` is off) the web app."""

    settings: Settings
    log_dir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Endpoints file of the Rasa server (tracker store, event broker, action server).
    endpoints: Path = PROJECT_ROOT / "endpoints.yml"
    # The member widget, demo shop and agent console (web/); chat-only tests and benchmarks leave it out.
    with_web: bool = True
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)
    _commands: dict[str, list[str]] = field(default_factory=dict, init=False)
    _logs: list[IO[bytes]] = field(default_factory=list, init=False)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.action_server_port}"

    @property
    def web_url(self) -> str:
        host = self.settings.web_host if self.settings.web_host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.settings.web_port}"

    def _env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            {
                "PYTHONPATH": str(PROJECT_ROOT),
                "RASA_TELEMETRY_ENABLED": "false",
                "SANIC_HOST": "127.0.0.1",
                "DATABASE_URL": s.database_url,
                "ACTION_SERVER_PORT": str(s.action_server_port),
                "RASA_TRACKER_DB": s.rasa_tracker_db,
                "RASA_EVENTS_DB": s.rasa_events_db,
                "RASA_PORT": str(s.rasa_port),
                "WEB_HOST": s.web_host,
                "WEB_PORT": str(s.web_port),
                "WEB_DEMO": "1" if s.web_demo else "0",
                "SHOP_VAR_DIR": s.var_dir,
                "SENTIMENT_MODEL": s.sentiment_model,
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
        )
        # One TensorFlow thread: on a small machine the Rasa server shares the cores with the
        # action server, and the models are too small to gain from intra-op parallelism.
        for variable in ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"):
            env.setdefault(variable, "1")
        if s.data_key:
            env["SHOP_DATA_KEY"] = s.data_key
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, command: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        shown = ["***" if previous == "--auth-token" else part for previous, part in zip([""] + command, command)]
        logger.info("starting %s: %s", name, " ".join(shown))
        self._commands[name] = command
        self._processes[name] = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> dict[str, int]:
        """Process id of each child by name (``actions``, ``rasa``, ``web``), for benchmarks and fault tests."""
        return {name: process.pid for name, process in self._processes.items()}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default SIGKILL: a crash) to one child's process group and reap it."""
        process = self._processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self, name: str, *, stop_signal: int = signal.SIGTERM) -> None:
        """Stop one child (``stop_signal``, SIGKILL after 15 s) and start it again with the same command;
        does not wait (see :meth:`wait_ready`)."""
        self.kill(name, stop_signal)
        self._spawn(name, self._commands[name])

    def start_again(self, name: str) -> None:
        """Start a child that was killed (:meth:`kill`) with its original command; does not wait."""
        if self._processes[name].poll() is None:
            raise RuntimeError(f"{name} is still running")
        self._spawn(name, self._commands[name])

    def start(self) -> "Stack":
        """Start both servers (does not wait; see :meth:`wait_ready`)."""
        s = self.settings
        token = ensure_rasa_token(s)
        Path(s.rasa_tracker_db).parent.mkdir(parents=True, exist_ok=True)
        Path(s.rasa_events_db).parent.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "actions",
            # `python -m actions` = `python -m rasa_sdk` with the PII log filter (actions/__main__.py).
            [str(APP_PYTHON), "-m", "actions", "--actions", "actions", "--port", str(s.action_server_port)],
        )
        self._spawn(
            "rasa",
            [
                str(RASA_PYTHON), "-m", "rasa_ext", "run", "--model", s.rasa_model, "--enable-api", "--auth-token", token,
                "--interface", "127.0.0.1", "--port", str(s.rasa_port),
                "--endpoints", str(self.endpoints), "--credentials", "credentials.yml",
            ],
        )
        if self.with_web:
            self._spawn("web", [str(APP_PYTHON), "-m", "web"])
        return self

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Block until the action server's /health and Rasa's model are up; raise if a process died."""
        deadline = time.monotonic() + timeout
        token = ensure_rasa_token(self.settings)
        checks = {
            "actions": f"{self.action_url}/health",
            # /status answers 200 only with the token, and names the model once it is loaded.
            "rasa": f"{self.rasa_url}/status?token={token}",
        }
        if self.with_web:
            checks["web"] = f"{self.web_url}/healthz"
        pending = dict(checks)
        while pending:
            for name, url in list(pending.items()):
                process = self._processes[name]
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with code {process.returncode}; see {self.log_dir / (name + '.log')}"
                    )
                if _http_ok(url, must_contain=b"model_id" if name == "rasa" else None):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.5)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 15 s)."""
        for name, process in self._processes.items():
            if process.poll() is None:
                logger.info("stopping %s", name)
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def log_tails(self, chars: int = 3000) -> str:
        """The last ``chars`` characters of each child's log, headed ``--- name.log (tail)`` (for error reports)."""
        parts = []
        for name in ("web", "rasa", "actions"):
            log = self.log_dir / f"{name}.log"
            if log.exists():
                parts.append(f"--- {name}.log (tail)\n" + log.read_text(encoding="utf-8", errors="replace")[-chars:])
        return "\n".join(parts)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _wait_ready_unless_stopped(stack: Stack, stopped: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not stopped():
        try:
            stack.wait_ready(timeout=1.0)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise


class StopRequest:
    """Set by Ctrl-C, ``kill`` or a closed terminal (SIGINT, SIGTERM, SIGHUP), so a serving loop can
    stop everything cleanly. Installed explicitly: a shell that starts us in the background may
    have left SIGINT ignored."""

    def __init__(self) -> None:
        self._requested = False

    @classmethod
    def install(cls) -> "StopRequest":
        stop = cls()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop._on_signal)
        return stop

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self._requested = True

    def requested(self) -> bool:
        return self._requested


def serve_forever(settings: Settings, log_dir: Optional[Path] = None) -> int:
    """Run the stack until Ctrl-C or until a process dies; stop everything either way."""
    stack = Stack(settings, log_dir or Path(settings.var_dir) / "logs")
    stop = StopRequest.install()
    try:
        stack.start()
        print("正在启动 Rasa、动作服务器与网页… / starting Rasa, the action server and the web app…", file=sys.stderr)
        _wait_ready_unless_stopped(stack, stop.requested)
        if stop.requested():
            return 0
        print(
            f"已就绪 ready: 演示商店/demo shop {stack.web_url}/ · 客服工作台/agent console {stack.web_url}/agent · "
            f"Rasa REST {stack.rasa_url}/webhooks/rest/webhook · actions {stack.action_url}/health · "
            f"logs {stack.log_dir} · Ctrl-C 停止/stop",
            file=sys.stderr,
        )
        while not stop.requested():
            for name, process in stack._processes.items():
                if process.poll() is not None:
                    print(f"{name} exited ({process.returncode}); stopping", file=sys.stderr)
                    return 1
            time.sleep(1)
        return 0
    finally:
        stack.stop()
