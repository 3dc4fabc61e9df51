"""The real node (containerd + runc + the CNI bridge, the kubelet and kube-scheduler built from the
pinned module): a Pod of clew's image, imported from its tarball, is scheduled and really starts
as UID 65532 on a read-only root; its HTTP readiness probe really runs against the Pod's IP and
holds it unready until the file it asks for exists (made through ``kubectl exec``); its logs are
readable through the API server; deleting it stops the container and removes it from containerd."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clew import __version__
from clew.cluster import Cluster, NotFound
from clew.testing import node
from clew.testing.image import Image
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # cold builds take minutes

# Serves /tmp: /ready answers 404 until the file exists.
SERVE = "clew version && id && exec python3 -m http.server 8080 --directory /tmp"


@pytest.fixture
async def node_admin(kube_node_cluster: KubeCluster) -> AsyncIterator[Cluster]:
    async with Cluster.from_kubeconfig(kube_node_cluster.admin_kubeconfig) as cluster:
        yield cluster


def kubectl(cluster: KubeCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "kubectl"),
            "--kubeconfig",
            str(cluster.admin_kubeconfig),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pod(name: str, namespace: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "terminationGracePeriodSeconds": 1,  # http.server as PID 1 ignores SIGTERM
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "clew",
                    "image": image,
                    "imagePullPolicy": "Never",  # nothing is pulled: the tarball was imported
                    "command": ["/bin/sh", "-c", SERVE],
                    "readinessProbe": {
                        "httpGet": {"path": "/ready", "port": 8080},
                        "periodSeconds": 1,
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def _status(obj: dict[str, Any] | None) -> dict[str, Any]:
    statuses = (obj or {}).get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def _serving(obj: dict[str, Any] | None) -> bool:
    return bool(_status(obj).get("started")) and bool((obj or {}).get("status", {}).get("podIP"))


def _ready(obj: dict[str, Any] | None) -> bool:
    return bool(_status(obj).get("ready"))


async def unhealthy(cluster: Cluster, namespace: str) -> str:
    """The message of the first ``Unhealthy`` Event in ``namespace``, once the kubelet posts one."""
    selector = "reason=Unhealthy"
    events, version = await cluster.list_objects("v1", "Event", namespace, field_selector=selector)
    while not events:
        changes = cluster.watch(
            "v1", "Event", namespace, resource_version=version, field_selector=selector
        )
        async with contextlib.aclosing(changes):  # closed at once on break, not by the GC
            async for change in changes:
                if change.type in ("ADDED", "MODIFIED"):
                    events = [change.object]
                    break
                version = change.object.get("metadata", {}).get("resourceVersion", version)
    return str(events[0].get("message", ""))


async def test_a_pod_of_the_clew_image_runs_is_probed_logs_and_goes(
    kube_node_cluster: KubeCluster, node_admin: Cluster, node_clew_image: Image
) -> None:
    namespace = "real-node-test"
    await node_admin.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )
    await node_admin.create(pod("clew", namespace, node_clew_image.name))

    running = await until(node_admin, "v1", "Pod", "clew", namespace, _serving, seconds=120)
    assert running is not None
    assert running["spec"]["nodeName"] == "clew-node"  # bound by the real kube-scheduler
    assert running["status"]["podIP"].startswith("10.244.")  # an address from the CNI bridge
    # The probe runs and fails (404) until the file exists: nothing else makes the Pod ready.
    # Wait for the kubelet's Event before making the file, or the first probe may already pass.
    failed = await asyncio.wait_for(unhealthy(node_admin, namespace), 60)
    assert "Readiness probe failed" in failed
    unready = await node_admin.get("v1", "Pod", "clew", namespace)
    assert not _ready(unready)

    touched = kubectl(
        kube_node_cluster, "exec", "-n", namespace, "clew", "--", "touch", "/tmp/ready"
    )
    assert touched.returncode == 0, touched.stderr
    await until(node_admin, "v1", "Pod", "clew", namespace, _ready, seconds=30)

    logs = kubectl(kube_node_cluster, "logs", "-n", namespace, "clew")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.splitlines()[0] == __version__
    assert "uid=65532(nonroot)" in logs.stdout
    writable = kubectl(kube_node_cluster, "exec", "-n", namespace, "clew", "--", "touch", "/x")
    assert "Read-only file system" in writable.stderr

    assert kube_node_cluster.control_plane is not None
    data_dir = kube_node_cluster.control_plane.dir
    current = await node_admin.get("v1", "Pod", "clew", namespace)
    container = _status(current)["containerID"].removeprefix("containerd://")
    assert container in node.ctr(data_dir, "tasks", "ls").stdout
    await node_admin.delete("v1", "Pod", "clew", namespace)
    await until(node_admin, "v1", "Pod", "clew", namespace, lambda obj: obj is None, seconds=60)
    assert container not in node.ctr(data_dir, "tasks", "ls").stdout
    with contextlib.suppress(NotFound):
        await node_admin.delete("v1", "Namespace", namespace)
