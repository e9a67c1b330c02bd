"""The Ray a batch runs on: one started inside this process, or a cluster it joins.

A local Ray is private to the batch (``address="local"``: never another user's Ray on
the same machine) and talks over the loopback interface only: Ray deliberately swaps
127.0.0.1 for the host's network address, so that other hosts could join, and keeps any
other loopback address, hence ``LOCAL_NODE_IP``. Its dashboard is off unless asked
for, and so are Ray's usage reports (``RAY_USAGE_STATS_ENABLED=0`` unless set). A
cluster (``ray start --head`` on one host, ``ray start --address=HEAD:PORT`` on the
others) is joined with ``address="auto"`` or ``"HOST:PORT"``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from setsplat.core.errors import SetsplatError

LOCAL_NODE_IP = "127.0.0.2"
LOCAL_OBJECT_STORE_BYTES = 256 << 20  # a batch passes small records, never splats
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Cluster:
    """What a batch needs to know of the Ray it runs on."""

    address: str
    cpus: float
    gpus: float
    dashboard: str | None  # http://HOST:PORT, when the cluster runs one


@contextlib.contextmanager
def connect(address: str | None = None, *, cpus: int | None = None, dashboard: bool = False,
            env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """Start a local Ray (``address`` None; ``cpus`` cores, default all) or join the
    cluster at ``address``; shut down or leave it at the end of the block. ``env`` is
    set in every task's environment."""
    runtime_env = {"env_vars": env} if env else None
    ray = _import_ray()
    if dashboard and importlib.util.find_spec("aiohttp") is None:
        raise SetsplatError("the Ray dashboard needs Ray's dashboard packages",
                            "pip install 'ray[default]', or leave out --dashboard")
    if address is None:
        # a local Ray reports nothing home (its dashboard would, unless told not to)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        context = ray.init(address="local", num_cpus=cpus or os.cpu_count(),
                           include_dashboard=dashboard, _node_ip_address=LOCAL_NODE_IP,
                           object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                           logging_level=logging.ERROR, log_to_driver=False,
                           runtime_env=runtime_env)
    else:
        context = _join(ray, address, runtime_env)
    try:
        resources = ray.cluster_resources()
        yield Cluster(address=context.address_info["address"],
                      cpus=resources.get("CPU", 0.0), gpus=resources.get("GPU", 0.0),
                      dashboard=_url(context.dashboard_url))
    finally:
        ray.shutdown()


def _join(ray, address: str, runtime_env: dict | None):
    if address != "auto":
        _probe(address)
    try:
        return ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                        runtime_env=runtime_env)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SetsplatError(f"cannot join the Ray cluster at {address} ({first})",
                            "start it with `ray start --head` on the head host, or check "
                            "--address") from None


def _probe(address: str) -> None:
    """A cluster's head answers on its port; Ray itself would wait minutes to find out."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SetsplatError(f"--address {address} is not HOST:PORT or auto",
                            "give the head's address as `ray start --head` printed it")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise SetsplatError(f"no Ray cluster answers at {address} ({exc.strerror or exc})",
                            "start it with `ray start --head` on the head host, or check "
                            "--address") from None


def _url(dashboard: str | None) -> str | None:
    if not dashboard:
        return None
    return dashboard if "://" in dashboard else f"http://{dashboard}"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SetsplatError("Ray is not installed", "pip install 'setsplat[farm]'") from None
    return ray
