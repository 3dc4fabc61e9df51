"""Fixtures for the operator's tests: the Application CRD installed once, and a running
controller (in this process, on a free port) with a generic webhook secret; for the web UI's
tests, a UI server and a headless Chromium."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from clew.cluster import Cluster
from clew.testing.browser import Browser, BrowserMissing, chromium
from clew.testing.operator import RunningController, install_crd, start_controller, stop_controller
from clew.testing.pytest_plugin import KubeCluster
from clew.ui import UiServer, build, serve


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


# -- the web UI (test_ui_*.py): a UI server as the admin, and a headless Chromium ----------


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = os.environ.get("CLEW_TEST_ARTIFACTS")
    path = (Path(root) if root else tmp_path) / "ui"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def ui(crd: None, kube_cluster: KubeCluster) -> AsyncIterator[UiServer]:
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        server = await serve(build(cluster))
        try:
            yield server
        finally:
            await server.stop()


@pytest.fixture
def driver() -> Iterator[Any]:
    try:
        handle = chromium()
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield handle
    finally:
        handle.quit()


@pytest.fixture
def browser(ui: UiServer, driver: Any) -> Browser:
    # The driver is set up after the server, so it quits first and closes its event streams.
    return Browser(driver, f"http://127.0.0.1:{ui.port}")
