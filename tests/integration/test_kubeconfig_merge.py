"""`KUBECONFIG` listing several files works on the real control plane, merged as kubectl does.

The admin kubeconfig is split in two: the first file holds the cluster, the context (with the
test's namespace) and the current-context; the second holds the user, plus a decoy cluster of the
same name at an unreachable address and a decoy current-context. `clew apply` with only
`KUBECONFIG=first:second` (no --kubeconfig) must reach the real API server with the second file's
credentials; a client built from the list gets the first file's server and namespace. It fails
if either file is ignored or the second file's duplicates win.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


def split(admin: dict[str, Any], namespace: str, tmp: Path) -> tuple[Path, Path]:
    context = admin["contexts"][0]
    first = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "contexts": [{**context, "context": {**context["context"], "namespace": namespace}}],
        "current-context": context["name"],
    }
    decoy = {**admin["clusters"][0], "cluster": {"server": "https://127.0.0.1:1"}}
    second = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [decoy],
        "users": admin["users"],
        "contexts": [{"name": "decoy", "context": {"cluster": decoy["name"], "user": "nobody"}}],
        "current-context": "decoy",
    }
    paths = (tmp / "cluster.kubeconfig", tmp / "user.kubeconfig")
    for path, doc in zip(paths, (first, second), strict=True):
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
    return paths


async def test_apply_with_a_split_kubeconfig(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cache"))
    admin = yaml.safe_load(kube_cluster.admin_kubeconfig.read_text())
    first, second = split(admin, kube_namespace, tmp_path)
    source = tmp_path / "deploy"
    source.mkdir()
    (source / "cm.yaml").write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "merged"}, "data": {}}
        )
    )
    env = {"KUBECONFIG": os.pathsep.join([str(first), str(second)])}
    argv = ["apply", str(source), "--name", "merged", "-n", kube_namespace]
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert result.exit_code == 0, result.output
    got = await kube_admin.get("v1", "ConfigMap", "merged", kube_namespace)
    assert got["metadata"]["name"] == "merged"

    monkeypatch.setenv("KUBECONFIG", env["KUBECONFIG"])
    async with Cluster.from_kubeconfig() as merged:
        assert merged.server.rstrip("/") == kube_cluster.server.rstrip("/")
        assert merged.namespace == kube_namespace
