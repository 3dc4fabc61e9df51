"""A controller running in the test's process, and the Application CRD installed once: what
the operator's tests (and yours) drive. ``RunningController.push_hook`` sends a signed generic
webhook, as CI would after a push."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clew.apply import wait_established
from clew.cluster import Cluster
from clew.controller import APPLICATION_CRD, CRD_NAME
from clew.controller.api.notification_crd import (
    NOTIFICATION_POLICY_CRD,
    NOTIFICATION_POLICY_CRD_NAME,
)
from clew.controller.appsets import APPLICATION_SET_CRD, APPLICATION_SET_CRD_NAME
from clew.controller.config import ControllerConfig
from clew.controller.runner import Controller
from clew.controller.triggers.receivers import ReceiverSecrets
from clew.testing.gitserver import GitHttpServer
from clew.testing.processes import free_port
from clew.testing.waiting import Predicate, condition

_installed: set[str] = set()


async def install_crd(admin: Cluster, server: str) -> None:
    """The Application, NotificationPolicy and ApplicationSet CRDs, once per API server."""
    if server in _installed:
        return
    await admin.apply(APPLICATION_CRD, field_manager="clew-install", force=True)
    await admin.apply(NOTIFICATION_POLICY_CRD, field_manager="clew-install", force=True)
    await admin.apply(APPLICATION_SET_CRD, field_manager="clew-install", force=True)
    names = [CRD_NAME, NOTIFICATION_POLICY_CRD_NAME, APPLICATION_SET_CRD_NAME]
    late = await wait_established(admin, names, 60)
    assert not late, f"{', '.join(late)} not established"
    await admin.discovery.refresh()
    _installed.add(server)


async def secret(cluster: Cluster, namespace: str, name: str, data: dict[str, str]) -> None:
    """Apply Secret ``namespace/name`` holding ``data`` (plain strings, encoded here)."""
    await cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


async def git_credentials(
    cluster: Cluster, namespace: str, server: GitHttpServer, user: str = "clew", name: str = "git"
) -> str:
    """The credentials Secret an Application's ``secretRef`` names for ``server``; its name."""
    await secret(cluster, namespace, name, {"username": user, "password": server.users[user]})
    return name


def ready_at(revision: str) -> Predicate:
    """For ``until``: the Application is Ready and has applied ``revision``."""

    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready") or {}
        applied = ((app or {}).get("status") or {}).get("lastAppliedRevision")
        return ready.get("status") == "True" and applied == revision

    return check


def status_is(reason: str, revision_prefix: str = "", message: str = "") -> Predicate:
    """For ``until``: Ready has ``reason`` and a message containing ``message``, and the applied
    revision starts with ``revision_prefix``."""

    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        if ready is None or ready["reason"] != reason or message not in ready["message"]:
            return False
        applied = str(((app or {}).get("status") or {}).get("lastAppliedRevision") or "")
        return applied.startswith(revision_prefix)

    return check


@dataclass
class RunningController:
    controller: Controller
    task: asyncio.Task[None]
    webhook_secret: str

    @property
    def port(self) -> int:
        assert self.controller.server is not None
        return self.controller.server.port

    async def push_hook(
        self, repo_url: str, ref: str = "main", traceparent: str | None = None
    ) -> dict[str, Any]:
        """A signed generic webhook, as CI would send after a push."""
        return await push_generic(self.port, self.webhook_secret, repo_url, ref, traceparent)


async def push_generic(
    port: int, secret: str, repo_url: str, ref: str = "main", traceparent: str | None = None
) -> dict[str, Any]:
    """A signed generic webhook to a controller on ``127.0.0.1:port``; the decoded answer."""
    body = json.dumps({"repository": repo_url, "ref": ref}).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-Clew-Timestamp": stamp,
        "X-Clew-Signature": f"sha256={signature.hexdigest()}",
        "X-Clew-Delivery": secrets.token_hex(8),
    }
    if traceparent:
        headers["traceparent"] = traceparent
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/generic", data=body, headers=headers, method="POST"
    )

    def send() -> dict[str, Any]:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback http
            return dict(json.loads(resp.read()))

    return await asyncio.to_thread(send)


async def start_controller(cluster: Cluster, cache: Path, **overrides: Any) -> RunningController:
    secret = secrets.token_hex(16)
    config = ControllerConfig(
        host="127.0.0.1",
        port=0,
        cache_dir=cache,
        secrets=ReceiverSecrets(generic=secret),
        workers=4,
        **{"metrics_port": 0, **overrides},
    )
    controller = Controller(cluster, config)
    task = asyncio.create_task(controller.run())
    leading = asyncio.create_task(controller.became_leader.wait())
    done, _ = await asyncio.wait({task, leading}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        leading.cancel()
        task.result()  # raises what stopped it
    if leading not in done:
        leading.cancel()
        raise TimeoutError("the controller did not start leading within 30 s")
    return RunningController(controller, task, secret)


async def stop_controller(running: RunningController) -> None:
    running.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running.task


@dataclass
class ControllerProcess:
    """``clew controller`` as its own process, as users run it (for kill and failover tests)."""

    process: subprocess.Popen[bytes]
    port: int  # webhooks and probes
    log: Path
    metrics_port: int = 0  # /metrics on 127.0.0.1

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no lease release, no cleanup — a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def spawn_controller(
    kubeconfig: Path,
    work: Path,
    *args: str,
    secret: str = "",
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> ControllerProcess:
    """Start ``clew controller`` on free ports (webhooks, metrics); return once it serves
    /healthz. ``args`` come last, so they may override the metrics address; ``env`` adds to
    the environment (``POD_NAMESPACE``, as a Pod has)."""
    work.mkdir(parents=True, exist_ok=True)
    port, metrics_port = free_port(), free_port()
    log = work / f"controller-{port}.log"
    environ = {**os.environ, "CLEW_CACHE_DIR": str(work / "cache"), **(env or {})}
    if secret:
        environ["CLEW_WEBHOOK_GENERIC_SECRET"] = secret
    argv = [
        str(Path(sys.executable).parent / "clew"),
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-bind-address",
        f"127.0.0.1:{metrics_port}",
        *args,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=environ, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return ControllerProcess(process, port, log, metrics_port)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"clew controller did not start:\n{tail}") from None
            time.sleep(0.1)  # the process is starting; nothing to watch yet
