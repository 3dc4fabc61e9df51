"""The clusters generator: one parameter set per registered cluster a label selector picks.

A cluster is registered for ApplicationSets by a kubeconfig Secret in the set's namespace,
labelled ``clew.dev/cluster: "true"``, its kubeconfig under the key ``value`` (the Secret an
Application names in ``destination.kubeConfig.secretRef``, docs/multi-cluster.md). Parameters,
as Argo CD names them:

- ``name``: the Secret's name (put it in ``kubeConfig.secretRef.name``), ``nameNormalized``;
- ``server``: the server of the kubeconfig's current context, without user information;
- ``metadata.labels.<key>`` and ``metadata.annotations.<key>`` of the Secret (not the
  ``kubectl.kubernetes.io/`` annotations: last-applied-configuration would hold the kubeconfig).

Pure: :data:`ClusterSource` hands out the Secrets (the API in the controller, fixtures in the
unit tests). A selected Secret without a usable kubeconfig is an error naming it, never a
cluster silently left out: leaving it out could delete its Applications under ``sync``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from clew.cluster.remote import DEFAULT_KEY, public_server
from clew.controller.appsets.spec import CLUSTER_LABEL, Clusters, Requirement
from clew.model import ClewError

__all__ = ["CLUSTER_SELECTOR", "ClusterSource", "cluster_params", "selected", "selects"]

CLUSTER_SELECTOR = f"{CLUSTER_LABEL}=true"  # what the API is asked for, before the set's own
ClusterSource = Callable[[Clusters], Awaitable[list[dict[str, Any]]]]
"""The registered cluster Secrets (whole objects) that the generator selects."""

_NORMALIZE = re.compile(r"[^a-z0-9.-]+")
_HIDDEN_ANNOTATIONS = "kubectl.kubernetes.io/"


def selects(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics: every requirement holds."""
    for req in requirements:
        present = req.key in labels
        if req.operator == "In" and not (present and labels[req.key] in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def cluster_params(secret: Mapping[str, Any], error: type[ClewError]) -> dict[str, str]:
    """The parameters of one registered cluster; ``error`` (the generators' error) when its
    kubeconfig gives no server."""
    meta = secret.get("metadata") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    server = public_server(secret, DEFAULT_KEY)
    if not server:
        raise error(
            f"clusters: Secret {namespace}/{name} has no kubeconfig with a server "
            f"under the key {DEFAULT_KEY!r}",
            hint="fix the Secret, or remove its clew.dev/cluster label",
        )
    params = {"name": name, "nameNormalized": _NORMALIZE.sub("-", name.lower()), "server": server}
    for key, value in sorted((meta.get("labels") or {}).items()):
        params[f"metadata.labels.{key}"] = str(value)
    for key, value in sorted((meta.get("annotations") or {}).items()):
        if not str(key).startswith(_HIDDEN_ANNOTATIONS):
            params[f"metadata.annotations.{key}"] = str(value)
    return params


def selected(secrets: list[dict[str, Any]], generator: Clusters) -> list[dict[str, Any]]:
    """The registered Secrets ``generator`` picks, by name."""
    chosen = [
        s
        for s in secrets
        if ((s.get("metadata") or {}).get("labels") or {}).get(CLUSTER_LABEL) == "true"
        and selects(generator.requirements, (s.get("metadata") or {}).get("labels") or {})
    ]
    return sorted(chosen, key=lambda s: str((s.get("metadata") or {}).get("name")))
