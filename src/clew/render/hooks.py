"""Helm hooks: tell them apart from the release's ordinary objects, and put them in run order.

An object annotated ``helm.sh/hook`` is a hook, whichever renderer produced it (a chart, or
``helm template`` output committed to Git): it is never an ordinary object of the release, so it is
never applied with the others nor pruned with them. ``test`` hooks are dropped here (``helm
template --skip-tests`` already drops a chart's). Within an event, hooks run as ``helm`` runs them:
by ``helm.sh/hook-weight``, then by kind in helm's install order (unknown kinds last, by kind
name), then by name.

Helm skips an object whose hook value it does not know and reads a weight that is not an integer
as 0; clew refuses both with an error naming the object, since a typo there decides whether and
when a Job that can delete data runs. A pure function: no cluster, no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clew.model import DeletePolicy, Hook, HookEvent, Hooks, Manifest
from clew.render.errors import InvalidManifestError

HOOK = "helm.sh/hook"
WEIGHT = "helm.sh/hook-weight"
DELETE_POLICY = "helm.sh/hook-delete-policy"

# helm's releaseutil.InstallOrder (the order it creates kinds in, and sorts hooks of one weight).
_INSTALL_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_RANK = {kind: i for i, kind in enumerate(_INSTALL_ORDER)}
_EVENTS = {e.value: e for e in HookEvent} | {"test-success": HookEvent.TEST}  # helm 2's name
_POLICIES = {p.value: p for p in DeletePolicy}


def _values(raw: str) -> list[str]:
    return [v.strip().lower() for v in raw.split(",") if v.strip()]


def _text(annotations: dict[str, Any], key: str, manifest: Manifest) -> str | None:
    value = annotations.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidManifestError(
        f"{manifest.ref}: annotation {key} is {type(value).__name__}, not a string",
        file=manifest.origin,
    )


def hook_of(manifest: Manifest) -> Hook | None:
    """``manifest`` as a :class:`Hook`, or None when it is not annotated as one."""
    annotations = (manifest.obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return None
    raw = _text(annotations, HOOK, manifest)
    if raw is None:
        return None
    names = _values(raw)
    unknown = [n for n in names if n not in _EVENTS]
    if unknown or not names:
        raise InvalidManifestError(
            f"{manifest.ref}: unknown {HOOK} value {', '.join(unknown) or repr(raw)}",
            file=manifest.origin,
            hint=f"use one or more of: {', '.join(e.value for e in HookEvent)}",
        )
    weight_text = (_text(annotations, WEIGHT, manifest) or "0").strip()
    try:
        weight = int(weight_text)
    except ValueError:
        raise InvalidManifestError(
            f"{manifest.ref}: {WEIGHT} {weight_text!r} is not an integer",
            file=manifest.origin,
            hint='hook weights are integers in a string, e.g. "-5"',
        ) from None
    policy_names = _values(_text(annotations, DELETE_POLICY, manifest) or "")
    bad = [p for p in policy_names if p not in _POLICIES]
    if bad:
        raise InvalidManifestError(
            f"{manifest.ref}: unknown {DELETE_POLICY} {', '.join(bad)}",
            file=manifest.origin,
            hint=f"use one or more of: {', '.join(_POLICIES)}",
        )
    policies = frozenset(_POLICIES[p] for p in policy_names) or frozenset(
        {DeletePolicy.BEFORE_HOOK_CREATION}
    )
    return Hook(manifest, frozenset(_EVENTS[n] for n in names), weight, policies)


def run_order(hook: Hook) -> tuple[int, int, str, str]:
    """helm's order: weight, then kind rank (unknown kinds after every known one, by kind), then
    name; the namespace breaks the last tie so the order is total."""
    ref = hook.ref
    rank = _RANK.get(ref.kind, len(_RANK))
    return (
        hook.weight,
        rank,
        ref.kind if rank == len(_RANK) else "",
        f"{ref.name}/{ref.namespace}",
    )


def split_hooks(manifests: Iterable[Manifest]) -> tuple[list[Manifest], Hooks]:
    """The release's ordinary objects (in their order) and its hooks (in run order). Test hooks
    are neither: they are dropped. Raises :class:`InvalidManifestError` for a hook annotation
    clew cannot read."""
    ordinary: list[Manifest] = []
    hooks: list[Hook] = []
    for manifest in manifests:
        hook = hook_of(manifest)
        if hook is None:
            ordinary.append(manifest)
        elif hook.events != {HookEvent.TEST}:
            hooks.append(hook)
    return ordinary, Hooks(tuple(sorted(hooks, key=run_order)))
