"""Delete hooks through the operator, on the real control plane with a real Git server and helm:
the issue's reproduction (a chart whose only hook is a pre-delete ConfigMap) creates nothing on
sync; deleting the Application runs that hook exactly once, before prune, and a post-delete hook
after prune; a failing post-delete Job is retried without re-running the pre-delete hook. A
pre-delete Job that fails stops the deletion: nothing is pruned, the Application
stays with Ready=False, reason HookFailed, naming the hook; a failing pre-install Job is the
Application's Ready reason too, and nothing is applied after it.

When the namespace itself is deleted, the delete hooks are skipped rather than holding it forever.

Order is observed from one watch of the namespace's ConfigMaps (one stream, in etcd order)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clew.cluster import Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing import tools
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import (
    RunningController,
    git_credentials,
    ready_at,
    start_controller,
    stop_controller,
)
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

CHARTS = Path(__file__).parent / "charts"
KEPT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\ndata: {k: v}\n"
POST_DELETE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: farewell\n"
    "  annotations:\n    helm.sh/hook: post-delete\n"
)
FAILING_JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: drain
  annotations:
    helm.sh/hook: pre-delete
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        kubelet.clew.dev/phase: Failed
    spec:
      restartPolicy: Never
      containers:
        - name: drain
          image: busybox
"""


@pytest.fixture
async def helm_controller(
    crd: None, kube_cluster: KubeCluster, tmp_path: Path
) -> AsyncIterator[RunningController]:
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        helm = str(tools.binary("helm"))
        running = await start_controller(cluster, tmp_path / "cache", helm_binary=helm)
        try:
            yield running
        finally:
            await stop_controller(running)


def chart_files(**templates: str) -> dict[str, str]:
    """The reproduction chart (tests/integration/charts/uninstall-only) under deploy/, plus
    ``templates``."""
    base = CHARTS / "uninstall-only"
    files = {f"deploy/{p.relative_to(base)}": p.read_text() for p in base.rglob("*") if p.is_file()}
    files.update({f"deploy/templates/{name}.yaml": text for name, text in templates.items()})
    return files


def application(name: str, namespace: str, url: str) -> dict[str, Any]:
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
            "prune": True,
            "timeout": "60s",
        },
    }


@contextlib.asynccontextmanager
async def configmap_events(
    cluster: Cluster, namespace: str, api_version: str = "v1", kind: str = "ConfigMap"
) -> AsyncIterator[list[tuple[str, str]]]:
    """(event type, name) of every change to ``kind`` in ``namespace`` while inside, in order."""
    events: list[tuple[str, str]] = []
    _, version = await cluster.list_objects(api_version, kind, namespace)

    async def watch() -> None:
        async for event in cluster.watch(api_version, kind, namespace, resource_version=version):
            if event.type != "BOOKMARK":
                events.append((event.type, event.object["metadata"]["name"]))

    task = asyncio.create_task(watch())
    try:
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def seen(events: list[tuple[str, str]], event: tuple[str, str], times: int) -> None:
    """Until the watch has delivered ``event`` ``times`` times: a GET can see an object before
    the watch stream reports it."""
    deadline = asyncio.get_running_loop().time() + 30
    while events.count(event) < times:
        assert asyncio.get_running_loop().time() < deadline, events
        await asyncio.sleep(0.05)


async def exists(cluster: Cluster, name: str, namespace: str) -> bool:
    try:
        await cluster.get("v1", "ConfigMap", name, namespace)
    except NotFound:
        return False
    return True


async def test_pre_delete_runs_once_before_prune_and_post_delete_after(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    sha = git_repo.commit(chart_files(kept=KEPT, farewell=POST_DELETE), "chart with delete hooks")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)
    assert await exists(kube_admin, "kept", ns)
    assert not await exists(kube_admin, "goodbye", ns)  # the reproduction: nothing on sync
    assert not await exists(kube_admin, "farewell", ns)

    async with configmap_events(kube_admin, ns) as events:
        await kube_admin.delete(API_VERSION, KIND, "shop", ns)
        await until(kube_admin, API_VERSION, KIND, "shop", ns, lambda a: a is None, 60)
        await until(kube_admin, "v1", "ConfigMap", "farewell", ns, lambda c: c is not None, 10)
    assert events.count(("ADDED", "goodbye")) == 1
    order = [
        e for e in events if e in {("ADDED", "goodbye"), ("DELETED", "kept"), ("ADDED", "farewell")}
    ]
    assert order == [("ADDED", "goodbye"), ("DELETED", "kept"), ("ADDED", "farewell")]
    assert not await exists(kube_admin, f"clew-{ns}.shop", ns)  # the inventory went too


async def test_a_failing_pre_delete_hook_stops_the_deletion(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    sha = git_repo.commit(chart_files(kept=KEPT, drain=FAILING_JOB), "a pre-delete Job that fails")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)
    await kube_admin.delete(API_VERSION, KIND, "shop", ns)

    def hook_failed(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(ready and ready["reason"] == "HookFailed")

    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, hook_failed, 60)
    message = (condition(app, "Ready") or {})["message"]
    assert f"pre-delete hook Job/{ns}/drain failed: Job failed" in message
    assert await exists(kube_admin, "kept", ns)  # prune did not run
    # Let the Application go without its finalizer, so the namespace can be deleted.
    await kube_admin.patch(
        API_VERSION, KIND, "shop", {"metadata": {"finalizers": None}}, namespace=ns
    )
    await until(kube_admin, API_VERSION, KIND, "shop", ns, lambda a: a is None, 30)


async def test_deleting_the_namespace_does_not_wait_for_delete_hooks(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    # The hook could not be created in a namespace being deleted, nor the credentials read:
    # the finalizer prunes without it instead of holding the namespace forever.
    ns = kube_namespace
    sha = git_repo.commit(chart_files(kept=KEPT), "a pre-delete hook")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)
    # Hold the inventory (and its record of delete hooks) while the namespace goes, so the
    # finalizer surely finds it, whatever order the namespace controller deletes things in.
    inventory = f"clew-{ns}.shop"
    hold = {"metadata": {"finalizers": ["clew.dev/test-hold"]}}
    await kube_admin.patch("v1", "ConfigMap", inventory, hold, namespace=ns)
    await kube_admin.delete("v1", "Namespace", ns)
    try:
        await until(kube_admin, API_VERSION, KIND, "shop", ns, lambda a: a is None, 60)
        assert not await exists(kube_admin, "goodbye", ns)
    finally:
        release = {"metadata": {"finalizers": None}}
        await kube_admin.patch("v1", "ConfigMap", inventory, release, namespace=ns)


async def test_a_failing_sync_hook_is_the_application_s_ready_reason(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    migrate = FAILING_JOB.replace("name: drain", "name: migrate").replace(
        "pre-delete", "pre-install"
    )
    git_repo.commit(chart_files(kept=KEPT, migrate=migrate), "a pre-install Job that fails")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))

    def hook_failed(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(ready and ready["reason"] == "HookFailed")

    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, hook_failed, 60)
    message = (condition(app, "Ready") or {})["message"]
    assert message.startswith(f"pre-install hook Job/{ns}/migrate failed: Job failed")
    assert not await exists(kube_admin, "kept", ns)  # nothing applied after the failed hook
    assert (app or {})["status"]["history"][0]["result"] == "HookFailed"


async def test_a_failing_post_delete_hook_is_retried_without_the_pre_delete_hooks(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    after = FAILING_JOB.replace("pre-delete", "post-delete")
    sha = git_repo.commit(chart_files(kept=KEPT, after=after), "a post-delete Job that fails")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)
    async with (
        configmap_events(kube_admin, ns) as configmaps,
        configmap_events(kube_admin, ns, "batch/v1", "Job") as jobs,
    ):
        await kube_admin.delete(API_VERSION, KIND, "shop", ns)
        app = await until(kube_admin, API_VERSION, KIND, "shop", ns, reason_is("HookFailed"), 60)
        assert (
            f"post-delete hook Job/{ns}/drain failed" in (condition(app, "Ready") or {})["message"]
        )
        assert not await exists(kube_admin, "kept", ns)  # prune ran before the post-delete hook
        # The finalizer tries again (after 30 s): the post-delete Job runs anew, the pre-delete
        # ConfigMap that already succeeded does not.
        await until(kube_admin, "batch/v1", "Job", "drain", ns, lambda j: j is None, 60)
        await until(kube_admin, "batch/v1", "Job", "drain", ns, lambda j: j is not None, 60)
        await seen(jobs, ("ADDED", "drain"), 2)
    assert jobs.count(("ADDED", "drain")) == 2
    assert configmaps.count(("ADDED", "goodbye")) == 1
    await kube_admin.patch(
        API_VERSION, KIND, "shop", {"metadata": {"finalizers": None}}, namespace=ns
    )


def reason_is(reason: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(ready and ready["reason"] == reason)

    return check
