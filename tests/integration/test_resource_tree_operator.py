"""The resource tree on the real control plane with a real controller (issue 11 part 4):
``status.resources`` lists each managed object with its health and sync state, and drift
without self-heal marks an entry Drifted; ``clew tree app`` draws a Deployment's ReplicaSet and
Pods (run by the controller-manager and the kubelet stand-in) from one LIST per kind and
namespace; an Application with more objects than the limit keeps the total and says it
truncated; an object gone from Git with prune off is PrunePending; the per-Application metrics
are exported."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from clew.cli import apps
from clew.cluster import Cluster
from clew.controller.api.rules import RESOURCES_MAX
from clew.controller.api.spec import API_VERSION, KIND
from clew.model import ObjectRef
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, git_credentials, ready_at
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until
from clew.wait import read_tree

pytestmark = pytest.mark.integration

WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}
SETTINGS = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings"},
    "data": {"color": "blue"},
}
OLD = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old"}, "data": {"a": "b"}}


def application(name: str, namespace: str, url: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {
                "repoURL": url,
                "ref": "main",
                "path": "deploy",
                "secretRef": {"name": "git"},
            },
            "destination": {"namespace": namespace},
            "interval": "10m",
            **spec,
        },
    }


async def clew_tree(kube_cluster: KubeCluster, *args: str) -> str:
    """``clew tree app …`` in-process, registered on a root app as main.py does."""
    root = typer.Typer()
    root.command("version")(lambda: None)
    apps.register(root)
    argv = ["tree", "app", *args, "--kubeconfig", str(kube_cluster.admin_kubeconfig)]
    # The CLI runs its own event loop (asyncio.run), so it gets a thread of its own.
    result = await asyncio.to_thread(CliRunner().invoke, root, argv)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.timeout(120)
async def test_status_resources_tree_drift_and_metrics(
    controller: RunningController,
    kube_admin: Cluster,
    kube_cluster: KubeCluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns, repo = kube_namespace, git_repo
    files = {"deploy/web.yaml": yaml.safe_dump(WEB), "deploy/cm.yaml": yaml.safe_dump(SETTINGS)}
    revision = repo.commit(files, "web and settings")
    url = git_http.repo_url(repo.name)
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, url, selfHeal=False))
    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(revision), 90)
    assert app is not None
    status = app["status"]
    entries = {(e["kind"], e["name"]): e for e in status["resources"]}
    assert set(entries) == {("Deployment", "web"), ("ConfigMap", "settings")}
    web = entries["Deployment", "web"]
    assert (web["group"], web["version"], web["namespace"]) == ("apps", "v1", ns)
    assert (web["health"], web["sync"]) == ("Current", "Synced")  # Ready waited for health
    assert entries["ConfigMap", "settings"]["health"] == "Current"
    assert (status["resourcesTotal"], status["resourcesTruncated"]) == (2, False)
    assert status["healthCounts"]["current"] == 2

    # The tree: the Deployment's ReplicaSet and its two Pods, as the cluster really has them
    # (the Deployment was Current before Ready, so its Pods are ready).
    pods, _ = await kube_admin.list_objects("v1", "Pod", ns, label_selector="app=web")
    assert len(pods) == 2
    replicasets, _ = await kube_admin.list_objects("apps/v1", "ReplicaSet", ns)
    members = [
        (ObjectRef("apps", "Deployment", ns, "web"), "apps/v1"),
        (ObjectRef("", "ConfigMap", ns, "settings"), "v1"),
    ]
    before = kube_admin.calls["list"]
    nodes = await read_tree(kube_admin, members)
    # One LIST per member kind and per child kind (ReplicaSet, Pod) in the namespace.
    assert kube_admin.calls["list"] - before == 4
    [cm, deployment] = nodes
    assert (cm.kind, deployment.kind) == ("ConfigMap", "Deployment")
    [rs] = deployment.children
    assert rs.name == replicasets[0]["metadata"]["name"]
    assert sorted(p.name for p in rs.children) == sorted(p["metadata"]["name"] for p in pods)
    assert {p.health for p in rs.children} == {"Current"}

    shown = json.loads(await clew_tree(kube_cluster, "shop", "-n", ns, "-o", "json"))
    [cm_json, deployment_json] = shown["objects"]
    assert (deployment_json["sync"], cm_json["sync"]) == ("Synced", "Synced")
    assert [c["kind"] for c in deployment_json["children"][0]["children"]] == ["Pod", "Pod"]
    drawn = await clew_tree(kube_cluster, "shop", "-n", ns)
    assert "Deployment/web" in drawn
    assert f"└── ReplicaSet/{rs.name}" in drawn
    assert sum("── Pod/" in line for line in drawn.splitlines()) == 2

    # Drift without self-heal: the entry says Drifted, through the one status writer.
    await kube_admin.patch("v1", "ConfigMap", "settings", {"data": {"color": "red"}}, namespace=ns)

    def drifted(app: dict[str, Any] | None) -> bool:
        listed = ((app or {}).get("status") or {}).get("resources") or []
        return any(e["name"] == "settings" and e["sync"] == "Drifted" for e in listed)

    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, drifted, 30)
    assert app is not None
    web_entry = next(e for e in app["status"]["resources"] if e["kind"] == "Deployment")
    assert web_entry["sync"] == "Synced"

    text = controller.controller.metrics.exposition()[0].decode()
    labels = f'name="shop",namespace="{ns}"'
    assert f'clew_application_objects{{health="Current",{labels}}} 2.0' in text
    assert f'clew_application_objects{{health="Failed",{labels}}} 0.0' in text
    assert f"clew_application_objects_out_of_sync{{{labels}}} 0.0" in text
    assert f"clew_application_last_sync_timestamp_seconds{{{labels}}}" in text


@pytest.mark.timeout(240)
async def test_more_objects_than_the_limit_keep_the_total(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns, repo, count = kube_namespace, git_repo, RESOURCES_MAX + 5
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i:04}"}}
        for i in range(count)
    ]
    revision = repo.commit({"deploy/many.yaml": yaml.safe_dump_all(docs)}, "many")
    url = git_http.repo_url(repo.name)
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("many", ns, url, timeout="3m"))
    app = await until(kube_admin, API_VERSION, KIND, "many", ns, ready_at(revision), 200)
    assert app is not None
    status = app["status"]
    assert (status["resourcesTotal"], status["resourcesTruncated"]) == (count, True)
    assert len(status["resources"]) == RESOURCES_MAX
    assert status["inventory"]["entries"] == count
    names = [e["name"] for e in status["resources"]]
    assert names == sorted(names)


@pytest.mark.timeout(120)
async def test_an_object_gone_from_git_with_prune_off_is_prune_pending(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns, repo = kube_namespace, git_repo
    first = repo.commit(
        {"deploy/cm.yaml": yaml.safe_dump(SETTINGS), "deploy/old.yaml": yaml.safe_dump(OLD)}, "two"
    )
    await git_credentials(kube_admin, ns, git_http)
    url = git_http.repo_url(repo.name)
    await kube_admin.create(application("shop", ns, url, prune=False))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 60)
    second = repo.commit({"deploy/old.yaml": None}, "drop old")
    await kube_admin.patch(
        API_VERSION,
        KIND,
        "shop",
        {"metadata": {"annotations": {"clew.dev/reconcile-requested-at": second}}},
        namespace=ns,
    )
    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(second), 60)
    assert app is not None
    entries = {e["name"]: e for e in app["status"]["resources"]}
    assert (entries["old"]["sync"], entries["old"]["version"]) == ("PrunePending", "v1")
    assert entries["old"]["message"] == "not in Git any more; prune is off"
    assert entries["settings"]["sync"] == "Synced"
    assert await kube_admin.get("v1", "ConfigMap", "old", ns)  # still live
