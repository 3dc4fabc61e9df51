"""The plan's change detection remembers that a client may not LIST a kind across namespaces:
the first plan asks once (403) and lists per namespace; the next plans list per namespace
straight away, one request per namespace, and see the same objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.model import Manifest, ObjectRef
from clew.plan import live_metadata
from clew.testing.installed import service_account_token, token_kubeconfig
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


async def test_a_forbidden_cluster_wide_list_is_asked_once(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    # An account that is admin of this namespace only, as an Application's ServiceAccount is.
    await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "planner", "namespace": ns},
        }
    )
    await kube_admin.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "planner", "namespace": ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "planner", "namespace": ns}],
        }
    )
    token = await service_account_token(kube_admin, ns, "planner")
    kubeconfig = token_kubeconfig(kube_cluster.admin_kubeconfig, token, tmp_path / "planner")
    labels = {PART_OF: "applyset-plan-lists-v1"}
    desired = []
    for name in ("a", "b"):
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "data": {"k": name},
        }
        await kube_admin.create(obj)
        desired.append(Manifest(obj, f"{name}.yaml#0"))
    selector = f"{PART_OF}=applyset-plan-lists-v1"
    want = {ObjectRef("", "ConfigMap", ns, "a"), ObjectRef("", "ConfigMap", ns, "b")}
    async with Cluster.from_kubeconfig(kubeconfig) as cluster:
        seen = []
        for _ in range(3):
            before = cluster.calls["list"]
            found = await live_metadata(cluster, desired, label_selector=selector)
            seen.append(cluster.calls["list"] - before)
            assert set(found) == want
    assert seen == [2, 1, 1]  # the 403, then the namespace; then the namespace alone
