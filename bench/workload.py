"""The benchmark workload: N objects over 50 namespaces that need no kubelet (ConfigMaps,
Secrets, ServiceAccounts, Roles, RoleBindings) plus a few CRDs and their custom resources,
written as a plain manifest tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

NAMESPACES = 50
CRDS = 3
CRS_PER_CRD = 10


def crd(prefix: str, i: int) -> dict[str, Any]:
    group = f"{prefix}.bench.clew.dev"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"thing{i}s.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": f"thing{i}s", "singular": f"thing{i}", "kind": f"Thing{i}"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def objects(prefix: str, total: int) -> list[dict[str, Any]]:
    """``total`` objects in all, namespaces and CRDs included; names depend on ``prefix`` only."""
    out: list[dict[str, Any]] = []
    namespaces = [f"{prefix}-ns{i:02d}" for i in range(NAMESPACES)]
    out += [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces]
    out += [crd(prefix, i) for i in range(CRDS)]
    for i in range(CRDS):
        for j in range(CRS_PER_CRD):
            out.append(
                {
                    "apiVersion": f"{prefix}.bench.clew.dev/v1",
                    "kind": f"Thing{i}",
                    "metadata": {"name": f"t{j}", "namespace": namespaces[j % NAMESPACES]},
                    "spec": {"size": j},
                }
            )
    kinds = ("ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding")
    n = 0
    while len(out) < total:
        kind = kinds[n % len(kinds)]
        ns = namespaces[(n // len(kinds)) % NAMESPACES]
        # A RoleBinding binds the Role made just before it (same namespace).
        out.append(_namespaced(kind, f"o{n:05d}", ns, role=f"o{n - 1:05d}"))
        n += 1
    return out


def _namespaced(kind: str, name: str, namespace: str, role: str = "") -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "labels": {"bench": "clew"}}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"key": name * 4}}
    if kind == "Secret":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "stringData": {"token": name}}
    if kind == "ServiceAccount":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta}
    rbac = "rbac.authorization.k8s.io/v1"
    if kind == "Role":
        rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
        return {"apiVersion": rbac, "kind": kind, "metadata": meta, "rules": rules}
    return {
        "apiVersion": rbac,
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
    }


def write_tree(directory: Path, objs: list[dict[str, Any]], per_file: int = 100) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(objs), per_file):
        chunk = objs[i : i + per_file]
        (directory / f"part-{i // per_file:04d}.yaml").write_text(yaml.safe_dump_all(chunk))
    return directory
