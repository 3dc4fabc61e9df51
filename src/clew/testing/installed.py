"""The controller's own identity as ``clew install`` sets it up: its ServiceAccount and RBAC in a
namespace, and a kubeconfig holding a token of that account, so a test runs the controller with
exactly the installed rights (not as cluster-admin) and sees what a real installation would.

Cluster-scoped names (ClusterRoles, ClusterRoleBindings) get the namespace as a suffix, so tests
side by side do not share them; :func:`uninstall_rbac` deletes them (they outlive the namespace).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import yaml

from clew.cluster import Cluster, NotFound
from clew.controller.api.install import CONTROLLER, manifests

__all__ = [
    "TOKEN_SECONDS",
    "install_rbac",
    "rbac_objects",
    "service_account_token",
    "token_kubeconfig",
    "uninstall_rbac",
]

TOKEN_SECONDS = 3600
_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def rbac_objects(namespace: str, **options: Any) -> list[dict[str, Any]]:
    """The ServiceAccount and RBAC objects of ``manifests(namespace, **options)``, renamed."""
    out = [obj for obj in manifests(namespace, **options) if obj["kind"] in _KINDS]
    for obj in out:
        if obj["kind"].startswith("Cluster"):
            obj["metadata"]["name"] += f"-{namespace}"
        if obj["kind"] == "ClusterRoleBinding":
            obj["roleRef"]["name"] += f"-{namespace}"
    return out


async def install_rbac(admin: Cluster, namespace: str, **options: Any) -> list[dict[str, Any]]:
    """Apply the installation's RBAC for a controller in ``namespace``; returns the objects."""
    objects = rbac_objects(namespace, **options)
    for obj in objects:
        await admin.apply(obj, field_manager="clew-testing", force=True)
    return objects


async def uninstall_rbac(admin: Cluster, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"].startswith("Cluster"):
            with contextlib.suppress(NotFound):
                await admin.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])


async def service_account_token(admin: Cluster, namespace: str, account: str = CONTROLLER) -> str:
    """A bound token of ServiceAccount ``namespace/account``, valid an hour."""
    answer = await admin.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": TOKEN_SECONDS},
        },
    )
    return str(answer["status"]["token"])


def token_kubeconfig(admin_kubeconfig: Path, token: str, out: Path, user: str = "clew") -> Path:
    """A kubeconfig for the admin kubeconfig's cluster that authenticates with ``token``."""
    config = yaml.safe_load(admin_kubeconfig.read_text())
    current = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    name = current["context"]["cluster"]
    cluster = next(c for c in config["clusters"] if c["name"] == name)
    out.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": user, "context": {"cluster": name, "user": user}}],
                "current-context": user,
            }
        )
    )
    out.chmod(0o600)
    return out
