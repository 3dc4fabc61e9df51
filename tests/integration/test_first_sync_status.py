"""A first sync's status writes (controller/reconcile/attempt.py):

- a first sync that ends within the grace writes one status, its outcome (with
  ``lastAttemptedRevision``): no Reconciling state is ever stored;
- a first sync that runs longer still shows ``Reconciling=True`` for its revision while it runs,
  then its outcome replaces it.

The real controller in this process, the real Git server and API server; every status the
Application ever held is seen by a watch opened before it is created.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, secret
from clew.testing.waiting import condition

pytestmark = pytest.mark.integration


def manifest(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj)


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
STUCK = {  # the kubelet stand-in never makes its pod Ready: the wait runs to its timeout
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "stuck"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "stuck"}},
        "template": {
            "metadata": {
                "labels": {"app": "stuck"},
                "annotations": {"kubelet.clew.dev/ready": "false"},
            },
            "spec": {"containers": [{"name": "stuck", "image": "nginx:1.27"}]},
        },
    },
}


async def register(cluster: Cluster, ns: str, git: GitHttpServer, repo: Repo, **spec: Any) -> None:
    await secret(cluster, ns, "git", {"username": HTTP_USER, "password": git.users[HTTP_USER]})
    source = {"repoURL": git.repo_url(repo.name), "path": "deploy", "secretRef": {"name": "git"}}
    body = {
        "source": source,
        "destination": {"namespace": ns},
        "interval": "1h",
        **spec,
    }
    meta = {"name": "app", "namespace": ns}
    await cluster.create({"apiVersion": API_VERSION, "kind": KIND, "metadata": meta, "spec": body})


def ended(app: dict[str, Any]) -> bool:
    return condition(app, "Ready") is not None and condition(app, "Reconciling") is None


@contextlib.asynccontextmanager
async def statuses(cluster: Cluster, ns: str) -> AsyncIterator[tuple[list[Any], asyncio.Event]]:
    """Every state of the Application the watch sees, from before it exists, and an event set
    once one shows the attempt ended."""
    seen: list[dict[str, Any]] = []
    done = asyncio.Event()
    _, version = await cluster.list_objects(API_VERSION, KIND, ns)

    async def follow() -> None:
        events = cluster.watch(API_VERSION, KIND, ns, resource_version=version)
        async with contextlib.aclosing(events):  # cancelled: the watch request ends too
            async for event in events:
                if event.type != "BOOKMARK":
                    seen.append(event.object)
                    if ended(event.object):
                        done.set()

    task = asyncio.create_task(follow())
    try:
        yield seen, done
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_quick_first_sync_writes_only_its_outcome(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    controller.controller.reconciler.first_sync_grace = 60  # "quick" whatever the load
    sha = git_repo.commit({"deploy/c.yaml": manifest(CONFIGMAP)}, "one ConfigMap")
    async with statuses(kube_admin, kube_namespace) as (seen, done):
        await register(kube_admin, kube_namespace, git_http, git_repo)
        await asyncio.wait_for(done.wait(), 60)
    assert not [a for a in seen if condition(a, "Reconciling") is not None]
    written = [a for a in seen if a.get("status")]
    assert len(written) == 1  # the outcome, and nothing before it
    assert written[0]["status"]["lastAttemptedRevision"] == sha
    assert (condition(written[0], "Ready") or {}).get("status") == "True"


async def test_a_slow_first_sync_shows_reconciling_while_it_runs(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    controller.controller.reconciler.first_sync_grace = 0.2
    sha = git_repo.commit({"deploy/stuck.yaml": manifest(STUCK)}, "a Deployment never Ready")
    async with statuses(kube_admin, kube_namespace) as (seen, done):
        await register(kube_admin, kube_namespace, git_http, git_repo, wait=True, timeout="4s")
        await asyncio.wait_for(done.wait(), 60)
    states = [a for a in seen if a.get("status")]
    first = states[0]
    assert (condition(first, "Reconciling") or {}).get("status") == "True"
    assert first["status"]["lastAttemptedRevision"] == sha
    last = states[-1]
    assert condition(last, "Reconciling") is None
    assert (condition(last, "Ready") or {}).get("reason") == "HealthCheckFailed"
