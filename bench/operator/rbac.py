"""What the controller needs beyond the restricted ServiceAccount's grants, granted to that
account by the benchmark acting as admin (as ``bench/run.py`` grants its custom resources).

The restricted account may already manage namespaced objects in every namespace (the built-in
``admin`` role), Namespaces and CRDs. The controller additionally reads and updates its
Applications, writes Events, reads Secrets (Git credentials) and holds a leader-election Lease.
Those rules are taken from ``clew install``'s own ``clew-controller`` ClusterRole and Lease Role
at run time, so the benchmark grants exactly what the shipped installation grants the
controller, minus impersonation (no benchmark Application names a ``serviceAccountName``).
:func:`beyond_brief` names every rule outside the four the benchmark brief lists, and the
report prints them: whatever else the controller turns out to need is visible, not hidden.
"""

from __future__ import annotations

import copy
from typing import Any

from clew.cluster import Cluster
from clew.controller.api import install
from clew.testing.controlplane import RESTRICTED_NAMESPACE, RESTRICTED_SA

NAME = "clew-bench-controller"
RBAC = "rbac.authorization.k8s.io/v1"
# (group, resource) the brief expects the controller to need: Applications, Events, Secrets
# (read), Leases.
BRIEF = {
    ("clew.dev", "applications"),
    ("clew.dev", "applications/status"),
    ("clew.dev", "applications/finalizers"),
    ("", "events"),
    ("events.k8s.io", "events"),
    ("", "secrets"),
    ("coordination.k8s.io", "leases"),
}


def _installed(kind: str) -> dict[str, Any]:
    for obj in install.manifests(namespace=RESTRICTED_NAMESPACE):
        if obj["kind"] == kind and obj["metadata"]["name"] == install.CONTROLLER:
            return obj
    raise LookupError(f"clew install has no {kind} {install.CONTROLLER}")


def cluster_rules() -> list[dict[str, Any]]:
    rules = copy.deepcopy(_installed("ClusterRole")["rules"])
    return [r for r in rules if "impersonate" not in r["verbs"]]


def lease_rules() -> list[dict[str, Any]]:
    return copy.deepcopy(_installed("Role")["rules"])


def beyond_brief() -> list[str]:
    """``group/resource: verbs`` for each granted rule the brief did not list."""
    out = []
    for rule in [*cluster_rules(), *lease_rules()]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                if (group, resource) not in BRIEF:
                    out.append(f"{group or 'core'}/{resource}: {', '.join(rule['verbs'])}")
    return out


def _subjects() -> list[dict[str, str]]:
    return [{"kind": "ServiceAccount", "name": RESTRICTED_SA, "namespace": RESTRICTED_NAMESPACE}]


def objects() -> list[dict[str, Any]]:
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "name": NAME}
    ns = RESTRICTED_NAMESPACE
    return [
        {
            "apiVersion": RBAC,
            "kind": "ClusterRole",
            "metadata": {"name": NAME},
            "rules": cluster_rules(),
        },
        {
            "apiVersion": RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME},
            "roleRef": {**role_ref, "kind": "ClusterRole"},
            "subjects": _subjects(),
        },
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": {"name": NAME, "namespace": ns},
            "rules": lease_rules(),
        },
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": NAME, "namespace": ns},
            "roleRef": {**role_ref, "kind": "Role"},
            "subjects": _subjects(),
        },
    ]


async def grant_controller(admin: Cluster) -> None:
    for obj in objects():
        await admin.apply(obj, field_manager="bench", force=True)
