"""clew installed in the cluster, on the real node: `clew install --export | kubectl apply
--server-side -f -` gives an Available Deployment running clew's image (built by
clew.testing.image, imported from its tarball), whose controller reaches the API server through
the `kubernetes` Service address and leads; an Application whose repository is on the test Git
server, reached through the node's network, becomes Ready with its objects applied."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.spec import API_VERSION, KIND
from clew.testing import node
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.image import Image
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # cold builds take minutes

NAMESPACE = "clew-system"
TENANT = "incluster-shop"


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


def _status_true(kind: str) -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        found = condition(obj, kind)
        return bool(found and found.get("status") == "True")

    return check


@pytest.fixture(scope="module")
def install(kube_node_cluster: KubeCluster, node_clew_image: Image) -> Iterator[None]:
    """clew installed once for this module's tests; uninstalled at the end."""
    # One replica: with two, the standby's /readyz answers 503 until it leads (issue 9), so the
    # Deployment would never be Available.
    clew = str(Path(sys.executable).parent / "clew")
    argv = [clew, "install", "--export", "--replicas", "1", "--image", node_clew_image.name]
    export = subprocess.run(argv, capture_output=True, text=True, check=True)
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
    assert deployment["status"]["readyReplicas"] == 1
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
