"""`clew apply` says what happened: a no-op re-apply says nothing changed (not "objects were
changed as shown"), a failed render says nothing was changed and why (not "nothing to do" before
"sync failed"), and an unreachable cluster exits 2 with nothing applied, as docs/cli.md says.
`--wait --timeout 60s` takes a duration, and `clew apply -f -` applies standard input."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}


async def apply(
    directory: Path, kubeconfig: Path, namespace: str, *extra: str, stdin: str | None = None
) -> Result:
    argv = ["apply", str(directory), "--name", "app", "--kubeconfig", str(kubeconfig), *extra]
    return await asyncio.to_thread(CliRunner().invoke, app, [*argv, "-n", namespace], input=stdin)


def flat(result: Result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


async def test_noop_and_failed_summaries(
    kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(CM))
    first = await apply(tmp_path, kube_cluster.restricted_kubeconfig, kube_namespace)
    assert first.exit_code == 0, first.output
    assert "1 created (objects were changed as shown)" in flat(first)

    again = await apply(
        tmp_path, kube_cluster.restricted_kubeconfig, kube_namespace, "--wait", "--timeout", "60s"
    )
    assert again.exit_code == 0, again.output
    assert "1 unchanged (nothing changed)" in flat(again)
    assert "changed as shown" not in flat(again)

    (tmp_path / "broken.yaml").write_text("kind: [\n")
    failed = await apply(tmp_path, kube_cluster.restricted_kubeconfig, kube_namespace)
    assert failed.exit_code == 2
    assert "nothing to do" not in flat(failed)
    assert "nothing was changed sync failed: RenderFailed: broken.yaml:2" in flat(failed)


async def test_unreachable_cluster_exits_2(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "void", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "nobody", "user": {"token": "none"}}],
        "contexts": [{"name": "void", "context": {"cluster": "void", "user": "nobody"}}],
        "current-context": "void",
    }
    (tmp_path / "void.kubeconfig").write_text(yaml.safe_dump(config))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "cm.yaml").write_text(yaml.safe_dump(CM))
    result = await apply(tmp_path / "src", tmp_path / "void.kubeconfig", "default")
    assert result.exit_code == 2, result.output
    assert f"cannot reach the API server https://127.0.0.1:{port}" in flat(result)
    assert "nothing was changed" in flat(result)


async def test_apply_from_stdin(
    kube_cluster: KubeCluster, kube_namespace: str, kube_admin: Cluster
) -> None:
    piped = {**CM, "metadata": {"name": "piped"}}
    result = await apply(
        Path("-"), kube_cluster.restricted_kubeconfig, kube_namespace, stdin=yaml.safe_dump(piped)
    )
    assert result.exit_code == 0, result.output
    live = await kube_admin.get("v1", "ConfigMap", "piped", kube_namespace)
    assert live["data"] == {"a": "1"}
