"""Real engines for the tests and benchmarks of the farm and the shared catalog: a
PostgreSQL server from Debian's packages and a Ray cluster of a head and worker nodes,
all on this machine's loopback interface, in temporary folders, stopped by whoever
started them.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the ``postgres``
user the Debian package made; otherwise as whoever runs the tests. Ray nodes run with
``ray start --block`` so that ending that one process ends the node's processes (never
``ray stop``, which would stop every Ray of this user on the machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from setsplat.farm.cluster import LOCAL_NODE_IP

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
SERVICE_USER = "postgres"  # made by Debian's postgresql package


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _as_service_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` in a temporary folder, TCP on 127.0.0.1 only and
    trust authentication (nothing but this machine can reach it)."""

    def __init__(self, fsync: bool = False) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="setsplat-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self.fsync = fsync
        if os.geteuid() == 0:
            shutil.chown(self.folder, SERVICE_USER)

    def start(self) -> PostgresServer:
        self._run([str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-U", "setsplat",
                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        for _ in range(5):  # a free port may be taken before the server binds it
            self.port = free_port()
            options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                       f"-c unix_socket_directories={self.folder} "
                       f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200")
            started = self._run([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-w",
                                 "-t", "60", "-l", str(self.folder / "server.log"),
                                 "-o", options, "start"], check=False)
            if started.returncode == 0:
                return self
        raise RuntimeError(f"PostgreSQL did not start: {self.log()}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://setsplat@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text()[-2000:] if path.is_file() else "(no log)"

    def stop(self) -> None:
        self._run([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                   "stop"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(_as_service_user(command), capture_output=True, text=True,
                              check=check, cwd=self.folder, timeout=120)


def ray_environment() -> dict[str, str]:
    """What every Ray process of a test cluster shares: our sources, no usage reports,
    and one token of its own (Ray's token authentication, kept out of ~/.ray)."""
    source = str(ROOT / "src")
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": source if not path else f"{source}{os.pathsep}{path}",
            "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16)}


class RayCluster:
    """A head node (no CPUs: it schedules, it does not work) and worker nodes of
    ``cpus`` cores each, all on ``LOCAL_NODE_IP``."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths
        self.env = {**os.environ, **environment}
        self.port = free_port(LOCAL_NODE_IP)
        self.nodes: list[subprocess.Popen] = []

    @property
    def address(self) -> str:
        return f"{LOCAL_NODE_IP}:{self.port}"

    def start(self, workers: int = 2, cpus: int = 1) -> RayCluster:
        self._node("head", "--head", f"--port={self.port}", "--num-cpus=0",
                   "--include-dashboard=false", f"--dashboard-port={free_port()}",
                   f"--temp-dir={self.folder}")
        for _ in range(workers):  # one at a time: a busy machine may not register two
            self.add_worker(cpus)
        return self

    def add_worker(self, cpus: int = 1) -> None:
        self._node(f"worker{len(self.nodes)}", f"--address={self.address}",
                   f"--num-cpus={cpus}")

    def stop(self) -> None:
        """End the nodes (each ``ray start --block`` ends its node's processes), then
        any process of this cluster still alive: its environment holds the cluster's
        own token, so nothing else is touched."""
        for node in reversed(self.nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(timeout=max(0.1, deadline - time.monotonic()))
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for node in self.nodes:
            node.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def processes(self) -> list[int]:
        """Every process of this cluster (nodes, their services and task workers)."""
        mark = f"RAY_AUTH_TOKEN={self.env['RAY_AUTH_TOKEN']}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if mark in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
        return found

    def _node(self, name: str, *args: str, timeout: float = 180.0) -> None:
        """Start a node and wait until it has joined (``ray start`` says so once the
        head knows it)."""
        ray = Path(sys.executable).with_name("ray")
        path = self.folder / f"{name}.log"
        with open(path, "wb") as log:
            node = subprocess.Popen(
                [str(ray), "start", "--block", f"--node-ip-address={LOCAL_NODE_IP}",
                 "--disable-usage-stats", "--object-store-memory=100000000", *args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(node)
        deadline = time.monotonic() + timeout
        while b"Ray runtime started" not in path.read_bytes():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Ray node {name} did not start: {self._logs()}")
            time.sleep(0.2)

    def _logs(self) -> str:
        return " | ".join(p.read_text(errors="replace")[-600:]
                          for p in sorted(self.folder.glob("*.log")))


_PUBLISHER = """
import itertools, sys
from setsplat.assets import Library, PublishOptions, publish
from setsplat.core.progress import set_quiet
set_quiet(True)
root, url, scene, name, count = sys.argv[1:6]
library = Library.resolve(root, url or None)
print("ready", flush=True)
if sys.argv[6] == "wait":
    sys.stdin.readline()
for _ in range(int(count)) if int(count) else itertools.count():
    publish(scene, PublishOptions(name=name, thumbnails=False, mesh=None), library)
"""


def publisher(root: Path, catalog_url: str | None, scene: Path, count: int,
              name: str = "Set_Farm", wait: bool = False) -> subprocess.Popen:
    """Another process that publishes ``scene`` as ``count`` versions of ``name`` (0: until
    it is killed), without thumbnails or a proxy mesh: the catalog's protocol is what is
    exercised. It prints ``ready`` once imported; with ``wait`` it then waits for a line
    on stdin."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-c", _PUBLISHER, str(root), catalog_url or "", str(scene), name,
         str(count), "wait" if wait else "go"], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """These environment variables in this process while the block runs."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
