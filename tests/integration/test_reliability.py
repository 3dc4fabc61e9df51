"""The operator survives what production throws at it, on real processes: a controller killed
with SIGKILL mid-sync leaves status saying an attempt was under way, and restarts and converges
with nothing lost or duplicated, saying the attempt was interrupted; a Git server that
goes away is reported (FetchFailed) while the cluster keeps its state, and recovery follows; a
force-pushed branch is applied; the API server restarted mid-sync is survived; two controllers
with leader election: exactly one reconciles, and the other takes over within 15 s of the
leader's death."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.apply import load
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND, AppKey
from clew.controller.reconcile.inputs import inventory_name
from clew.testing.controlplane import ControlPlane
from clew.testing.gitserver import GitHttpServer, Repo, create_repo
from clew.testing.operator import install_crd, ready_at, secret, spawn_controller
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration


SIGKILL_OBJECTS = 1000


def configmaps(n: int, value: str = "1") -> dict[str, str]:
    return {
        f"deploy/cm-{i:04d}.yaml": yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i:04d}"},
                "data": {"v": value},
            }
        )
        for i in range(n)
    }


async def register(
    cluster: Cluster, namespace: str, url: str, user: str, password: str, name: str = "app"
) -> None:
    await secret(cluster, namespace, "git", {"username": user, "password": password})
    await cluster.create(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "source": {"repoURL": url, "path": "deploy", "secretRef": {"name": "git"}},
                "destination": {"namespace": namespace},
                "interval": "2s",
                "retry": {"initialDelay": "1s", "maxDelay": "2s"},
            },
        }
    )


def reason_is(reason: str) -> Any:
    return lambda app: bool((condition(app, "Ready") or {}).get("reason") == reason)


@pytest.fixture
def private_git(tmp_path: Path) -> Any:
    server = GitHttpServer(tmp_path / "git", users={"ci": secrets.token_urlsafe(12)})
    server.start()
    yield server
    server.stop()


async def test_sigkill_mid_sync_converges(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    # Enough objects that the sync outlasts a first sync's one-second grace by seconds: the
    # kill below must land mid-sync, after Reconciling was written.
    sha = git_repo.commit(configmaps(SIGKILL_OBJECTS), f"{SIGKILL_OBJECTS} ConfigMaps")
    first = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await register(
            kube_admin,
            kube_namespace,
            git_http.repo_url(git_repo.name),
            "clew",
            git_http.users["clew"],
        )
        # Kill it once the sync is visibly under way: applying, and (a first sync says so only
        # after a second) showing Reconciling.
        await until(
            kube_admin, "v1", "ConfigMap", "cm-0000", kube_namespace, lambda cm: cm is not None, 60
        )
        await until(
            kube_admin,
            API_VERSION,
            KIND,
            "app",
            kube_namespace,
            lambda app: condition(app, "Reconciling") is not None,
            60,
        )
    finally:
        first.kill()
    # The dead process left status saying an attempt of that revision was under way.
    app = await kube_admin.get(API_VERSION, KIND, "app", kube_namespace)
    assert (condition(app, "Reconciling") or {}).get("status") == "True"
    assert app["status"]["lastAttemptedRevision"] == sha
    second = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(sha), 90)
    finally:
        second.stop()
    # The next attempt said that the previous one was interrupted.
    events, _ = await kube_admin.list_objects("events.k8s.io/v1", "Event", kube_namespace)
    interrupted = [e for e in events if e.get("reason") == "Interrupted"]
    assert len(interrupted) == 1
    assert f"of revision {sha[:12]}" in interrupted[0]["note"]
    items, _ = await kube_admin.list_objects(
        "v1", "ConfigMap", kube_namespace, label_selector="applyset.kubernetes.io/part-of"
    )
    assert sorted(i["metadata"]["name"] for i in items) == [
        f"cm-{i:04d}" for i in range(SIGKILL_OBJECTS)
    ]
    inventory = await load(
        kube_admin, inventory_name(AppKey(kube_namespace, "app")), kube_namespace
    )
    assert len(inventory.members) == SIGKILL_OBJECTS
    assert len({m.ref for m in inventory.members}) == SIGKILL_OBJECTS


async def test_git_server_down_then_back(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    private_git: GitHttpServer,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    repo = create_repo(private_git.root, "svc")
    sha = repo.commit(configmaps(3), "three")
    controller = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await register(
            kube_admin, kube_namespace, private_git.repo_url("svc"), "ci", private_git.users["ci"]
        )
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(sha), 60)
        private_git.stop()
        app = await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, reason_is("FetchFailed"), 30
        )
        message = (condition(app, "Ready") or {})["message"]
        assert private_git.users["ci"] not in message
        assert app is not None
        assert app["status"]["lastAppliedRevision"] == sha
        items, _ = await kube_admin.list_objects(
            "v1", "ConfigMap", kube_namespace, label_selector="applyset.kubernetes.io/part-of"
        )
        assert len(items) == 3  # the cluster keeps its last good state
        private_git.start()
        newer = repo.commit(
            {"deploy/cm-0000.yaml": configmaps(1, "2")["deploy/cm-0000.yaml"]}, "v2"
        )
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(newer), 60)
        live = await kube_admin.get("v1", "ConfigMap", "cm-0000", kube_namespace)
        assert live["data"] == {"v": "2"}
    finally:
        controller.stop()


async def test_force_pushed_branch_is_applied(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    sha = git_repo.commit(configmaps(2), "two")
    controller = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await register(
            kube_admin,
            kube_namespace,
            git_http.repo_url(git_repo.name),
            "clew",
            git_http.users["clew"],
        )
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(sha), 60)
        rewritten = git_repo.orphan_commit(configmaps(1, "rewritten"), "history rewritten")
        git_repo.force_push("main", rewritten)
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(rewritten), 60)
        live = await kube_admin.get("v1", "ConfigMap", "cm-0000", kube_namespace)
        assert live["data"] == {"v": "rewritten"}
        await until(
            kube_admin, "v1", "ConfigMap", "cm-0001", kube_namespace, lambda cm: cm is None, 30
        )
    finally:
        controller.stop()


async def test_leader_failover_within_15_seconds(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    lease_ns = kube_namespace  # a Lease of this test's own
    args = ("--leader-elect", "--lease-namespace", lease_ns)
    a = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path / "a", *args, "--identity", "a")
    b = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path / "b", *args, "--identity", "b")
    try:
        lease = await until(
            kube_admin,
            "coordination.k8s.io/v1",
            "Lease",
            "clew-controller",
            lease_ns,
            lambda lease: bool(lease and lease["spec"].get("holderIdentity") in ("a", "b")),
            30,
        )
        assert lease is not None
        leader = lease["spec"]["holderIdentity"]
        first, standby = (a, b) if leader == "a" else (b, a)
        sha = git_repo.commit(configmaps(1), "one")
        await register(
            kube_admin,
            kube_namespace,
            git_http.repo_url(git_repo.name),
            "clew",
            git_http.users["clew"],
        )
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(sha), 60)
        killed = time.monotonic()
        first.kill()
        other = "b" if leader == "a" else "a"
        await until(
            kube_admin,
            "coordination.k8s.io/v1",
            "Lease",
            "clew-controller",
            lease_ns,
            lambda lease: bool(lease and lease["spec"].get("holderIdentity") == other),
            20,
        )
        took = time.monotonic() - killed
        assert took < 15, f"takeover took {took:.1f}s"
        newer = git_repo.commit(
            {"deploy/cm-0000.yaml": configmaps(1, "after")["deploy/cm-0000.yaml"]}, "after failover"
        )
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(newer), 60)
        _ = standby
    finally:
        a.stop()
        b.stop()


async def test_api_server_restart_mid_sync(private_git: GitHttpServer, tmp_path: Path) -> None:
    plane = ControlPlane()
    plane.start()
    try:
        async with Cluster.from_kubeconfig(plane.admin_kubeconfig) as admin:
            await install_crd(admin, plane.server)
            await admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "r"}})
            repo = create_repo(private_git.root, "restart")
            sha = repo.commit(configmaps(200), "200")
            controller = spawn_controller(plane.admin_kubeconfig, tmp_path)
            try:
                await register(
                    admin, "r", private_git.repo_url("restart"), "ci", private_git.users["ci"]
                )
                await until(admin, "v1", "ConfigMap", "cm-0000", "r", lambda cm: cm is not None, 60)
                await asyncio.to_thread(plane.restart, "kube-apiserver")
                await until(admin, API_VERSION, KIND, "app", "r", ready_at(sha), 120)
                items, _ = await admin.list_objects(
                    "v1", "ConfigMap", "r", label_selector="applyset.kubernetes.io/part-of"
                )
                assert len(items) == 200
            finally:
                controller.stop()
    finally:
        plane.stop()
