"""The restricted ServiceAccount that tests and benchmarks act as.

Not in ``system:masters``, so API Priority and Fairness applies to it as it does to a real
controller. Bound to the built-in ``admin`` ClusterRole in every namespace, plus Namespaces and
CustomResourceDefinitions cluster-wide; nothing else (no RBAC escalation beyond ``admin``, no
nodes, no cluster-scoped policy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clew.cluster import Cluster

TOKEN_SECONDS = 7 * 24 * 3600

CLUSTER_ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "clew:restricted"},
    "rules": [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
    ],
}


def _binding(name: str, role: str, namespace: str, account: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


async def ensure_restricted_account(
    admin_kubeconfig: Path | None, namespace: str, account: str
) -> str:
    """Create (idempotently) the account and its bindings; return a fresh bound token."""
    async with Cluster.from_kubeconfig(admin_kubeconfig) as admin:
        objects = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": namespace},
            },
            CLUSTER_ROLE,
            _binding(f"{account}:admin", "admin", namespace, account),
            _binding(f"{account}:cluster", "clew:restricted", namespace, account),
        ]
        for obj in objects:
            await admin.apply(obj, field_manager="clew-testing", force=True)
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": TOKEN_SECONDS},
        }
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
        answer = await admin.request("POST", path, body=request)
        return str(answer["status"]["token"])
