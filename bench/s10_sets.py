"""The object sets of benchmark S10 (issue 16): the shapes real applications have, 10 to 150
objects, generated here so the run needs nothing from the network.

- ``crds12``: 12 CustomResourceDefinitions of moderate schema (Gateway API's shape);
- ``crds22``: 22 CRDs of about 1.4 MB of YAML each (an operator's bundle, deep openAPIV3Schema);
- ``app50``: about 50 objects: a Namespace, 3 small CRDs, RBAC (cluster-wide and namespaced), a
  Deployment, Services, ConfigMaps, a Secret and admission webhook configurations;
- ``app130``: the same mix at about 130 objects (a monitoring stack's size).

Every name depends on a prefix, so each tool's cold apply in each round starts from nothing.
``change`` edits exactly one object, as a one-line commit would.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from bench.crd_bundle import _schema

SHAPES = ("crds12", "crds22", "app50", "app130")
GROUP = "s10.bench.clew.dev"


def group(prefix: str) -> str:
    return f"{prefix}.{GROUP}"


def crd_text(prefix: str, n: int, depth: int, width: int) -> str:
    rng = random.Random(n)  # noqa: S311 -- a reproducible shape, not a secret
    head = [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        "metadata:",
        f"  name: things{n}.{group(prefix)}",
        "spec:",
        f"  group: {group(prefix)}",
        "  names:",
        f"    kind: Thing{n}",
        f"    listKind: Thing{n}List",
        f"    plural: things{n}",
        f"    singular: thing{n}",
        "  scope: Namespaced",
        "  versions:",
        "  - name: v1",
        "    served: true",
        "    storage: true",
        "    subresources:",
        "      status: {}",
        "    schema:",
        "      openAPIV3Schema:",
    ]
    return "\n".join(head + ["        " + line for line in _schema(rng, depth, width)]) + "\n"


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "s10"}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _webhook(kind: str, name: str, ns: str, service: str) -> dict[str, Any]:
    # failurePolicy Ignore and a selector nothing carries: the webhook never blocks other traffic.
    hook = {
        "name": f"{name}.{GROUP}",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": "Ignore",
        "clientConfig": {"service": {"name": service, "namespace": ns, "path": "/validate"}},
        "objectSelector": {"matchLabels": {"s10.bench.clew.dev/never": name}},
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
            }
        ],
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name),
        "webhooks": [hook],
    }


def _deployment(name: str, ns: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "containers": [
                        {
                            "name": "main",
                            "image": "registry.example/s10:1.0",
                            "args": ["--config=/etc/s10/config.yaml"],
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                        }
                    ],
                },
            },
        },
    }


def app_objects(prefix: str, components: int) -> list[dict[str, Any]]:
    """A Namespace, then per component: ServiceAccount, ClusterRole, ClusterRoleBinding,
    Role, RoleBinding, Deployment, 2 Services, 2 ConfigMaps, a Secret, 2 webhook configurations
    (13 objects per component)."""
    ns = f"{prefix}-ns"
    out: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)}]
    rbac = "rbac.authorization.k8s.io/v1"
    for c in range(components):
        name = f"{prefix}-c{c}"
        rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
        subjects = [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
        out += [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns)},
            {"apiVersion": rbac, "kind": "ClusterRole", "metadata": _meta(name), "rules": rules},
            {
                "apiVersion": rbac,
                "kind": "ClusterRoleBinding",
                "metadata": _meta(name),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": name,
                },
                "subjects": subjects,
            },
            {"apiVersion": rbac, "kind": "Role", "metadata": _meta(name, ns), "rules": rules},
            {
                "apiVersion": rbac,
                "kind": "RoleBinding",
                "metadata": _meta(name, ns),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": subjects,
            },
            _deployment(name, ns),
        ]
        for suffix in ("http", "metrics"):
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": _meta(f"{name}-{suffix}", ns),
                    "spec": {
                        "selector": {"app": name},
                        "ports": [{"name": suffix, "port": 80, "targetPort": 8080}],
                    },
                }
            )
        for suffix in ("config", "dashboards"):
            data = {f"key{i}": f"{name}-{suffix}-{i}" * 8 for i in range(10)}
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": _meta(f"{name}-{suffix}", ns),
                    "data": data,
                }
            )
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(f"{name}-tls", ns),
                "stringData": {"token": f"not-a-secret-{name}"},
            }
        )
        out.append(_webhook("ValidatingWebhookConfiguration", f"{name}-v", ns, f"{name}-http"))
        out.append(_webhook("MutatingWebhookConfiguration", f"{name}-m", ns, f"{name}-http"))
    return out


def write(shape: str, prefix: str, directory: Path) -> int:
    """Write the shape's files under ``directory``; the number of objects."""
    directory.mkdir(parents=True, exist_ok=True)
    if shape.startswith("crds"):
        count, depth, width = (12, 3, 6) if shape == "crds12" else (22, 4, 8)
        for n in range(count):
            (directory / f"crd{n:02d}.yaml").write_text(crd_text(prefix, n, depth, width))
        return count
    # 3 small CRDs as text (their schemas hold ``=``, which PyYAML cannot read back)
    (directory / "crds.yaml").write_text("---\n".join(crd_text(prefix, i, 2, 4) for i in range(3)))
    objs = app_objects(prefix, 4 if shape == "app50" else 10)
    (directory / "app.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
    return len(objs) + 3


def change(shape: str, directory: Path, mark: int) -> None:
    """Change exactly one object: one CRD's top description, or one ConfigMap value."""
    if shape.startswith("crds"):
        path = directory / "crd00.yaml"
        text = path.read_text()
        old = "description: A nested object with several properties."
        new = f"description: A nested object with several properties (edit {mark})."
        path.write_text(text.replace(old, new, 1))
        return
    path = directory / "app.yaml"
    objs = list(yaml.safe_load_all(path.read_text()))
    target = next(o for o in objs if o["kind"] == "ConfigMap")
    target["data"]["key0"] = f"edit {mark}"
    path.write_text(yaml.safe_dump_all(objs, sort_keys=False))


def definitions(shape: str, prefix: str) -> list[tuple[str, str, str]]:
    """(apiVersion, kind, name) of the cluster-scoped objects to delete after a round; the
    Namespace takes the namespaced ones with it."""
    crds = {"crds12": 12, "crds22": 22}.get(shape, 3)
    out: list[tuple[str, str, str]] = [
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"things{n}.{group(prefix)}")
        for n in range(crds)
    ]
    if shape.startswith("app"):
        for c in range(4 if shape == "app50" else 10):
            name = f"{prefix}-c{c}"
            rbac, adm = "rbac.authorization.k8s.io/v1", "admissionregistration.k8s.io/v1"
            out += [
                ("v1", "Namespace", f"{prefix}-ns"),
                (rbac, "ClusterRole", name),
                (rbac, "ClusterRoleBinding", name),
                (adm, "ValidatingWebhookConfiguration", f"{name}-v"),
                (adm, "MutatingWebhookConfiguration", f"{name}-m"),
            ]
    return list(dict.fromkeys(out))
