"""The audit trail's writer keeps what it wrote (report/audit.py, ``AuditRecorder``):

- its first write of an Application is one create, and its next one a single patch, no GET;
- a write by another recorder in between (the UI, another replica) makes the kept copy stale:
  the version precondition fails, the trail is read again and the record merged, none lost;
- a trail deleted by hand is written afresh on the next record, not lost to the kept copy.

Real API server, an Application object as the trail's owner (no controller runs).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from clew.cluster import Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.model import ChangeSet
from clew.report import audit
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


async def application(cluster: Cluster, ns: str) -> dict[str, Any]:
    spec = {
        "source": {"repoURL": "https://example.com/shop.git", "ref": "main", "path": "deploy"},
        "destination": {"namespace": ns},
    }
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "shop"}, "spec": spec}
    return await cluster.create({**body, "metadata": {"name": "shop", "namespace": ns}})


def entry(revision: str) -> dict[str, Any]:
    return audit.record(revision=revision, commit=None, result="Succeeded", changes=ChangeSet())


async def revisions(cluster: Cluster, ns: str) -> list[str]:
    trail = await audit.read_trail(cluster, ns, "shop")
    assert trail is not None
    return [r["revision"] for r in trail.records]


async def test_one_request_per_record_and_another_writer_merged(
    crd: None, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    app = await application(kube_admin, ns)
    async with (
        Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as a,
        Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as b,
    ):
        mine, theirs = audit.AuditRecorder(a), audit.AuditRecorder(b)
        await a.resource_for("v1", "ConfigMap")  # discovery, not the recorder's requests
        sent = a.requests.copy()
        assert await mine.write(app, entry("r1"))  # a create
        assert await mine.write(app, entry("r2"))  # one patch over the kept version
        assert a.requests - sent == Counter(POST=1, PATCH=1)
        assert await theirs.write(app, entry("r3"))  # its create conflicts: it reads and merges
        assert await mine.write(app, entry("r4"))  # stale: conflict, read again, apply
        assert a.requests - sent == Counter(POST=1, PATCH=3, GET=1)
    assert await revisions(kube_admin, ns) == ["r1", "r2", "r3", "r4"]


async def test_a_trail_deleted_by_hand_is_written_again(
    crd: None, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    app = await application(kube_admin, ns)
    recorder = audit.AuditRecorder(kube_admin)
    assert await recorder.write(app, entry("r1"))
    assert await recorder.write(app, entry("r2"))
    await kube_admin.delete("v1", "ConfigMap", audit.configmap_name("shop"), ns)
    with pytest.raises(NotFound):
        await kube_admin.get("v1", "ConfigMap", audit.configmap_name("shop"), ns)
    assert await recorder.write(app, entry("r3"))
    assert await revisions(kube_admin, ns) == ["r3"]
