"""`make run`'s launcher: serves both processes, and Ctrl-C stops every one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from launcher.rest_client import RestChannelClient, texts
from launcher.stack import free_port
from personalization.settings import PROJECT_ROOT, Settings


def _children_alive(parent_pid: int) -> list[int]:
    alive = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == str(parent_pid) and fields.get("State", "").strip()[:1] != "Z":
            alive.append(int(status.parent.name))
    return alive


def test_launcher_serves_and_stops_everything_on_ctrl_c(e2e_settings: Settings, cli: object) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        DATABASE_URL=e2e_settings.database_url,
        RASA_PORT=str(free_port()),
        ACTION_SERVER_PORT=str(free_port()),
        WEB_PORT=str(free_port()),
        RASA_TRACKER_DB=str(Path(e2e_settings.var_dir) / "launcher-tracker.db"),
        RASA_EVENTS_DB=str(Path(e2e_settings.var_dir) / "launcher-events.db"),
        SHOP_VAR_DIR=str(Path(e2e_settings.var_dir) / "launcher"),
        # The seeded database's data key (members' phones and birthdays are encrypted with it).
        SHOP_DATA_KEY=(Path(e2e_settings.var_dir) / "data_key").read_text().strip(),
    )
    process = subprocess.Popen([sys.executable, "-m", "launcher"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        output = ""
        while "ready" not in output:
            line = process.stdout.readline() if process.stdout else ""
            assert line or process.poll() is None, output
            output += line
            assert time.monotonic() < deadline, output
        rasa_url = f"http://127.0.0.1:{env['RASA_PORT']}"
        assert requests.get(f"http://127.0.0.1:{env['ACTION_SERVER_PORT']}/health", timeout=5).ok
        assert texts(RestChannelClient(rasa_url).send("launcher-test", "你好"))
        # The HTTP API wants the token; it is never printed.
        assert requests.get(f"{rasa_url}/status", timeout=5).status_code == 401
        token = (Path(env["SHOP_VAR_DIR"]) / "rasa_token").read_text().strip()
        assert token not in output
        web_url = f"http://127.0.0.1:{env['WEB_PORT']}"
        assert requests.get(f"{web_url}/healthz", timeout=5).json() == {"status": "ok"}
        assert web_url in output  # the demo shop's address is printed

        children = _children_alive(process.pid)
        assert len(children) == 3  # Rasa, the action server, the web app
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    finally:
        if process.poll() is None:
            # A failed assertion must not leave the servers running (they would hold the ports).
            leftover = _children_alive(process.pid)
            process.kill()
            process.wait()
            for pid in leftover:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
