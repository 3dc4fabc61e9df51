"""`clew diff` and `clew apply --dry-run -o json` show the Helm hooks a sync would run, on the real
control plane with the real helm and tests/integration/charts/hooked: before the first install,
each pre-install and post-install hook in run order, marked as one that would run (and the diff
differs, exit 1, while nothing is created); after the install, the upgrade hooks of the same
release are listed as already run and skipped (no difference, exit 0); a new release lists them
as would run again. The output names phase, kind, namespace and name."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clew.cli.main import app as cli
from clew.cluster import Cluster, NotFound

from .test_helm_hooks import chart, sync

pytestmark = pytest.mark.integration


async def clew(kube_cluster: Any, *argv: str) -> tuple[int, str]:
    args = [*argv, "--kubeconfig", str(kube_cluster.restricted_kubeconfig)]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    return result.exit_code, result.output


def hook_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("hook ")]


async def test_diff_and_dry_run_show_the_hooks_a_sync_would_run(
    kube_cluster: Any, kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    directory = chart(tmp_path, "hooked")
    target = [str(directory), "--name", "app", "-n", ns]

    code, output = await clew(kube_cluster, "diff", *target)
    assert code == 1, output
    assert hook_lines(output) == [
        f"hook pre-install ConfigMap/{ns}/pre-config (would run)",
        f"hook pre-install Job/{ns}/pre-job (would run)",
        f"hook post-install ConfigMap/{ns}/post-config (would run)",
        f"hook post-install Job/{ns}/post-job (would run)",
    ]
    code, output = await clew(kube_cluster, "apply", *target, "--dry-run", "-o", "json")
    assert code == 0, output
    hooks = json.loads(output)["hooks"]
    assert [(h["event"], h["object"], h["already_ran"]) for h in hooks] == [
        ("pre-install", f"ConfigMap/{ns}/pre-config", False),
        ("pre-install", f"Job/{ns}/pre-job", False),
        ("post-install", f"ConfigMap/{ns}/post-config", False),
        ("post-install", f"Job/{ns}/post-job", False),
    ]
    with pytest.raises(NotFound):  # a dry run runs no hook
        await kube_restricted.get("v1", "ConfigMap", "pre-config", ns)

    installed = await sync(kube_restricted, directory, ns)
    assert installed.ok, installed.error
    code, output = await clew(kube_cluster, "diff", *target)
    assert code == 0, output
    assert hook_lines(output) == [
        f"hook pre-upgrade Job/{ns}/pre-job (already ran for this release: skipped)",
        f"hook post-upgrade ConfigMap/{ns}/post-config (already ran for this release: skipped)",
        f"hook post-upgrade Job/{ns}/post-job (already ran for this release: skipped)",
    ]

    upgraded = chart(tmp_path, "hooked", version="2")
    code, output = await clew(kube_cluster, "diff", str(upgraded), "--name", "app", "-n", ns)
    assert code == 1, output
    assert hook_lines(output) == [
        f"hook pre-upgrade Job/{ns}/pre-job (would run)",
        f"hook post-upgrade ConfigMap/{ns}/post-config (would run)",
        f"hook post-upgrade Job/{ns}/post-job (would run)",
    ]
