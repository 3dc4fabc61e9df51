"""pytest fixtures that run tests against a real Kubernetes control plane.

Registered as the ``clew`` pytest plugin, so any project that installs clew can test its
manifests the same way clew tests itself:

- ``kube_cluster`` (session): a :class:`KubeCluster` — a local control plane started once per
  session, or, with ``--clew-existing-cluster`` (or ``CLEW_EXISTING_CLUSTER=1``), the cluster of
  ``$KUBECONFIG``.
- ``kube_admin`` / ``kube_restricted``: :class:`clew.cluster.Cluster` clients, as cluster admin and
  as a ServiceAccount that priority and fairness applies to.
- ``kube_namespace``: a fresh namespace per test, deleted afterwards.
- ``kube_node_cluster`` (session): a control plane whose node is real (containerd, the kubelet,
  kube-scheduler): Pods really run. ``--clew-kubelet=real`` (or ``CLEW_KUBELET=real``) makes
  ``kube_cluster`` that cluster too; by default it keeps the fast kubelet stand-in.
- ``clew_image`` (session): clew's container image (:mod:`clew.testing.image`), built or taken
  from the cache; ``node_clew_image`` (session): that image imported into the real node.

A test that needs the cluster fails (never skips) when the binaries are missing, with the command
that builds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from clew.cluster import Cluster, NotFound
from clew.testing import node, tools
from clew.testing.controlplane import (
    RESTRICTED_NAMESPACE,
    RESTRICTED_SA,
    ControlPlane,
    StartupError,
)
from clew.testing.image import Image
from clew.testing.image import build as build_image
from clew.testing.restricted import ensure_restricted_account

pytest_plugins = ["clew.testing.git_fixtures", "clew.testing.artifact_fixtures"]


@dataclass(frozen=True)
class KubeCluster:
    """Where the test cluster is and how to reach it."""

    admin_kubeconfig: Path
    restricted_kubeconfig: Path
    server: str
    control_plane: ControlPlane | None  # None when an existing cluster is used


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("clew")
    group.addoption(
        "--clew-existing-cluster",
        action="store_true",
        default=os.environ.get("CLEW_EXISTING_CLUSTER") == "1",
        help="test against the cluster of $KUBECONFIG instead of a local control plane",
    )
    group.addoption(
        "--clew-kubelet",
        choices=("standin", "real"),
        default=os.environ.get("CLEW_KUBELET", "standin"),
        help="kube_cluster's node: the fast stand-in (default) or a real kubelet with containerd",
    )


def _existing(tmp: Path) -> KubeCluster:
    path = os.environ.get("KUBECONFIG")
    if not path:
        pytest.fail("--clew-existing-cluster needs KUBECONFIG to name a kubeconfig", pytrace=False)
    token = asyncio.run(ensure_restricted_account(Path(path), RESTRICTED_NAMESPACE, RESTRICTED_SA))
    config = yaml.safe_load(Path(path).read_text())
    current = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster_name = current["context"]["cluster"]
    cluster = next(c for c in config["clusters"] if c["name"] == cluster_name)
    restricted = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": RESTRICTED_SA, "user": {"token": token}}],
        "contexts": [
            {"name": "restricted", "context": {"cluster": cluster_name, "user": RESTRICTED_SA}}
        ],
        "current-context": "restricted",
    }
    out = tmp / "restricted.kubeconfig"
    out.write_text(yaml.safe_dump(restricted))
    out.chmod(0o600)
    return KubeCluster(Path(path), out, cluster["cluster"]["server"], None)


@pytest.fixture(scope="session")
def kube_cluster(request: pytest.FixtureRequest) -> Iterator[KubeCluster]:
    if request.config.getoption("--clew-existing-cluster"):
        with tempfile.TemporaryDirectory(prefix="clew-existing-") as tmp:
            yield _existing(Path(tmp))
        return
    if request.config.getoption("--clew-kubelet") == "real":
        yield request.getfixturevalue("kube_node_cluster")
        return
    yield from _local_cluster("standin")


def _local_cluster(kubelet: str) -> Iterator[KubeCluster]:
    plane = ControlPlane(kubelet=kubelet)
    try:
        if kubelet == "real":
            tools.build(lambda _: None, tools.REAL_NODE)
        plane.start()
    except (tools.ToolsMissing, PermissionError) as exc:
        pytest.fail(str(exc), pytrace=False)
    except StartupError as exc:
        pytest.fail(f"the local control plane did not start: {exc}", pytrace=False)
    try:
        yield KubeCluster(plane.admin_kubeconfig, plane.restricted_kubeconfig, plane.server, plane)
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_node_cluster() -> Iterator[KubeCluster]:
    """A local control plane with a real node: containerd + runc + CNI, the kubelet and
    kube-scheduler (builds them the first time). Import images with
    ``clew.testing.node.import_image(cluster.control_plane.dir, tarball)``."""
    yield from _local_cluster("real")


@pytest.fixture(scope="session")
def clew_image() -> Image:
    """clew's image, built from this checkout (minutes cold; cached by its inputs)."""
    try:
        return build_image(lambda _: None)
    except (tools.ToolsMissing, PermissionError) as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def node_clew_image(kube_node_cluster: KubeCluster, clew_image: Image) -> Image:
    """clew's image, imported into the real node's containerd (Pods use it by its name)."""
    assert kube_node_cluster.control_plane is not None
    node.import_image(kube_node_cluster.control_plane.dir, clew_image.archive)
    return clew_image


@pytest.fixture
async def kube_admin(kube_cluster: KubeCluster) -> AsyncIterator[Cluster]:
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        yield cluster


@pytest.fixture
async def kube_restricted(kube_cluster: KubeCluster) -> AsyncIterator[Cluster]:
    async with Cluster.from_kubeconfig(kube_cluster.restricted_kubeconfig) as cluster:
        yield cluster


def _namespace_name(test_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{base}-{secrets.token_hex(3)}"


@pytest.fixture
async def kube_namespace(kube_admin: Cluster, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace named after the test; deleted (not awaited) when the test ends."""
    name = _namespace_name(request.node.name)
    await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"clew.dev/test": "true"}},
        }
    )
    yield name
    with contextlib.suppress(NotFound):
        await kube_admin.delete("v1", "Namespace", name)
