"""``python -m launcher.distributed``: the scale-out deployment on loopback (``make run-distributed``).

What runs (all bound to 127.0.0.1, data under ``var/distributed/``, as the current user; the
PostgreSQL server itself as ``postgres`` when we are root, since it refuses to run as root):

=================  ===========  ===============================================================
process            port         role
=================  ===========  ===============================================================
nginx              8080         the one public port: web app HTTP + WebSockets, no sticky sessions
nginx (internal)   5100, 5150   Rasa replicas and action servers, for the replicas themselves
web A, web B       8001, 8002   ``python -m web`` with ``WEB_FANOUT=postgres`` (web/fanout.py)
Rasa A, Rasa B     5105, 5106   ``python -m rasa_ext run``, same model, tracker/lock store, broker
actions A, B       5155, 5156   ``python -m rasa_sdk``
PostgreSQL 15      55432        member store (database ``shop``) and Rasa's tracker store (``rasa``)
Redis              56379        Rasa's lock store
RabbitMQ           55672        Rasa's Pika event broker (queue ``rasa_events``)
analytics          --           ``personalization analytics --from-rabbitmq`` every 30 s (the only
                                consumer, so the pipeline runs once, not once per web replica)
=================  ===========  ===============================================================

Each replica pair (actions + Rasa + web) is a :class:`launcher.stack.Stack`; the servers are a
:class:`ProcessGroup` (the same spawning, logging and stopping). Ctrl-C, SIGTERM or
``make stop-distributed`` stop the replicas first, then nginx, then the servers.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from launcher.stack import APP_PYTHON, Stack, StopRequest, ensure_rasa_token
from personalization.local_secrets import ensure_secret_file
from personalization.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

DEPLOY_DIR = PROJECT_ROOT / "deploy"
PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/local/bin")
RABBITMQ_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"
PG_USER = "shop"
AMQP_QUEUE = "rasa_events"
ANALYTICS_EVERY_S = 30.0


class DeploymentError(RuntimeError):
    """Something the deployment needs is missing or did not start (the message says what)."""


@dataclass(frozen=True)
class Layout:
    """Ports and folders of one deployment (defaults: the table in the module docstring)."""

    root: Path = PROJECT_ROOT / "var" / "distributed"
    public_host: str = "127.0.0.1"
    public_port: int = 8080
    pg_port: int = 55432
    redis_port: int = 56379
    amqp_port: int = 55672
    amqp_dist_port: int = 55673
    epmd_port: int = 54369
    rasa_lb_port: int = 5100
    action_lb_port: int = 5150
    rasa_ports: tuple[int, ...] = (5105, 5106)
    action_ports: tuple[int, ...] = (5155, 5156)
    web_ports: tuple[int, ...] = (8001, 8002)

    @property
    def public_url(self) -> str:
        return f"http://{self.public_host}:{self.public_port}"

    @property
    def pid_file(self) -> Path:
        return self.root / "launcher.pid"

    @property
    def ready_file(self) -> Path:
        """Written once everything answers; holds the public URL (for scripts and tests)."""
        return self.root / "ready"

    def pg_password(self) -> str:
        return ensure_secret_file(self.root / "secrets" / "pg_password", nbytes=24)

    def redis_password(self) -> str:
        return ensure_secret_file(self.root / "secrets" / "redis_password", nbytes=24)

    def database_url(self, db: str = "shop") -> str:
        return f"postgresql+psycopg://{PG_USER}:{self.pg_password()}@127.0.0.1:{self.pg_port}/{db}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"


def _find_pg_bin() -> Path:
    for folder in PG_BIN_CANDIDATES:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
            return Path(folder)
    raise DeploymentError("PostgreSQL server binaries not found: apt-get install postgresql")


def _as_postgres_user(paths: list[Path]) -> list[str]:
    """Prefix that runs a command as ``postgres`` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise DeploymentError("running as root and no 'postgres' user exists (apt-get install postgresql)") from exc
    for path in paths:
        for sub in [path, *path.rglob("*")]:
            os.chown(sub, user.pw_uid, user.pw_gid)
    runuser = shutil.which("runuser")
    if runuser is None:
        raise DeploymentError("running as root and runuser is missing (util-linux)")
    return [runuser, "-u", "postgres", "--"]


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def render(template: Path, target: Path, **values: object) -> Path:
    """``template`` with ``$name`` placeholders filled (string.Template; ``$$`` is a dollar)."""
    text = string.Template(template.read_text(encoding="utf-8")).substitute({k: str(v) for k, v in values.items()})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@dataclass
class ProcessGroup(Stack):
    """A :class:`Stack` running the processes its caller names, ready when their TCP ports answer."""

    ports: dict[str, int] = field(default_factory=dict)
    with_web: bool = False

    def spawn(self, name: str, command: list[str], port: Optional[int] = None) -> None:
        self._spawn(name, command)
        if port is not None:
            self.ports[name] = port

    def start(self) -> "ProcessGroup":
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        while pending:
            for name, port in list(pending.items()):
                process = self._processes[name]
                if process.poll() is not None:
                    raise DeploymentError(
                        f"{name} exited with code {process.returncode}; see {self.log_dir / (name + '.log')}")
                if _port_open(port):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.3)

    def dead(self) -> Optional[str]:
        """The name of a process that exited, if any."""
        for name, process in self._processes.items():
            if process.poll() is not None:
                return name
        return None


@dataclass
class Deployment:
    """The whole deployment: :meth:`prepare` (idempotent), :meth:`start`, :meth:`wait_ready`, :meth:`stop`."""

    layout: Layout = field(default_factory=Layout)
    base: Settings = field(default_factory=Settings.from_env)
    servers: Optional[ProcessGroup] = None
    edge: Optional[ProcessGroup] = None
    cells: list[Stack] = field(default_factory=list)
    _analytics: Optional[subprocess.Popen[bytes]] = None
    _analytics_next: float = 0.0

    # -- preparation ---------------------------------------------------------------------------------
    @property
    def logs(self) -> Path:
        return self.layout.root / "logs"

    def _secret_env(self) -> dict[str, str]:
        return {"DIST_PG_PASSWORD": self.layout.pg_password(), "DIST_REDIS_PASSWORD": self.layout.redis_password()}

    def prepare(self) -> None:
        """Create the data folders, the PostgreSQL cluster and the config files (once; idempotent)."""
        lay = self.layout
        for tool in ("nginx", "redis-server"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise DeploymentError(f"{tool} is missing: `make run-distributed` installs it (apt-get install)")
        if not Path(RABBITMQ_SCRIPT).exists():
            raise DeploymentError("rabbitmq-server is missing: apt-get install rabbitmq-server")
        lay.root.mkdir(parents=True, exist_ok=True)
        for sub in ("redis", "rabbitmq/home", "rabbitmq/mnesia", "rabbitmq/log", "nginx/tmp", "logs"):
            (lay.root / sub).mkdir(parents=True, exist_ok=True)
        (lay.root / "rabbitmq" / "enabled_plugins").write_text("[].\n")
        self._init_postgres()
        self._render_configs()

    def _init_postgres(self) -> None:
        pg = self.layout.root / "pg"
        if (pg / "data" / "PG_VERSION").exists():
            return
        pg.mkdir(parents=True, exist_ok=True)
        pwfile = pg / "pwfile"
        pwfile.write_text(self.layout.pg_password() + "\n")
        prefix = _as_postgres_user([pg])
        print("==> creating the PostgreSQL cluster (var/distributed/pg)", file=sys.stderr)
        result = subprocess.run(
            [*prefix, str(_find_pg_bin() / "initdb"), "-D", str(pg / "data"), "-U", PG_USER, f"--pwfile={pwfile}",
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale"],
            capture_output=True, text=True, timeout=120, check=False)
        pwfile.unlink()
        if result.returncode != 0:
            shutil.rmtree(pg / "data", ignore_errors=True)
            raise DeploymentError(f"initdb failed: {result.stderr[-1500:]}")

    def _render_configs(self) -> None:
        lay = self.layout
        nginx = lay.root / "nginx"
        user_line = ""
        if os.geteuid() == 0:  # the workers must not run as root; they only need the temp folders
            nobody = pwd.getpwnam("nobody")
            for sub in [nginx / "tmp", *(nginx / "tmp").rglob("*")]:
                os.chown(sub, nobody.pw_uid, nobody.pw_gid)
            user_line = "user nobody nogroup;"
        render(DEPLOY_DIR / "nginx.conf.template", nginx / "nginx.conf", user_line=user_line, prefix=nginx,
               public_host=lay.public_host, public_port=lay.public_port, rasa_port=lay.rasa_lb_port,
               action_port=lay.action_lb_port,
               web_servers=_servers(lay.web_ports), rasa_servers=_servers(lay.rasa_ports),
               action_servers=_servers(lay.action_ports))
        render(DEPLOY_DIR / "endpoints.yml.template", lay.root / "endpoints.yml", action_port=lay.action_lb_port,
               pg_port=lay.pg_port, pg_user=PG_USER, redis_port=lay.redis_port, amqp_port=lay.amqp_port,
               amqp_queue=AMQP_QUEUE)

    # -- start ---------------------------------------------------------------------------------------
    def start_servers(self) -> None:
        """PostgreSQL, Redis, RabbitMQ; waits until they accept connections."""
        lay = self.layout
        pg, rabbit = lay.root / "pg", lay.root / "rabbitmq"
        rabbit_env = {
            "HOME": str(rabbit / "home"),
            "RABBITMQ_NODENAME": f"shop-dist-{lay.amqp_port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(lay.amqp_port),
            "RABBITMQ_DIST_PORT": str(lay.amqp_dist_port),
            "ERL_EPMD_PORT": str(lay.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(rabbit / "mnesia"),
            "RABBITMQ_LOG_BASE": str(rabbit / "log"),
            "RABBITMQ_PID_FILE": str(rabbit / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(rabbit / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(rabbit / "none"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(rabbit / "none-advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(rabbit / "none-env.conf"),
        }
        self.servers = ProcessGroup(self.base, self.logs, extra_env=rabbit_env)
        for name in ("postgresql", "redis", "rabbitmq"):
            if _port_open({"postgresql": lay.pg_port, "redis": lay.redis_port, "rabbitmq": lay.amqp_port}[name]):
                raise DeploymentError(f"the {name} port is taken: is a deployment already running? "
                                      "(make stop-distributed)")
        prefix = _as_postgres_user([pg / "data"])
        self.servers.spawn("postgresql", [
            *prefix, str(_find_pg_bin() / "postgres"), "-D", str(pg / "data"), "-p", str(lay.pg_port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={pg / 'data'}",
            "-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "fsync=on"], port=lay.pg_port)
        # The password goes in a 0600 config file, not on the command line (logs, ps).
        redis_conf = lay.root / "redis" / "redis.conf"
        redis_conf.touch(mode=0o600)
        redis_conf.write_text(f"bind 127.0.0.1\nport {lay.redis_port}\ndir {lay.root / 'redis'}\nsave \"\"\n"
                              f"appendonly no\nprotected-mode yes\nrequirepass {lay.redis_password()}\n")
        self.servers.spawn("redis", [shutil.which("redis-server") or "/usr/bin/redis-server", str(redis_conf)],
                           port=lay.redis_port)
        self.servers.spawn("rabbitmq", [RABBITMQ_SCRIPT], port=lay.amqp_port)
        self.servers.wait_ready(timeout=180)
        self._create_databases()

    def _create_databases(self) -> None:
        import psycopg

        deadline = time.monotonic() + 60
        while True:
            try:
                conn = psycopg.connect(f"postgresql://{PG_USER}:{self.layout.pg_password()}@127.0.0.1:"
                                       f"{self.layout.pg_port}/postgres", autocommit=True, connect_timeout=3)
                break
            except psycopg.OperationalError:  # still starting up
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for db in ("shop", "rasa"):
                if db not in existing:
                    conn.execute(f'CREATE DATABASE "{db}"')

    def _data_version(self) -> str:
        """Hash of what the seeded data depends on: the table definitions, the generator, its settings."""
        digest = hashlib.sha256()
        sources = sorted(PROJECT_ROOT.glob("personalization/**/models.py")) + [PROJECT_ROOT / "personalization" / "seed.py"]
        for path in sources:
            digest.update(path.read_bytes())
        digest.update(f"{self.base.seed}/{self.base.demo_members}/{self.base.demo_orders}".encode())
        return digest.hexdigest()[:16]

    def seed_if_needed(self) -> None:
        """Seed the member store (the same deterministic demo data as var/shop.db) once per data version.

        When the table definitions or the generator changed, the ``shop`` database is dropped and
        seeded again (about a minute); the ``rasa`` database (conversations) is kept.
        """
        stamp = self.layout.root / ".seeded"
        version = self._data_version()
        if stamp.exists() and stamp.read_text().strip() == version:
            return
        if stamp.exists():
            print("==> the data model changed: re-creating the member database", file=sys.stderr)
            self._recreate_shop_database()
        print("==> seeding the demo member database into PostgreSQL (about a minute)", file=sys.stderr)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": self.layout.database_url()}
        with open(self.logs / "seed.log", "wb") as log:
            result = subprocess.run([str(APP_PYTHON), "-m", "personalization", "seed"], cwd=PROJECT_ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise DeploymentError(f"seeding failed; see {self.logs / 'seed.log'}")
        stamp.write_text(version + "\n")

    def _recreate_shop_database(self) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://{PG_USER}:{self.layout.pg_password()}@127.0.0.1:"
                             f"{self.layout.pg_port}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute('DROP DATABASE IF EXISTS "shop" WITH (FORCE)')
            conn.execute('CREATE DATABASE "shop"')

    def create_schema(self) -> None:
        """Create missing tables once, before the replicas start (two replicas creating them at once race)."""
        from personalization.db import create_schema, make_engine

        engine = make_engine(replace(self.base, database_url=self.layout.database_url()))
        try:
            create_schema(engine)
        finally:
            engine.dispose()

    def start_edge(self) -> None:
        lay = self.layout
        if _port_open(lay.public_port, lay.public_host):
            raise DeploymentError(f"{lay.public_url} is taken: is a deployment already running? (make stop-distributed)")
        self.edge = ProcessGroup(self.base, self.logs)
        nginx = lay.root / "nginx"
        self.edge.spawn("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(nginx), "-c",
                                  str(nginx / "nginx.conf"), "-g", "daemon off;"], port=lay.public_port)
        self.edge.wait_ready(timeout=30)

    def cell_settings(self, index: int) -> Settings:
        lay = self.layout
        return replace(self.base, database_url=lay.database_url(), rasa_port=lay.rasa_ports[index],
                       action_server_port=lay.action_ports[index], web_port=lay.web_ports[index],
                       web_host="127.0.0.1", rasa_events_db=str(lay.root / "no-sql-broker.db"),
                       rasa_tracker_db=str(lay.root / "no-sqlite-tracker.db"))

    def start_cells(self) -> None:
        """Actions + Rasa + web, once per replica (they start in parallel)."""
        lay = self.layout
        env = {**self._secret_env(), "RASA_URL": f"http://127.0.0.1:{lay.rasa_lb_port}", "WEB_FANOUT": "postgres",
               "ANALYTICS_INTERVAL_S": "0"}
        for index in range(len(lay.rasa_ports)):
            label = chr(ord("a") + index)
            cell = Stack(self.cell_settings(index), self.logs / f"replica-{label}", extra_env=env,
                         endpoints=lay.root / "endpoints.yml")
            self.cells.append(cell.start())

    def wait_cells(self, timeout: float = 600.0, stopped: Callable[[], bool] = lambda: False) -> None:
        deadline = time.monotonic() + timeout
        for cell in self.cells:
            while not stopped():
                try:
                    cell.wait_ready(timeout=2.0)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise

    # -- the analytics consumer ------------------------------------------------------------------------
    def tick_analytics(self) -> None:
        """Start ``analytics --from-rabbitmq`` when the previous run ended and its interval passed."""
        if self._analytics is not None and self._analytics.poll() is None:
            return
        now = time.monotonic()
        if now < self._analytics_next:
            return
        self._analytics_next = now + ANALYTICS_EVERY_S
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": self.layout.database_url(),
               "ANALYTICS_BROKER_URL": self.layout.amqp_url, "ANALYTICS_BROKER_QUEUE": AMQP_QUEUE}
        log = open(self.logs / "analytics.log", "ab")  # noqa: SIM115 (the child keeps it)
        self._analytics = subprocess.Popen(
            [str(APP_PYTHON), "-m", "personalization", "analytics", "--from-rabbitmq"], cwd=PROJECT_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def pids(self) -> str:
        """``ROLE=PID,PID …`` of every process (``bench.load --pids``), e.g. ``web=11,12 rasa=13,14``."""
        roles: dict[str, list[int]] = {}
        groups = [g for g in (self.servers, self.edge) if g is not None] + list(self.cells)
        for group in groups:
            for name, process in group._processes.items():
                roles.setdefault(name, []).append(process.pid)
        return " ".join(f"{role}={','.join(map(str, pids))}" for role, pids in roles.items())

    def dead(self) -> Optional[str]:
        """A server or nginx that exited (the deployment cannot go on without it)."""
        for group in (self.servers, self.edge):
            if group is not None and (name := group.dead()):
                return name
        return None

    def revive_replicas(self) -> list[str]:
        """Restart a replica's process that died (actions, Rasa or web); the other replica serves meanwhile.

        nginx skips the restarting replica until it answers again. Returns the restarted replicas.
        """
        restarted = []
        for cell in self.cells:
            for name, process in list(cell._processes.items()):
                if process.poll() is None:
                    continue
                logger.warning("%s: %s exited (%s); restarting it", cell.log_dir.name, name, process.returncode)
                cell._spawn(name, [str(part) for part in process.args])  # type: ignore[union-attr]
                restarted.append(f"{name} ({cell.log_dir.name})")
        return restarted

    # -- stop ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Replicas first, then nginx, then the servers; RabbitMQ's epmd last."""
        self.layout.ready_file.unlink(missing_ok=True)
        if self._analytics is not None and self._analytics.poll() is None:
            os.killpg(self._analytics.pid, signal.SIGTERM)
            try:
                self._analytics.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._analytics.pid, signal.SIGKILL)
        for cell in self.cells:
            cell.stop()
        self.cells.clear()
        for group in (self.edge, self.servers):
            if group is not None:
                group.stop()
        if self.servers is not None:
            epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
            subprocess.run([epmd, "-kill"], env={**os.environ, "ERL_EPMD_PORT": str(self.layout.epmd_port)},
                           capture_output=True, timeout=10, check=False)
        self.servers = self.edge = None


def _servers(ports: tuple[int, ...]) -> str:
    # max_fails/fail_timeout: a dead replica is skipped for 5 s after one failed attempt.
    return "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports)


def _running_pid(layout: Layout) -> Optional[int]:
    try:
        pid = int(layout.pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def serve(layout: Layout) -> int:
    """Start everything, print where it is, run until Ctrl-C/SIGTERM or a process dies, stop everything."""
    if (pid := _running_pid(layout)) is not None:
        print(f"已在运行 already running (pid {pid}): make stop-distributed", file=sys.stderr)
        return 1
    stop = StopRequest.install()
    started = time.monotonic()
    deployment = Deployment(layout)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.pid_file.write_text(str(os.getpid()))
    try:
        deployment.prepare()
        ensure_rasa_token(deployment.base)
        print("正在启动 PostgreSQL、Redis、RabbitMQ… / starting PostgreSQL, Redis, RabbitMQ…", file=sys.stderr)
        deployment.start_servers()
        servers_s = time.monotonic() - started
        deployment.seed_if_needed()
        deployment.create_schema()
        deployment.start_edge()
        print("正在启动两组 Rasa/动作服务器/网页副本… / starting 2× (Rasa, actions, web)…", file=sys.stderr)
        deployment.start_cells()
        deployment.wait_cells(stopped=stop.requested)
        if stop.requested():
            return 0
        total_s = time.monotonic() - started
        (layout.root / "pids").write_text(deployment.pids() + "\n")
        layout.ready_file.write_text(layout.public_url)
        print(
            f"已就绪 ready in {total_s:.0f}s (servers {servers_s:.0f}s): 演示商店/demo shop {layout.public_url}/ · "
            f"客服工作台/agent console {layout.public_url}/agent · web replicas {list(layout.web_ports)} · "
            f"Rasa replicas {list(layout.rasa_ports)} · logs {deployment.logs} · Ctrl-C 或/or make stop-distributed",
            file=sys.stderr)
        while not stop.requested():
            if (name := deployment.dead()) is not None:
                print(f"{name} exited; stopping the deployment", file=sys.stderr)
                return 1
            for replica in deployment.revive_replicas():
                print(f"{replica} exited; restarting it (the other replica serves meanwhile)",
                      file=sys.stderr)
                (layout.root / "pids").write_text(deployment.pids() + "\n")
            deployment.tick_analytics()
            time.sleep(1)
        return 0
    except (DeploymentError, TimeoutError, RuntimeError) as exc:
        print(f"部署失败 deployment failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("正在停止 / stopping…", file=sys.stderr)
        deployment.stop()
        layout.pid_file.unlink(missing_ok=True)


def stop_running(layout: Layout, timeout: float = 120.0) -> int:
    """SIGTERM to a running ``serve`` (from its pid file); waits until it has stopped everything."""
    pid = _running_pid(layout)
    if pid is None:
        print("没有运行中的部署 / no distributed deployment is running", file=sys.stderr)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running_pid(layout) == pid and time.monotonic() < deadline:
        time.sleep(0.5)
    if _running_pid(layout) == pid:
        print(f"pid {pid} still running after {timeout:.0f}s", file=sys.stderr)
        return 1
    print("已停止 / stopped", file=sys.stderr)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launcher.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("run", "stop"), default="run")
    parser.add_argument("--public-port", type=int, default=Layout.public_port, help="nginx's public port (8080)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    layout = Layout(public_port=args.public_port)
    if args.command == "stop":
        return stop_running(layout)
    return serve(layout)


if __name__ == "__main__":
    sys.exit(main())
