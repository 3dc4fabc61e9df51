"""The reconciler's short-lived reads (controller/runtime/reads.py), against the real API server
with an injected clock:

- a Secret (Git credentials) read twice within the TTL costs one GET, and a change to it is seen
  as soon as the entry expires;
- concurrent reads of one object share one request; a failed read (a Secret not created yet)
  is not kept, so it is seen once it exists;
- entries are per client: another client reads for itself.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from clew.cluster import Cluster
from clew.controller.reconcile.credentials import credentials
from clew.controller.runtime.reads import ReadCache
from clew.model import SourceError
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def put_secret(cluster: Cluster, ns: str, password: str) -> None:
    data = {"username": b"git", "password": password.encode()}
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    meta = {"name": "git", "namespace": ns}
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded}
    await cluster.apply(body, field_manager="test", force=True)


async def test_a_changed_secret_is_seen_when_its_entry_expires(
    kube_admin: Cluster, kube_namespace: str
) -> None:
    ns, clock = kube_namespace, Clock()
    cache = ReadCache(ttl=5, clock=clock)
    get = cache.for_client(kube_admin)
    with pytest.raises(SourceError, match="not found"):
        await credentials(kube_admin, ns, "git", get)
    await put_secret(kube_admin, ns, "first")
    gets = kube_admin.calls["get"]
    found = await asyncio.gather(*(credentials(kube_admin, ns, "git", get) for _ in range(5)))
    assert {c.password for c in found if c} == {"first"}  # the failure was not kept
    assert kube_admin.calls["get"] == gets + 1  # five reads, one request
    await put_secret(kube_admin, ns, "second")
    clock.now += 4.9
    again = await credentials(kube_admin, ns, "git", get)
    assert again is not None
    assert again.password == "first"  # within the TTL: no request
    assert kube_admin.calls["get"] == gets + 1
    clock.now += 0.2
    rotated = await credentials(kube_admin, ns, "git", get)
    assert rotated is not None
    assert rotated.password == "second"
    assert kube_admin.calls["get"] == gets + 2


async def test_entries_are_per_client(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns, clock = kube_namespace, Clock()
    cache = ReadCache(ttl=5, clock=clock)
    await put_secret(kube_admin, ns, "first")
    mine = await credentials(kube_admin, ns, "git", cache.for_client(kube_admin))
    await put_secret(kube_admin, ns, "second")
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as other:
        theirs = await credentials(other, ns, "git", cache.for_client(other))
    assert mine is not None
    assert theirs is not None
    assert (mine.password, theirs.password) == ("first", "second")  # its own read
