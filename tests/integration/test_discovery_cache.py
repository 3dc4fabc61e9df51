"""Discovery kept on disk, against a real API server: a second client reads its table from
disk (one small GET /version instead of the two discovery requests); a CRD added after the
cache was written is found (a kind the cache lacks is asked of the server, and the cache is
rewritten); an entry written for another server version, or older than the TTL, is read
anew."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clew.cluster import Cluster, DiscoveryCache
from clew.cluster.discocache import TTL
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

CRD_API = "apiextensions.k8s.io/v1"


def _crd(group: str) -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": CRD_API,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gizmos.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }


def _entry(root: Path) -> Path:
    (entry,) = root.glob("*/resources.json")  # one server, one entry
    return entry


def _version(root: Path) -> str:
    return str(json.loads(_entry(root).read_text())["version"])


def _rewrite_version(root: Path, version: str) -> None:
    entry = _entry(root)
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "version": version}))


class Clients:
    """New restricted clients, each with the same discovery cache, as successive CLI runs."""

    def __init__(self, kube: KubeCluster, cache: DiscoveryCache) -> None:
        self.kube, self.cache = kube, cache

    async def gets(self, api_version: str, kind: str) -> int:
        """The GET requests a fresh client sends to resolve ``kind``."""
        cluster = Cluster.from_kubeconfig(self.kube.restricted_kubeconfig)
        async with self.cache.attach(cluster):
            resource = await cluster.discovery.resource(api_version, kind)
            assert resource.kind == kind
            return cluster.requests["GET"]


@pytest.fixture
async def group(kube_admin: Cluster, kube_namespace: str) -> AsyncIterator[str]:
    name = f"{kube_namespace}.example.com"
    yield name
    await kube_admin.delete(CRD_API, "CustomResourceDefinition", f"gizmos.{name}")


async def test_second_run_reads_discovery_from_disk(
    kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    clients = Clients(kube_cluster, DiscoveryCache(tmp_path / "discovery"))
    assert await clients.gets("v1", "ConfigMap") == 3  # /version, /api, /apis
    assert await clients.gets("apps/v1", "Deployment") == 1  # /version
    assert _version(tmp_path / "discovery").startswith("v1.")


async def test_a_crd_added_after_the_cache_was_written_is_found(
    kube_cluster: KubeCluster, kube_admin: Cluster, group: str, tmp_path: Path
) -> None:
    clients = Clients(kube_cluster, DiscoveryCache(tmp_path))
    assert await clients.gets("v1", "ConfigMap") == 3
    await kube_admin.apply(_crd(group))
    await until(
        kube_admin,
        CRD_API,
        "CustomResourceDefinition",
        f"gizmos.{group}",
        None,
        lambda crd: (condition(crd, "Established") or {}).get("status") == "True",
    )
    assert await clients.gets(f"{group}/v1", "Gizmo") == 3  # the cache lacked it: asked anew
    assert await clients.gets(f"{group}/v1", "Gizmo") == 1  # and wrote it down


async def test_stale_entries_are_read_anew(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    clients = Clients(kube_cluster, DiscoveryCache(tmp_path))
    assert await clients.gets("v1", "ConfigMap") == 3
    real = _version(tmp_path)
    _rewrite_version(tmp_path, "v1.0.0")  # as if written before an upgrade
    assert await clients.gets("v1", "ConfigMap") == 3
    assert _version(tmp_path) == real
    later = Clients(kube_cluster, DiscoveryCache(tmp_path, clock=lambda: time.time() + TTL + 1))
    assert await later.gets("v1", "ConfigMap") == 3  # older than the TTL by now
    assert await later.gets("v1", "ConfigMap") == 1
