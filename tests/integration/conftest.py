"""Fixtures for the operator's tests: the Application CRD installed once, and a running
controller (in this process, on a free port) with a generic webhook secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clew.cluster import Cluster
from clew.testing.operator import RunningController, install_crd, start_controller, stop_controller
from clew.testing.pytest_plugin import KubeCluster


@pytest.fixture
async def crd(kube_admin: Cluster, kube_cluster: KubeCluster) -> None:
    await install_crd(kube_admin, kube_cluster.server)


@pytest.fixture
async def controller(
    crd: None, kube_cluster: KubeCluster, tmp_path: Path
) -> AsyncIterator[RunningController]:
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        running = await start_controller(cluster, tmp_path / "cache")
        try:
            yield running
        finally:
            await stop_controller(running)
