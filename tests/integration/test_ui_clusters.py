"""The web UI's clusters page in a real browser (Chromium through chromium-driver), against the
local control plane and a real controller. Two kubeconfig Secrets name destination clusters: one
reachable (the test plane's own API server, through its admin kubeconfig), one whose server
refuses connections. It proves: the Applications list shows each Application's cluster (the
Secret, or in-cluster) and the nav links to Clusters; the clusters page lists both with server
(no credentials anywhere in the page), health and reason (Reachable; Unreachable with the
controller's message), the Applications using each, and a last contact for the one that synced;
a signed-in user without RBAC in the namespace sees no cluster and no Clusters link; axe-core
finds no serious or critical violation. The screenshot is ``$CLEW_TEST_ARTIFACTS/ui/clusters.png``
(docs/img/ui-clusters.png).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.browser import Browser
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, git_credentials, ready_at
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until
from clew.ui import UiServer

from .test_operator import application, configmap, reason_is
from .test_ui_browser import account_token, assert_accessible, grant_operator, sign_in

pytestmark = pytest.mark.integration

TOKEN = "never-shown-token-0123456789"


def kubeconfig_secret(name: str, text: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {"value": base64.b64encode(text.encode()).decode()},
    }


def remote(name: str, ns: str, url: str, secret: str) -> dict[str, Any]:
    app = application(name, ns, url, source={"path": name})
    app["spec"]["destination"]["kubeConfig"] = {"secretRef": {"name": secret}}
    return app


async def test_clusters_page_lists_destinations_with_health_for_whoever_may_see_them(
    controller: RunningController,
    ui: UiServer,
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    browser: Browser,
    artifacts: Path,
) -> None:
    ns = kube_namespace
    url = git_http.repo_url(git_repo.name)
    files = {f"{n}/cm.yaml": configmap(f"cm-{n}", color="blue") for n in ("local", "web", "api")}
    first = git_repo.commit(files, "three apps")
    await git_credentials(kube_admin, ns, git_http)
    admin_text = kube_cluster.admin_kubeconfig.read_text()
    down = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://deployer:pw@127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    await kube_admin.create(kubeconfig_secret("plane", admin_text), namespace=ns)
    await kube_admin.create(kubeconfig_secret("gone", yaml.safe_dump(down)), namespace=ns)
    local = application("local", ns, url, source={"path": "local"})
    for app in (local, remote("web", ns, url, "plane"), remote("api", ns, url, "gone")):
        await kube_admin.create(app)
    await until(kube_admin, API_VERSION, KIND, "web", ns, ready_at(first), 90)
    await until(kube_admin, API_VERSION, KIND, "local", ns, ready_at(first), 90)
    await until(kube_admin, API_VERSION, KIND, "api", ns, reason_is("ClusterUnreachable"), 60)
    secrets = [yaml.safe_load(admin_text)["users"][0]["user"], {"token": TOKEN}]
    server = yaml.safe_load(admin_text)["clusters"][0]["cluster"]["server"].rstrip("/")

    # A user with the namespace's admin role: the list has a cluster column and a nav link.
    await grant_operator(kube_admin, ns, "alice")
    await sign_in(browser, await account_token(kube_admin, ns, "alice"))
    await browser.get(f"/?namespace={ns}")
    assert "plane" in await browser.wait_text(f"[id='app-{ns}.web']", first[:12])
    assert "in-cluster" in await browser.text(f"[id='app-{ns}.local']")
    assert "gone" in await browser.text(f"[id='app-{ns}.api']")
    await browser.click("#nav-clusters")

    table = await browser.wait_text("#clusters", "Unreachable")
    up = await browser.text(f"[id='cluster-{ns}.plane']")
    assert "Reachable" in up
    assert server in up
    assert "web" in up
    assert "never" not in up.split("Reachable", 1)[1]  # it synced: a last contact
    dead = await browser.text(f"[id='cluster-{ns}.gone']")
    assert "https://127.0.0.1:1" in dead  # the server without deployer:pw@
    assert "is unreachable" in dead
    assert "api" in dead
    assert "local" not in table  # the controller's own cluster is not a destination Secret
    page = await browser.js("return document.documentElement.outerHTML")
    for user in secrets:
        for value in user.values():
            assert str(value)[:40] not in page
    assert "deployer:pw" not in page
    await browser.screenshot(artifacts / "clusters.png")
    await assert_accessible(browser, "the clusters page")
    assert json.dumps(secrets)  # (the values above are what a leak would show)

    # The page of an Application on another cluster shows its objects from status.resources.
    await browser.get(f"/apps/{ns}/web")
    assert "another cluster" in await browser.wait_text("#tree-note", "status.resources")
    assert "cm-web" in await browser.text("section[aria-labelledby='tree-h']")

    # A signed-in user without RBAC in the namespace: no cluster, no link.
    await sign_in(browser, await account_token(kube_admin, ns, "nobody"))
    await browser.get("/clusters")
    assert "No Application you may see names another cluster" in await browser.text("#main")
    assert not await browser.js("return document.getElementById('nav-clusters') !== null")
