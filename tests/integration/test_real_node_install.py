"""clew installed in the cluster, on the real node: `clew install --export | kubectl apply
--server-side -f -` gives an Available Deployment running clew's image (built by
clew.testing.image, imported from its tarball), whose controller reaches the API server through
the `kubernetes` Service address and leads; an Application whose repository is on the test Git
server, reached through the node's network, becomes Ready with its objects applied; a rolling
update to a rebuilt image completes; deleting the leading Pod moves leadership to its successor
within 15 s; `kubectl drain` evicts no more than the PodDisruptionBudget allows; and installed
into another namespace, the controller leads with its Lease there.

These need the in-cluster fixes of issue 9 (readiness independent of leadership, the Lease in
POD_NAMESPACE, the apply role bound only with --cluster-admin)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing import image, node
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.image import Image
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # cold builds take minutes

NAMESPACE = "clew-system"
TENANT = "incluster-shop"
REBUILT = "ghcr.io/clew-dev/clew:rebuilt"  # the same build under another name: a new rollout


def _kubectl(cluster: KubeCluster, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    kubectl = str(Path(sys.executable).parent / "kubectl")
    return subprocess.run(
        [kubectl, "--kubeconfig", str(cluster.admin_kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _export(image_name: str, namespace: str, replicas: int) -> subprocess.CompletedProcess[str]:
    clew = str(Path(sys.executable).parent / "clew")
    argv = [clew, "install", "--export", "-n", namespace, "--replicas", str(replicas)]
    argv += ["--cluster-admin", "--image", image_name]
    return subprocess.run(argv, capture_output=True, text=True, check=True)


def _status_true(kind: str) -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        found = condition(obj, kind)
        return bool(found and found.get("status") == "True")

    return check


@pytest.fixture(scope="module")
def install(kube_node_cluster: KubeCluster, node_clew_image: Image) -> Iterator[None]:
    """clew installed once (two replicas, a budget) for this module's tests; removed at the end."""
    export = _export(node_clew_image.name, NAMESPACE, replicas=2)
    applied = _kubectl(kube_node_cluster, "apply", "--server-side", "-f", "-", stdin=export.stdout)
    assert applied.returncode == 0, applied.stderr
    yield
    _kubectl(kube_node_cluster, "delete", "--ignore-not-found", "-f", "-", stdin=export.stdout)


@pytest.fixture
async def installed(install: None, kube_node_cluster: KubeCluster) -> AsyncIterator[Cluster]:
    async with Cluster.from_kubeconfig(kube_node_cluster.admin_kubeconfig) as cluster:
        yield cluster


async def test_installed_controller_syncs_an_application_from_git(
    kube_node_cluster: KubeCluster, installed: Cluster, git_http: GitHttpServer, git_repo: Repo
) -> None:
    deployment = await until(
        installed, "apps/v1", "Deployment", "clew-controller", NAMESPACE,
        _status_true("Available"), seconds=180,
    )  # fmt: skip
    assert deployment is not None
    assert deployment["status"]["readyReplicas"] == 2
    lease = await until(
        installed, "coordination.k8s.io/v1", "Lease", "clew-controller", NAMESPACE,
        lambda obj: bool(obj and obj["spec"].get("holderIdentity")), seconds=60,
    )  # fmt: skip
    assert lease is not None
    assert lease["spec"]["holderIdentity"].startswith("clew-controller-")  # a Pod leads

    revision = git_repo.commit(
        {
            "deploy/cm.yaml": yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "settings"},
                    "data": {"color": "blue"},
                }
            )
        },
        "Add settings",
    )
    assert kube_node_cluster.control_plane is not None
    # The Pod reaches the Git server (on the host's loopback) at the node's IP.
    url = git_http.repo_url(git_repo.name).replace(
        "127.0.0.1", node.node_ip(kube_node_cluster.control_plane.dir)
    )
    await installed.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TENANT}})
    secret = {
        "username": base64.b64encode(HTTP_USER.encode()).decode(),
        "password": base64.b64encode(git_http.users[HTTP_USER].encode()).decode(),
    }
    await installed.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git", "namespace": TENANT},
         "data": secret}
    )  # fmt: skip
    source = {"repoURL": url, "ref": "main", "path": "deploy", "secretRef": {"name": "git"}}
    application = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "shop", "namespace": TENANT},
        "spec": {"source": source, "destination": {"namespace": TENANT}, "interval": "10m"},
    }
    await installed.create(application)
    try:
        app = await until(
            installed, API_VERSION, KIND, "shop", TENANT,
            lambda obj: _status_true("Ready")(obj)
            and obj is not None and obj["status"].get("lastAppliedRevision") == revision,
            seconds=120,
        )  # fmt: skip
        assert app is not None
        configmap = await installed.get("v1", "ConfigMap", "settings", TENANT)
        assert configmap["data"] == {"color": "blue"}
    finally:
        # While the controller still runs: it removes its finalizer, then the namespace can go.
        await installed.delete(API_VERSION, KIND, "shop", TENANT)
        await until(installed, API_VERSION, KIND, "shop", TENANT, lambda o: o is None, seconds=60)
        await installed.delete("v1", "Namespace", TENANT)


async def test_rolls_to_a_rebuilt_image_and_leadership_moves(
    kube_node_cluster: KubeCluster, installed: Cluster
) -> None:
    await until(
        installed, "apps/v1", "Deployment", "clew-controller", NAMESPACE,
        _status_true("Available"), seconds=180,
    )  # fmt: skip
    await _rolls_to_a_rebuilt_image(kube_node_cluster, installed)
    await _leadership_moves(installed)


async def _rolls_to_a_rebuilt_image(cluster: KubeCluster, installed: Cluster) -> None:
    # Surge: the new Pod must become ready while the old one still leads.
    rebuilt = await asyncio.to_thread(image.build, lambda _: None, REBUILT)
    assert cluster.control_plane is not None
    await asyncio.to_thread(node.import_image, cluster.control_plane.dir, rebuilt.archive)
    deployment = await installed.get("apps/v1", "Deployment", "clew-controller", NAMESPACE)
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = REBUILT
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/clew-controller"
    await installed.request("PUT", path, body=deployment)

    def rolled_out(obj: dict[str, Any] | None) -> bool:
        if obj is None or obj["status"].get("observedGeneration") != obj["metadata"]["generation"]:
            return False
        status = obj["status"]
        return (
            status.get("updatedReplicas") == status.get("replicas") == 2
            and status.get("availableReplicas") == 2
            and _status_true("Available")(obj)
        )

    await until(
        installed, "apps/v1", "Deployment", "clew-controller", NAMESPACE, rolled_out, seconds=180
    )
    pods, _ = await installed.list_objects("v1", "Pod", NAMESPACE)
    serving = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
    assert {p["spec"]["containers"][0]["image"] for p in serving} == {REBUILT}


def _held_by(identity: str, pod: str) -> bool:
    # The identity is the Pod's name, or that name and a random suffix.
    return identity == pod or identity.startswith((f"{pod}-", f"{pod}_"))


async def _leadership_moves(installed: Cluster) -> None:
    pods, _ = await installed.list_objects("v1", "Pod", NAMESPACE)
    serving = [p["metadata"]["name"] for p in pods if "deletionTimestamp" not in p["metadata"]]

    def held_by_serving(obj: dict[str, Any] | None) -> bool:
        holder = (obj or {}).get("spec", {}).get("holderIdentity") or ""
        return any(_held_by(holder, pod) for pod in serving)

    lease = await until(
        installed, "coordination.k8s.io/v1", "Lease", "clew-controller", NAMESPACE,
        held_by_serving, seconds=60,
    )  # fmt: skip
    assert lease is not None
    leader = lease["spec"]["holderIdentity"]
    pod_name = next(pod for pod in serving if _held_by(leader, pod))
    deleted = time.monotonic()
    await installed.delete("v1", "Pod", pod_name, NAMESPACE)
    moved = await until(
        installed, "coordination.k8s.io/v1", "Lease", "clew-controller", NAMESPACE,
        lambda obj: bool(obj and obj["spec"].get("holderIdentity") not in (None, "", leader)),
        seconds=60,
    )  # fmt: skip
    assert moved is not None
    assert not _held_by(moved["spec"]["holderIdentity"], pod_name)  # its successor leads
    assert time.monotonic() - deleted < 15


async def test_drain_keeps_the_budget(kube_node_cluster: KubeCluster, installed: Cluster) -> None:
    def two_available(obj: dict[str, Any] | None) -> bool:
        return bool(obj and obj["status"].get("availableReplicas") == 2)

    await until(
        installed, "apps/v1", "Deployment", "clew-controller", NAMESPACE, two_available, 180
    )
    # One node: the first eviction is allowed, its replacement cannot schedule (the node is
    # cordoned), so the budget (minAvailable 1) refuses the second and the drain gives up.
    drained = await asyncio.to_thread(
        _kubectl, kube_node_cluster, "drain", "clew-node", "--ignore-daemonsets",
        "--delete-emptydir-data", "--pod-selector=app.kubernetes.io/name=clew", "--timeout=20s",
    )  # fmt: skip
    try:
        assert drained.returncode != 0
        assert "disruption budget" in drained.stderr
        deployment = await installed.get("apps/v1", "Deployment", "clew-controller", NAMESPACE)
        assert deployment["status"].get("availableReplicas") == 1
    finally:
        await asyncio.to_thread(_kubectl, kube_node_cluster, "uncordon", "clew-node")
    await until(
        installed, "apps/v1", "Deployment", "clew-controller", NAMESPACE, two_available, 180
    )


async def test_install_in_another_namespace(
    kube_node_cluster: KubeCluster, installed: Cluster, node_clew_image: Image
) -> None:
    first = _export(node_clew_image.name, NAMESPACE, replicas=2)
    removed = await asyncio.to_thread(
        _kubectl, kube_node_cluster, "delete", "--ignore-not-found", "-f", "-", stdin=first.stdout
    )
    assert removed.returncode == 0, removed.stderr
    other = _export(node_clew_image.name, "gitops", replicas=2)
    applied = await asyncio.to_thread(
        _kubectl, kube_node_cluster, "apply", "--server-side", "-f", "-", stdin=other.stdout
    )
    assert applied.returncode == 0, applied.stderr
    try:
        await until(
            installed, "apps/v1", "Deployment", "clew-controller", "gitops",
            _status_true("Available"), seconds=180,
        )  # fmt: skip
        lease = await until(
            installed, "coordination.k8s.io/v1", "Lease", "clew-controller", "gitops",
            lambda obj: bool(obj and obj["spec"].get("holderIdentity")), seconds=60,
        )  # fmt: skip
        assert lease is not None
    finally:
        await asyncio.to_thread(
            _kubectl, kube_node_cluster, "delete", "--ignore-not-found", "-f", "-",
            stdin=other.stdout,
        )  # fmt: skip
