"""Helm renders for the cluster it is applied to: through `clew apply`, a chart sees the target's
API versions and Kubernetes version in ``.Capabilities`` (from discovery, as ``helm install``
would), so a template guarded by ``.Capabilities.APIVersions.Has`` renders exactly what the
cluster serves. Values files may be named relative to the chart (Argo CD's form) or to the source
root (clew's first form); a missing one is an error listing the paths tried. The release name is
settable.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.tools import K8S_VERSION

pytestmark = pytest.mark.integration

TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-caps
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  deployments: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
  leases: {{ .Capabilities.APIVersions.Has "coordination.k8s.io/v1" | quote }}
  unserved: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
  env: {{ .Values.env | quote }}
  team: {{ .Values.team | quote }}
"""


def chart(root: Path) -> Path:
    directory = root / "charts" / "caps"
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text("apiVersion: v2\nname: caps\nversion: 0.1.0\n")
    (directory / "values.yaml").write_text("env: dev\nteam: none\n")
    (directory / "values-prod.yaml").write_text("env: prod\n")
    (directory / "templates" / "caps.yaml").write_text(TEMPLATE)
    (root / "shared").mkdir()
    (root / "shared" / "team.yaml").write_text("team: payments\n")
    return root


async def clew(*argv: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(argv))


async def test_capabilities_values_and_release_name(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    root = chart(tmp_path / "repo")
    common = [
        "apply", str(root), "--path", "charts/caps", "--name", "caps", "-n", kube_namespace,
        "--kubeconfig", str(kube_cluster.admin_kubeconfig), "--release-name", "shop",
    ]  # fmt: skip
    result = await clew(*common, "--values", "values-prod.yaml", "--values", "shared/team.yaml")
    assert result.exit_code == 0, result.output
    caps = await kube_admin.get("v1", "ConfigMap", "shop-caps", kube_namespace)
    assert caps["data"] == {
        "kubeVersion": K8S_VERSION,
        "deployments": "true",
        "leases": "true",
        "unserved": "false",
        "env": "prod",  # relative to the chart
        "team": "payments",  # relative to the source root
    }

    missing = await clew(*common, "--values", "values-staging.yaml")
    assert missing.exit_code == 2
    text = " ".join(missing.output.split())
    assert (
        "values file 'values-staging.yaml' does not exist in the snapshot (tried "
        "charts/caps/values-staging.yaml, values-staging.yaml)"
    ) in text
