"""The controller under test: ``clew controller`` as its own process (``spawn_controller``), with
the restricted kubeconfig, leader election on (as ``clew install`` runs it) and a generic webhook
secret. Its CPU, peak memory and metrics are read from outside, as its users would read them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench import measure
from bench.operator.apimetrics import parse_metrics
from clew.cluster import Cluster
from clew.testing.controlplane import RESTRICTED_NAMESPACE, ControlPlane
from clew.testing.operator import ControllerProcess, spawn_controller
from clew.testing.waiting import until

LEASE = "clew-controller"


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU-seconds of the process itself and of its children it has waited for (git)."""

    own: float
    children: float

    @property
    def total(self) -> float:
        return self.own + self.children

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.own - other.own, self.children - other.children)


def proc_cpu(pid: int) -> Cpu:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return Cpu(
        (int(fields[11]) + int(fields[12])) / ticks, (int(fields[13]) + int(fields[14])) / ticks
    )


async def push_hook(
    http: httpx.AsyncClient, port: int, secret: str, repo_url: str, revision: str
) -> dict[str, Any]:
    """The signed generic webhook CI sends after a push (the format of
    ``RunningController.push_hook``, plus the pushed commit: two pushes within one second would
    otherwise be byte-identical, and refused as a replay)."""
    body = json.dumps({"repository": repo_url, "ref": "main", "revision": revision}).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    resp = await http.post(
        f"http://127.0.0.1:{port}/hooks/generic",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Clew-Timestamp": stamp,
            "X-Clew-Signature": f"sha256={signature.hexdigest()}",
            "X-Clew-Delivery": secrets.token_hex(8),
        },
    )
    resp.raise_for_status()
    return dict(resp.json())


@dataclass
class Controller:
    process: ControllerProcess
    identity: str
    secret: str
    started: float  # time.monotonic() when it was spawned

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> Path:
        return self.process.log

    def cpu(self) -> Cpu:
        return proc_cpu(self.pid)

    def peak_rss_mib(self) -> float:
        return measure.proc_peak_rss_mib(self.pid)

    def alive(self) -> bool:
        return self.process.process.poll() is None

    async def metrics(self, http: httpx.AsyncClient) -> dict[str, float]:
        resp = await http.get(f"http://127.0.0.1:{self.process.metrics_port}/metrics")
        resp.raise_for_status()
        return parse_metrics(resp.text)

    async def push_hook(
        self, http: httpx.AsyncClient, repo_url: str, revision: str
    ) -> dict[str, Any]:
        return await push_hook(http, self.process.port, self.secret, repo_url, revision)

    def problems(self) -> Counter[str]:
        """Warnings and errors the controller logged (JSON lines), by message start: a missing
        permission or a failing watch shows up here, not as a figure."""
        found: Counter[str] = Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                found[line[:120]] += 1  # not JSON: a traceback or a crash
                continue
            if entry.get("level") not in ("debug", "info"):
                found[f"{entry.get('level')}: {str(entry.get('msg'))[:120]}"] += 1
        return found

    def stop(self) -> None:
        """SIGTERM: the controller releases its Lease, so the next one leads at once."""
        self.process.stop()


async def start(
    plane: ControlPlane, admin: Cluster, work: Path, identity: str, workers: int
) -> Controller:
    """Spawn a controller and return once it holds the Lease (seen on a watch)."""
    secret = secrets.token_hex(16)
    started = time.monotonic()
    process = await asyncio.to_thread(
        spawn_controller,
        plane.restricted_kubeconfig,
        work,
        "--workers",
        str(workers),
        "--leader-elect",
        "--lease-namespace",
        RESTRICTED_NAMESPACE,
        "--identity",
        identity,
        secret=secret,
    )
    controller = Controller(process, identity, secret, started)
    try:
        await until(
            admin,
            "coordination.k8s.io/v1",
            "Lease",
            LEASE,
            RESTRICTED_NAMESPACE,
            lambda lease: bool(lease and lease["spec"].get("holderIdentity") == identity),
            60,
        )
    except BaseException:
        controller.stop()
        raise
    return controller
