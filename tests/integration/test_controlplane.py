"""The local control plane is a real Kubernetes: objects are stored and validated, CRDs become
Established, controllers run (Deployments become Available, namespaces terminate, owner references
cascade), RBAC separates the admin from the restricted ServiceAccount, and a second control plane
runs beside the first on its own ports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clew.cluster import Cluster, Forbidden, Invalid, NotFound
from clew.testing import tools
from clew.testing.controlplane import ControlPlane, StartupError
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


async def wait_for(
    cluster: Cluster,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    predicate: Callable[[dict[str, Any] | None], bool],
    seconds: float = 60,
) -> dict[str, Any] | None:
    """Watch one object until ``predicate`` holds (``None`` means deleted)."""

    async def run() -> dict[str, Any] | None:
        while True:
            try:
                current: dict[str, Any] | None = await cluster.get(
                    api_version, kind, name, namespace
                )
            except NotFound:
                current = None
            if predicate(current):
                return current
            version = (current or {}).get("metadata", {}).get("resourceVersion", "")
            async for event in cluster.watch(
                api_version,
                kind,
                namespace,
                resource_version=version,
                field_selector=f"metadata.name={name}",
                timeout_seconds=int(seconds),
            ):
                obj = None if event.type == "DELETED" else event.object
                if event.type != "BOOKMARK" and predicate(obj):
                    return obj

    return await asyncio.wait_for(run(), seconds)


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for cond in (obj or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


async def test_version_is_the_pinned_release(kube_admin: Cluster) -> None:
    version = await kube_admin.version()
    assert version["gitVersion"] == tools.K8S_VERSION
    assert version["major"] == "1"


async def test_configmap_round_trip_and_validation(
    kube_restricted: Cluster, kube_namespace: str
) -> None:
    created = await kube_restricted.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": kube_namespace},
            "data": {"color": "blue"},
        }
    )
    assert created["metadata"]["uid"]
    fetched = await kube_restricted.get("v1", "ConfigMap", "settings", kube_namespace)
    assert fetched["data"] == {"color": "blue"}
    with pytest.raises(Invalid) as caught:
        await kube_restricted.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "Not_A_Valid_Name", "namespace": kube_namespace},
            }
        )
    assert "ConfigMap/" in str(caught.value)


async def test_restricted_account_is_not_cluster_admin(kube_restricted: Cluster) -> None:
    review = await kube_restricted.request(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    user = review["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:clew-system:clew-restricted"
    assert "system:masters" not in user.get("groups", [])
    with pytest.raises(Forbidden):
        await kube_restricted.list_objects("v1", "Node")


async def test_crd_established_then_custom_resource(
    kube_admin: Cluster, kube_namespace: str
) -> None:
    group = f"{kube_namespace}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    await kube_admin.apply(crd)
    try:
        await wait_for(
            kube_admin,
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd["metadata"]["name"],
            None,
            lambda o: condition(o, "Established") == "True",
        )
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": kube_namespace},
            "spec": {"size": 3},
        }
        await kube_admin.apply(widget)  # discovery refreshes: Widget was unknown a moment ago
        stored = await kube_admin.get(f"{group}/v1", "Widget", "w1", kube_namespace)
        assert stored["spec"] == {"size": 3}
    finally:
        await kube_admin.delete(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]
        )


async def test_deployment_becomes_available(kube_restricted: Cluster, kube_namespace: str) -> None:
    labels = {"app": "web"}
    await kube_restricted.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": kube_namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }
    )
    deployment = await wait_for(
        kube_restricted,
        "apps/v1",
        "Deployment",
        "web",
        kube_namespace,
        lambda o: (
            condition(o, "Available") == "True"
            and (o or {}).get("status", {}).get("readyReplicas") == 2
        ),
    )
    assert deployment is not None
    pods, _ = await kube_restricted.list_objects(
        "v1", "Pod", kube_namespace, label_selector="app=web"
    )
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods)


async def test_namespace_deletion_terminates(kube_admin: Cluster, kube_namespace: str) -> None:
    name = f"{kube_namespace}-gone"
    await kube_admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "content", "namespace": name},
            "data": {"k": "v"},
        }
    )
    await kube_admin.delete("v1", "Namespace", name)
    # The namespace controller empties it and removes the finalizer; only then is it gone.
    assert await wait_for(kube_admin, "v1", "Namespace", name, None, lambda o: o is None) is None


async def test_owner_references_cascade(kube_admin: Cluster, kube_namespace: str) -> None:
    owner = await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "owner", "namespace": kube_namespace},
        }
    )
    await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "child",
                "namespace": kube_namespace,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "owner",
                        "uid": owner["metadata"]["uid"],
                    }
                ],
            },
        }
    )
    await kube_admin.delete("v1", "ConfigMap", "owner", kube_namespace, propagation="Background")
    gone = await wait_for(
        kube_admin, "v1", "ConfigMap", "child", kube_namespace, lambda o: o is None
    )
    assert gone is None


async def test_job_completes(kube_restricted: Cluster, kube_namespace: str) -> None:
    await kube_restricted.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": kube_namespace},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "run", "image": "busybox"}],
                    }
                }
            },
        }
    )
    job = await wait_for(
        kube_restricted,
        "batch/v1",
        "Job",
        "once",
        kube_namespace,
        lambda o: condition(o, "Complete") == "True",
    )
    assert (job or {})["status"]["succeeded"] == 1


def test_second_control_plane_side_by_side(kube_cluster: KubeCluster) -> None:
    second = ControlPlane()
    second.start()
    try:
        assert second.server != kube_cluster.server
        assert set(second.ports.values()).isdisjoint(
            kube_cluster.control_plane.ports.values() if kube_cluster.control_plane else ()
        )
        assert all(second.running().values())
        pids = [c.pid for c in second.components.values()]
    finally:
        second.stop()
    assert not second.data_dir or not second.data_dir.exists()
    for pid in pids:
        assert not _process_alive(pid), f"process {pid} outlived stop()"


def test_failed_start_shows_the_component_log() -> None:
    plane = ControlPlane(extra_args={"kube-apiserver": ["--no-such-flag=1"]})
    with pytest.raises(StartupError) as caught:
        plane.start()
    message = str(caught.value)
    assert "kube-apiserver exited during start-up" in message
    assert "no-such-flag" in message
    assert plane.data_dir is not None
    assert not plane.data_dir.exists()


def _process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
