"""YAML that PyYAML and kubectl read differently applies as kubectl would apply it, on the real
control plane: a CRD whose schema has a plain ``=`` in an enum (as prometheus-operator's
AlertmanagerConfig has), and a custom resource full of YAML 1.1 and Go number spellings. The
stored object equals what the real kubectl reads from the same file, and applying it again is a
no-op (an integral float sent as ``1000.0`` against a stored ``1000`` would be drift forever)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.testing.kubectl_yaml import canonical, kubectl_read
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: matchers.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: matchers, singular: matcher, kind: Matcher}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
            properties:
              matchType:
                type: string
                enum:
                - '!='
                - =
                - =~
                - '!~'
"""

MATCHER = """\
apiVersion: {group}/v1
kind: Matcher
metadata:
  name: matcher
spec:
  matchType: =
  yes: y
  mode: 0o755
  legacy: 0755
  hex: 0x1F
  thousand: 1e3
  one: 1.0
  half: .5
  big: 18446744073709551615
  clock: 1:20
  day: 2026-01-01
  words: [on, off, No, TRUE, ~]
  keys: {{1.5: a, 1e6: b, 10: c}}
  merged:
    b: 2
    <<: {{b: 1, c: 3}}
"""


async def _apply(cluster: KubeCluster, ns: str, directory: Path) -> tuple[int, dict[str, Any]]:
    args = ["apply", str(directory), "--name", "yaml", "-o", "json", "-n", ns]
    args += ["--kubeconfig", str(cluster.admin_kubeconfig)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    return result.exit_code, json.loads(result.stdout)


async def test_kubectl_yaml_applies_as_kubectl_reads_it(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    group = f"{kube_namespace}.yaml.example.com"
    source, alone = tmp_path / "source", tmp_path / "kubectl"
    for directory in (source, alone):  # kubectl_read wants objects named after their file
        directory.mkdir()
        (directory / "matcher.yaml").write_text(MATCHER.format(group=group))
    (source / "crd.yaml").write_text(CRD.format(group=group))
    try:
        code, first = await _apply(kube_cluster, kube_namespace, source)
        assert code == 0, first
        stored = await kube_admin.get(f"{group}/v1", "Matcher", "matcher", kube_namespace)
        theirs = kubectl_read(alone)["matcher"]
        assert not theirs.error
        assert canonical(stored["spec"]) == canonical(theirs.objects[0]["spec"])
        assert stored["spec"]["matchType"] == "="
        assert stored["spec"]["thousand"] == 1000
        assert stored["spec"]["merged"] == {"b": 1, "c": 3}

        code, again = await _apply(kube_cluster, kube_namespace, source)
        assert code == 0, again
        assert {change["action"] for change in again["changes"]} == {"unchanged"}
    finally:
        await kube_admin.delete(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", f"matchers.{group}"
        )
