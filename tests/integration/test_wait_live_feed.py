"""The wait follows the controller's informers (engine.waiting, controller/reconcile/livecache):

- a Deployment whose pod is not ready is followed on the informer's events, and seen becoming
  healthy once its template is fixed by hand while the wait runs; the sync opens no WATCH of its
  own, and a kind no informer covers (a ConfigMap here) is still read by the wait's own LIST;
- a Deployment that never becomes healthy ends the wait at its timeout with its last health,
  rather than hanging or passing.

The informer runs on a client of its own, so the sync's client counts only the sync's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew import engine, source
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.reconcile.livecache import InformerCache
from clew.controller.runtime.informer import Informer
from clew.model import Health, Snapshot
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


NOT_READY_KEY = "kubelet.clew.dev/ready"
NOT_READY = {NOT_READY_KEY: "false"}  # the kubelet stand-in never makes it Ready


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    pod: dict[str, Any] = {"containers": [{"name": name, "image": "nginx:1.27"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels, "annotations": NOT_READY}, "spec": pod},
        },
    }


class Cache(InformerCache):
    """Tells the test when a wait starts following."""

    def __init__(self, lookup: Any) -> None:
        super().__init__(lookup)
        self.following = asyncio.Event()

    def follow(self, *args: Any) -> Any:
        found = super().follow(*args)
        if found is not None:
            self.following.set()
        return found


@contextlib.asynccontextmanager
async def deployments(kube_cluster: KubeCluster, ns: str) -> AsyncIterator[Cache]:
    """A running informer of clew's Deployments in ``ns``, as the controller's drift runs."""
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as own:
        inf = Informer(own, "apps/v1", "Deployment", ns, label_selector=PART_OF)
        task = asyncio.create_task(inf.run())
        try:
            await asyncio.wait_for(inf.has_synced.wait(), 30)
            yield Cache(
                lambda _c, _v, kind, where: inf if kind == "Deployment" and where == ns else None
            )
        finally:
            await inf.stop()
            await asyncio.wait({task})


async def sync(cluster: Cluster, directory: Path, ns: str, cache: Cache, timeout: float) -> Any:
    async def fetch() -> Snapshot:
        return source.local(directory, ".")

    options = engine.SyncOptions(name="fed", namespace=ns, wait=True, timeout=timeout, live=cache)
    return await engine.sync(cluster, fetch, options)


async def test_the_wait_follows_the_informers_events(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(deployment("web")))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    async with deployments(kube_cluster, ns) as cache:
        watches, lists = kube_admin.calls["watch"], kube_admin.calls["list"]
        syncing = asyncio.create_task(sync(kube_admin, tmp_path, ns, cache, timeout=120))
        await asyncio.wait_for(cache.following.wait(), 60)
        assert not syncing.done()  # waiting on a Deployment that cannot be Ready yet
        fixed = {"spec": {"template": {"metadata": {"annotations": {NOT_READY_KEY: "true"}}}}}
        async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as hand:
            await hand.patch("apps/v1", "Deployment", "web", fixed, namespace=ns)
        result = await asyncio.wait_for(syncing, 120)
        assert result.ok, result.error
        assert kube_admin.calls["watch"] == watches  # the Deployment followed, not watched
        assert kube_admin.calls["list"] > lists  # the ConfigMap's own LIST: no informer for it
    assert cache.followed == 1
    health = {ref.kind: r for ref, r in result.health.results.items()}
    assert set(health) == {"Deployment", "ConfigMap"}
    assert health["Deployment"].health is Health.CURRENT
    live = await kube_admin.get("apps/v1", "Deployment", "web", ns)
    assert live["status"]["availableReplicas"] == 1  # healthy for real, not by default


async def test_a_followed_object_that_never_gets_healthy_times_out(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    (tmp_path / "stuck.yaml").write_text(yaml.safe_dump(deployment("stuck")))
    async with deployments(kube_cluster, ns) as cache:
        watches = kube_admin.calls["watch"]
        result = await sync(kube_admin, tmp_path, ns, cache, timeout=3)
        assert kube_admin.calls["watch"] == watches
    assert cache.followed == 1
    assert not result.ok
    assert result.health.timed_out
    (only,) = result.health.results.values()
    assert only.health is Health.IN_PROGRESS
    assert "stuck" in result.health.summary()
