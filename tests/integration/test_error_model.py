"""The error model on a real controller process, control plane and Git HTTP server: an unexpected
exception (the snapshot cache's work directory replaced by a file) ends the attempt as Ready=False
``ReconcileError`` with a one-line message, and ``clew reconcile app --wait`` returns when it ends;
a permanent error (a manifest that does not parse) stalls the Application (Stalled=True) and it
is not tried again within seconds, as a temporary one would be; and self-heal writes
``status.drift`` and an audit record for its reverts, a burst of them in fewer writes than
reverts (one status patch and one audit record a second per Application)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.report import audit
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import ControllerProcess, install_crd, secret, spawn_controller
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration


def configmap(name: str, value: str = "1") -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}
    )


async def register(
    cluster: Cluster, namespace: str, git: GitHttpServer, repo: Repo, interval: str
) -> None:
    user, password = HTTP_USER, git.users[HTTP_USER]
    await secret(cluster, namespace, "git", {"username": user, "password": password})
    await cluster.create(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {
                "source": {
                    "repoURL": git.repo_url(repo.name),
                    "path": "deploy",
                    "secretRef": {"name": "git"},
                },
                "destination": {"namespace": namespace},
                "interval": interval,
                "retry": {"initialDelay": "1s", "maxDelay": "2s"},
            },
        }
    )


def ready(status: str, reason: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        found = condition(app, "Ready") or {}
        return found.get("status") == status and found.get("reason") == reason

    return check


def reconciles(controller: ControllerProcess, result: str) -> int:
    """``clew_reconcile_total{result=...}`` as the controller's /metrics says now."""
    url = f"http://127.0.0.1:{controller.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    found = re.search(rf'^clew_reconcile_total{{result="{result}"}} (\S+)$', text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


async def reconciled(controller: ControllerProcess, result: str, seconds: float = 10) -> int:
    """The count once it is above zero: the metric is recorded just after the status write."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (count := reconciles(controller, result)) == 0:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no reconcile ended with {result} within {seconds}s")
        await asyncio.sleep(0.1)  # polling /metrics, which has nothing to watch
    return count


async def test_unexpected_exception_is_reported_and_wait_returns(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    first = git_repo.commit({"deploy/cm.yaml": configmap("cm")}, "one")
    controller = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    work = tmp_path / "cache" / "sources" / "tmp"
    try:
        await register(kube_admin, kube_namespace, git_http, git_repo, "1h")
        await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, ready("True", "Succeeded")
        )
        # A file where the cache makes its work directories: the next download raises an
        # OSError, which no stage expects.
        shutil.rmtree(work)
        work.write_text("not a directory")
        second = git_repo.commit({"deploy/cm.yaml": configmap("cm", "2")}, "two")
        command = [
            str(Path(sys.executable).parent / "clew"),
            *("reconcile", "app", "app", "-n", kube_namespace, "--wait", "--timeout", "60s"),
            *("--kubeconfig", str(kube_cluster.admin_kubeconfig)),
        ]
        done = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=90, env=os.environ
        )
        assert done.returncode == 1, done.stderr + done.stdout
        assert "Ready=False ReconcileError" in done.stdout
        app = await kube_admin.get(API_VERSION, KIND, "app", kube_namespace)
        found = condition(app, "Ready") or {}
        assert found["reason"] == "ReconcileError"
        assert "\n" not in found["message"]
        assert found["message"].startswith("reconcile failed unexpectedly (NotADirectoryError")
        assert condition(app, "Reconciling") is None  # never left saying it is under way
        assert app["status"]["lastAppliedRevision"] == first  # nothing claims the new commit
        # Fixed, the backoff brings the new commit in without anyone asking.
        work.unlink()
        work.mkdir()
        await until(
            kube_admin,
            API_VERSION,
            KIND,
            "app",
            kube_namespace,
            lambda a: bool(
                ready("True", "Succeeded")(a)
                and (a or {}).get("status", {}).get("lastAppliedRevision") == second
            ),
            60,
        )
    finally:
        controller.stop()


async def test_permanent_error_stalls_without_hot_retries(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    git_repo.commit({"deploy/bad.yaml": "kind: [unclosed\n"}, "a manifest that does not parse")
    controller = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await register(kube_admin, kube_namespace, git_http, git_repo, "1h")
        app = await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, ready("False", "RenderFailed")
        )
        stalled = condition(app, "Stalled") or {}
        assert (stalled.get("status"), stalled.get("reason")) == ("True", "RenderFailed")
        attempts = await reconciled(controller, "RenderFailed")
        assert attempts == 1
        # Each attempt writes Reconciling=True first. A temporary error would be retried after
        # 1 s, then 2 s; a permanent one waits for the interval (1 h): no attempt starts.
        with pytest.raises(TimeoutError):
            await until(
                kube_admin,
                API_VERSION,
                KIND,
                "app",
                kube_namespace,
                lambda a: condition(a, "Reconciling") is not None,
                6,
            )
        assert reconciles(controller, "RenderFailed") == attempts
        # A fix in Git is seen at the next interval or on request; a request here.
        git_repo.commit({"deploy/bad.yaml": configmap("good")}, "fixed")
        await kube_admin.patch(
            API_VERSION,
            KIND,
            "app",
            {"metadata": {"annotations": {"clew.dev/reconcile-requested-at": "fix"}}},
            namespace=kube_namespace,
        )
        app = await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, ready("True", "Succeeded")
        )
        assert condition(app, "Stalled") is None
    finally:
        controller.stop()


async def test_self_heal_writes_status_drift_and_the_audit_trail(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    git_repo.commit({"deploy/cm.yaml": configmap("cm")}, "one")
    controller = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await register(kube_admin, kube_namespace, git_http, git_repo, "1h")
        await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, ready("True", "Succeeded")
        )
        await kube_admin.patch(
            "v1", "ConfigMap", "cm", {"data": {"v": "edited"}}, namespace=kube_namespace
        )
        app = await until(
            kube_admin,
            API_VERSION,
            KIND,
            "app",
            kube_namespace,
            lambda a: bool(((a or {}).get("status") or {}).get("drift")),
            30,
        )
        drift = app["status"]["drift"] if app else {}
        assert drift["corrected"] == 1
        assert drift["lastObjects"] == [f"ConfigMap/{kube_namespace}/cm"]
        assert drift["lastCorrected"]
        cm = await kube_admin.get("v1", "ConfigMap", "cm", kube_namespace)
        assert cm["data"] == {"v": "1"}
        trail = await audit.read_trail(kube_admin, kube_namespace, "app")
        assert trail is not None
        healed = [r for r in trail.records if r["result"] == "DriftCorrected"]
        assert len(healed) == 1
        assert healed[0]["objects"] == [
            {"action": "configured", "object": f"ConfigMap/{kube_namespace}/cm", "group": ""}
        ]
    finally:
        controller.stop()


async def test_a_burst_of_reverts_is_recorded_in_fewer_writes(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    names = ["a", "b", "c"]
    git_repo.commit({f"deploy/{n}.yaml": configmap(n) for n in names}, "three")
    controller = spawn_controller(kube_cluster.admin_kubeconfig, tmp_path)
    try:
        await register(kube_admin, kube_namespace, git_http, git_repo, "1h")
        await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, ready("True", "Succeeded")
        )
        edit = {"data": {"v": "edited"}}
        await asyncio.gather(
            *(kube_admin.patch("v1", "ConfigMap", n, edit, namespace=kube_namespace) for n in names)
        )
        app = await until(
            kube_admin,
            API_VERSION,
            KIND,
            "app",
            kube_namespace,
            lambda a: (((a or {}).get("status") or {}).get("drift") or {}).get("corrected") == 3,
            30,
        )
        assert app is not None
        assert sorted(app["status"]["drift"]["lastObjects"]) == [
            f"ConfigMap/{kube_namespace}/{n}" for n in names
        ]
        for n in names:
            cm = await kube_admin.get("v1", "ConfigMap", n, kube_namespace)
            assert cm["data"] == {"v": "1"}
        trail = await audit.read_trail(kube_admin, kube_namespace, "app")
        assert trail is not None
        healed = [r for r in trail.records if r["result"] == "DriftCorrected"]
        # Three reverts within a second of each other: recorded in one write (two at most, if
        # the machine spread them over the window's edge), every object named once.
        assert 1 <= len(healed) < 3
        named = sorted(o["object"] for r in healed for o in r["objects"])
        assert named == [f"ConfigMap/{kube_namespace}/{n}" for n in names]
    finally:
        controller.stop()
