"""The operator on the real control plane with a real Git server: an Application syncs and
records its history; a pushed commit arrives through the webhook; a change made outside Git is
reverted within a second (selfHeal) or reported OutOfSync (no selfHeal); a commit with invalid
YAML leaves the last good revision applied and prunes nothing; suspend stops all changes;
dependsOn orders Applications; deletion with prune removes exactly the Application's objects."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, git_credentials, ready_at
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


def application(name: str, namespace: str, url: str, **spec: Any) -> dict[str, Any]:
    source = {"repoURL": url, "ref": "main", "path": "deploy", "secretRef": {"name": "git"}}
    source.update(spec.pop("source", {}))
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": source,
            "destination": {"namespace": namespace},
            "interval": "10m",
            **spec,
        },
    }


def reason_is(reason: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(ready and ready["reason"] == reason)

    return check


async def test_sync_webhook_push_and_self_heal(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    first = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "Add settings")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 60)
    assert app is not None
    entry = app["status"]["history"][0]
    assert (entry["revision"], entry["subject"], entry["result"]) == (
        first,
        "Add settings",
        "Succeeded",
    )
    assert entry["created"] == 1
    assert "clew.dev/finalizer" in app["metadata"]["finalizers"]

    second = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="green")}, "Go green")
    pushed = time.monotonic()
    answer = await controller.push_hook(git_http.repo_url(git_repo.name))
    assert answer["triggered"] == 1
    await until(
        kube_admin,
        "v1",
        "ConfigMap",
        "settings",
        ns,
        lambda cm: bool(cm and cm["data"]["color"] == "green"),
        30,
    )
    assert time.monotonic() - pushed < 10
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(second), 30)

    # Someone edits a managed field by hand: self-heal puts Git's value back.
    live = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    live["data"]["color"] = "hacked"
    await kube_admin.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/settings", body=live)
    edited = time.monotonic()
    await until(
        kube_admin,
        "v1",
        "ConfigMap",
        "settings",
        ns,
        lambda cm: bool(cm and cm["data"]["color"] == "green"),
        10,
    )
    assert time.monotonic() - edited < 2


async def test_drift_reported_without_self_heal(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    sha = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "blue")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(
        application("watch", ns, git_http.repo_url(git_repo.name), selfHeal=False)
    )
    await until(kube_admin, API_VERSION, KIND, "watch", ns, ready_at(sha), 60)
    live = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    live["data"]["color"] = "red"
    await kube_admin.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/settings", body=live)
    app = await until(kube_admin, API_VERSION, KIND, "watch", ns, reason_is("OutOfSync"), 10)
    assert "ConfigMap/" in (condition(app, "Ready") or {})["message"]
    cm = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    assert cm["data"]["color"] == "red"  # reported, not reverted


async def test_invalid_yaml_keeps_last_good_revision_and_prunes_nothing(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    good = git_repo.commit(
        {"deploy/a.yaml": configmap("a", k="1"), "deploy/b.yaml": configmap("b", k="1")}, "good"
    )
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("app", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "app", ns, ready_at(good), 60)
    git_repo.commit(
        {
            "deploy/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n",
            "deploy/b.yaml": None,
        },
        "broken",
    )
    await controller.push_hook(git_http.repo_url(git_repo.name))
    app = await until(kube_admin, API_VERSION, KIND, "app", ns, reason_is("RenderFailed"), 30)
    assert app is not None
    message = (condition(app, "Ready") or {})["message"]
    assert "deploy/a.yaml:5" in message  # where the parser gave up; it names line 4 too
    assert app["status"]["lastAppliedRevision"] == good
    await kube_admin.get("v1", "ConfigMap", "b", ns)  # not pruned


async def test_suspend_stops_changes(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    sha = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "blue")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("paused", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "paused", ns, ready_at(sha), 60)
    await kube_admin.patch(API_VERSION, KIND, "paused", {"spec": {"suspend": True}}, namespace=ns)
    await until(kube_admin, API_VERSION, KIND, "paused", ns, reason_is("Suspended"), 30)
    git_repo.commit({"deploy/cm.yaml": configmap("settings", color="green")}, "green")
    await controller.push_hook(git_http.repo_url(git_repo.name))
    await until(kube_admin, API_VERSION, KIND, "paused", ns, reason_is("Suspended"), 30)
    cm = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    assert cm["data"]["color"] == "blue"


async def test_depends_on_orders_applications(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    sha = git_repo.commit(
        {"deploy/cm.yaml": configmap("base", k="1"), "app/cm.yaml": configmap("top", k="1")}, "both"
    )
    await git_credentials(kube_admin, ns, git_http)
    url = git_http.repo_url(git_repo.name)
    await kube_admin.create(
        application("top", ns, url, source={"path": "app"}, dependsOn=[{"name": "base"}])
    )
    app = await until(kube_admin, API_VERSION, KIND, "top", ns, reason_is("DependencyNotReady"), 30)
    assert "base" in (condition(app, "Ready") or {})["message"]
    with pytest.raises(NotFound):
        await kube_admin.get("v1", "ConfigMap", "top", ns)
    await kube_admin.create(application("base", ns, url))
    await until(kube_admin, API_VERSION, KIND, "base", ns, ready_at(sha), 60)
    await until(kube_admin, API_VERSION, KIND, "top", ns, ready_at(sha), 30)


async def test_delete_with_prune_removes_exactly_its_objects(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    sha = git_repo.commit({"deploy/a.yaml": configmap("mine", k="1")}, "mine")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs", "namespace": ns}}
    )
    await kube_admin.create(application("owner", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "owner", ns, ready_at(sha), 60)
    await kube_admin.delete(API_VERSION, KIND, "owner", ns)
    await until(kube_admin, API_VERSION, KIND, "owner", ns, lambda a: a is None, 30)
    with pytest.raises(NotFound):
        await kube_admin.get("v1", "ConfigMap", "mine", ns)
    await kube_admin.get("v1", "ConfigMap", "theirs", ns)
    with pytest.raises(NotFound):
        await kube_admin.get("v1", "ConfigMap", f"clew-{ns}.owner", ns)
