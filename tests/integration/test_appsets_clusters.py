"""The ApplicationSet clusters generator on the real control plane: kubeconfig Secrets labelled
``clew.dev/cluster=true`` in the set's namespace are the registered clusters, the selector picks
among them by label (a Secret without the label is never a cluster), and each gives an
Application naming that Secret, with the server (never the credentials) as a parameter; ``clew
diff appset`` shows what would be created; a selected Secret without a kubeconfig fails the set
with GeneratorFailed naming it and deletes nothing; once fixed, its Application is created;
relabelling a Secret out of the selection deletes its Application under ``sync``.

The set is reconciled by hand (no controller process) and its Applications are suspended: these
tests are about generation, not about syncing to the clusters."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clew.cli import apps, sync
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION as APP_API_VERSION
from clew.controller.api.spec import KIND as APP_KIND
from clew.controller.api.spec import AppKey
from clew.controller.appsets import API_VERSION, KIND, AppSetReconciler
from clew.model import Reason
from clew.source import SnapshotCache
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition

from .test_appsets import app_names, appset

pytestmark = pytest.mark.integration

TOKEN = "s3cr3t-token-never-shown"


def cluster_secret(name: str, labels: dict[str, str], server: str | None) -> dict[str, Any]:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    data = {"value": base64.b64encode(json.dumps(kubeconfig).encode()).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": labels},
        "data": data if server else {"other": data["value"]},
    }


async def test_clusters_generator_selects_registered_secrets_by_label(
    crd: None,
    kube_admin: Cluster,
    kube_cluster: KubeCluster,
    kube_namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = kube_namespace
    registered = {"clew.dev/cluster": "true"}
    for secret in (
        cluster_secret("prod-eu", {**registered, "env": "prod"}, "https://eu.example:6443"),
        cluster_secret("dev", {**registered, "env": "dev"}, "https://dev.example:6443"),
        cluster_secret("unregistered", {"env": "prod"}, "https://other.example:6443"),
    ):
        await kube_admin.create(secret, namespace=ns)
    template = {
        "metadata": {"name": "shop-{{name}}", "annotations": {"clew.dev/server": "{{server}}"}},
        "spec": {
            "source": {"repoURL": "https://git.example/shop.git"},
            "destination": {"namespace": "shop", "kubeConfig": {"secretRef": {"name": "{{name}}"}}},
            "suspend": True,
        },
    }
    generator = {"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}
    await kube_admin.create(
        appset("fleet", ns, [generator], template=template, syncPolicy="sync"), namespace=ns
    )

    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cli-cache"))
    root = typer.Typer()
    root.command("version")(lambda: None)
    root.command("diff")(sync.diff_command)
    apps.register(root)
    argv = ["diff", "appset", "fleet", "--kubeconfig", str(kube_cluster.admin_kubeconfig)]

    async def diff(stream: str = "stdout") -> tuple[int, str]:
        result = await asyncio.to_thread(CliRunner().invoke, root, [*argv, "-n", ns])
        return result.exit_code, str(getattr(result, stream))

    assert await diff() == (1, f"+ Application/{ns}/shop-prod-eu (created)\n")
    reconciler = AppSetReconciler(kube_admin, SnapshotCache(tmp_path / "cache"))

    async def reconcile() -> tuple[bool, str, dict[str, Any]]:
        outcome = await reconciler.reconcile(AppKey(ns, "fleet"))
        obj = await kube_admin.get(API_VERSION, KIND, "fleet", ns)
        return outcome.ok, outcome.reason, obj

    ok, _, _ = await reconcile()
    assert ok
    app = await kube_admin.get(APP_API_VERSION, APP_KIND, "shop-prod-eu", ns)
    assert app["spec"]["destination"]["kubeConfig"]["secretRef"]["name"] == "prod-eu"
    assert app["metadata"]["annotations"]["clew.dev/server"] == "https://eu.example:6443"
    assert await app_names(kube_admin, ns, "fleet") == {"shop-prod-eu"}

    # A selected Secret without a kubeconfig: the set fails naming it, nothing is deleted.
    broken = cluster_secret("prod-us", {**registered, "env": "prod"}, None)
    await kube_admin.create(broken, namespace=ns)
    ok, reason, obj = await reconcile()
    assert (ok, reason) == (False, Reason.GENERATOR_FAILED)
    message = str((condition(obj, "Ready") or {}).get("message"))
    assert f"Secret {ns}/prod-us has no kubeconfig" in message, message
    assert "no Application was created, changed or deleted" in message
    assert TOKEN not in json.dumps(obj)
    assert await app_names(kube_admin, ns, "fleet") == {"shop-prod-eu"}
    code, out = await diff("output")
    assert code == 2, out
    assert f"Secret {ns}/prod-us has no kubeconfig" in out, out

    # Fixed: its Application is created. Relabelled out of the selection: deleted (sync).
    await kube_admin.delete("v1", "Secret", "prod-us", ns)
    fixed = cluster_secret("prod-us", {**registered, "env": "prod"}, "https://us.example:6443")
    await kube_admin.create(fixed, namespace=ns)
    assert await diff() == (1, f"+ Application/{ns}/shop-prod-us (created)\n")
    assert (await reconcile())[0]
    assert await app_names(kube_admin, ns, "fleet") == {"shop-prod-eu", "shop-prod-us"}
    labels = {"metadata": {"labels": {"env": "retired"}}}
    await kube_admin.patch("v1", "Secret", "prod-eu", labels, namespace=ns)
    assert (await reconcile())[0]
    assert await app_names(kube_admin, ns, "fleet") == {"shop-prod-us"}
