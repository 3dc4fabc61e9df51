"""What the benchmarks' repositories hold, as plain manifest trees.

S3 and S7 reuse ``bench/workload.py``'s object shapes without CRDs (ConfigMaps, Secrets,
ServiceAccounts) in a few namespaces. S5 has one directory per Application holding the four
objects of Flux's benchmark shape: a Deployment scaled to 0, a ServiceAccount, a headless Service
(the local service CIDR is a /24, too small for 1,000 ClusterIPs) and a ConfigMap.
"""

from __future__ import annotations

from typing import Any

import yaml

from bench import workload

PER_FILE = 100


def tree_files(directory: str, objs: list[dict[str, Any]]) -> dict[str, str]:
    """``{path: YAML}`` with ``PER_FILE`` objects a file, as ``Repo.commit`` takes them."""
    return {
        file_name(directory, i // PER_FILE): yaml.safe_dump_all(objs[i : i + PER_FILE])
        for i in range(0, len(objs), PER_FILE)
    }


def file_name(directory: str, index: int) -> str:
    return f"{directory}/part-{index:04d}.yaml"


def namespaces(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-ns{i}" for i in range(count)]


def plain_objects(prefix: str, total: int, spread: int) -> list[dict[str, Any]]:
    """``total`` objects: ``spread`` Namespaces, then ConfigMaps, Secrets and ServiceAccounts
    round-robin over them. The first ConfigMap, ``o00000`` in ``<prefix>-ns0``, comes first in
    the first file."""
    names = namespaces(prefix, spread)
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names
    ]
    kinds = ("ConfigMap", "Secret", "ServiceAccount")
    n = 0
    while len(out) < total:
        kind = kinds[n % len(kinds)]
        out.append(workload._namespaced(kind, f"o{n:05d}", names[(n // len(kinds)) % spread]))
        n += 1
    return out


def set_probe(objs: list[dict[str, Any]], value: str) -> list[dict[str, Any]]:
    """A copy of ``objs`` whose first ConfigMap carries ``value``: the one-object change."""
    out = list(objs)
    for i, obj in enumerate(out):
        if obj["kind"] == "ConfigMap":
            out[i] = {**obj, "data": {"key": value}}
            return out
    raise ValueError("no ConfigMap to change")


def configmaps(count: int, value: str) -> list[dict[str, Any]]:
    """S7's managed objects: ``cm-000``… with ``data.v`` = ``value`` (namespace from the app)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i:03d}"},
            "data": {"v": value},
        }
        for i in range(count)
    ]


def app_objects(app: str) -> list[dict[str, Any]]:
    """One S5 Application's four objects (namespace from its destination)."""
    labels = {"app": app}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "labels": labels},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": app,
                        "containers": [{"name": "app", "image": "registry.invalid/app:1"}],
                    },
                },
            },
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": app, "labels": labels}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": app, "labels": labels},
            "spec": {
                "clusterIP": "None",
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": app, "labels": labels},
            "data": {"app": app},
        },
    ]
