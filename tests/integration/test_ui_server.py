"""The UI server's parts against the real API server, without a browser: the shared hub lists
Applications, then follows additions, changes and deletions from its one watch and tells every
subscriber; TokenReview names a ServiceAccount token's user and refuses a made-up one; and
SubjectAccessReview answers per namespace, and a token stops signing anyone in once its
ServiceAccount is deleted; and ``clew controller --ui-bind-address`` serves the UI from the
controller's own process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.processes import Component, free_port, log_tail, stop_pid
from clew.testing.pytest_plugin import KubeCluster
from clew.ui.access import Access
from clew.ui.hub import AppHub, Change, running

from .test_operator import application
from .test_ui_browser import account_token, grant_operator

pytestmark = pytest.mark.integration


async def next_change(queue: asyncio.Queue[Change], key: tuple[str, str]) -> Change:
    async def read() -> Change:
        while True:
            change = await queue.get()
            if change.key == key:
                return change

    return await asyncio.wait_for(read(), 20)


async def test_hub_follows_applications(
    crd: None, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    await kube_admin.create(application("before", ns, "https://git.invalid/x.git", suspend=True))
    hub = AppHub(kube_admin)
    queue = hub.subscribe()
    async with running(hub):
        await asyncio.wait_for(hub.synced.wait(), 20)
        assert (ns, "before") in hub.apps
        assert (await queue.get()).type == "RESYNC"

        await kube_admin.create(application("after", ns, "https://git.invalid/x.git", suspend=True))
        assert (await next_change(queue, (ns, "after"))).type == "ADDED"
        await kube_admin.patch(
            API_VERSION, KIND, "after", {"spec": {"suspend": False}}, namespace=ns
        )
        assert (await next_change(queue, (ns, "after"))).type == "MODIFIED"
        assert hub.apps[(ns, "after")]["spec"]["suspend"] is False
        await kube_admin.delete(API_VERSION, KIND, "after", ns)
        assert (await next_change(queue, (ns, "after"))).type == "DELETED"
        assert (ns, "after") not in hub.apps
    hub.unsubscribe(queue)
    assert hub.subscribers == 0
    assert (kube_admin.calls["list"], kube_admin.calls["watch"]) >= (1, 1)


async def test_token_and_access_reviews(
    crd: None, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    await grant_operator(kube_admin, ns, "alice")
    token = await account_token(kube_admin, ns, "alice")
    access = Access(kube_admin, ttl=0, denied_ttl=0)

    user = await access.user(token)
    assert user is not None
    assert user.name == f"system:serviceaccount:{ns}:alice"
    assert f"system:serviceaccounts:{ns}" in user.groups
    assert await access.user(token[:-8] + "AAAAAAAA") is None
    assert await access.user("not-a-token") is None

    group = "clew.dev"
    assert await access.allowed(user, "list", "applications", group=group, namespace=ns)
    assert await access.allowed(user, "patch", "applications", group=group, namespace=ns, name="x")
    assert not await access.allowed(user, "list", "applications", group=group)  # cluster-wide
    assert not await access.allowed(user, "list", "applications", group=group, namespace="default")

    # The API server checks a bound token's ServiceAccount through its own informer, so the
    # refusal comes within moments, not at once: ask until it comes, with a deadline.
    await kube_admin.delete("v1", "ServiceAccount", "alice", ns)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while await access.user(token) is not None:
        assert loop.time() < deadline, "the token still signs in 15 s after its account went"
        await asyncio.sleep(0.2)


async def test_the_controller_process_serves_the_ui_when_asked(
    crd: None, kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    """``clew controller --ui-bind-address``: one process, the operator and the UI."""
    port, ui_port = free_port(), free_port()
    exe = str(Path(sys.executable).parent / "clew")
    controller = Component(
        "controller",
        [
            exe,
            "controller",
            f"--kubeconfig={kube_cluster.admin_kubeconfig}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--metrics-bind-address=0",
            f"--ui-bind-address=127.0.0.1:{ui_port}",
        ],
        tmp_path / "controller.log",
    )
    controller.start({**os.environ, "CLEW_CACHE_DIR": str(tmp_path / "cache")})
    try:

        def login_page() -> str:
            # Polls the port while the process starts: there is nothing to watch instead.
            deadline = time.monotonic() + 60
            while True:
                try:
                    url = f"http://127.0.0.1:{ui_port}/login"
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        return str(resp.read().decode())
                except OSError:
                    assert controller.alive(), log_tail(controller.log)
                    assert time.monotonic() < deadline, log_tail(controller.log)
                    time.sleep(0.2)

        assert "Sign in to clew" in await asyncio.to_thread(login_page)
    finally:
        stop_pid(controller.pid)
