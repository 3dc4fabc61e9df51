"""Apply order: a total order (stage, kind rank, namespace, name), and the stages themselves.

Stage 0 holds definitions others depend on (CRDs, Namespaces): they are applied and must be
established before anything else. Stage 1 holds cluster-wide classes and roles. Stage 2 is the
rest. Prune deletes in the reverse order.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from clew.model import Manifest, ObjectRef


class Stage(enum.IntEnum):
    DEFINITIONS = 0
    CLASSES = 1
    RESOURCES = 2


_DEFINITIONS = {("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "Namespace")}
_CLASSES = {
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("networking.k8s.io", "IngressClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("gateway.networking.k8s.io", "GatewayClass"),
}
# Within a stage, dependencies before dependants (the order Helm and kubectl users know).
_KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "IngressClass",
    "RuntimeClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Job",
    "CronJob",
    "Ingress",
    "APIService",
)
_RANK = {kind: i for i, kind in enumerate(_KIND_ORDER)}


def stage_of(ref: ObjectRef) -> Stage:
    key = (ref.group, ref.kind)
    if key in _DEFINITIONS:
        return Stage.DEFINITIONS
    if key in _CLASSES:
        return Stage.CLASSES
    return Stage.RESOURCES


def sort_key(ref: ObjectRef) -> tuple[int, int, str, str, str]:
    return (stage_of(ref), _RANK.get(ref.kind, len(_RANK)), ref.namespace, ref.name, ref.group)


def ordered(manifests: Iterable[Manifest]) -> list[Manifest]:
    return sorted(manifests, key=lambda m: sort_key(m.ref))


def stages(manifests: Iterable[Manifest]) -> list[list[Manifest]]:
    """Manifests grouped by stage, each group in apply order; empty stages are left out."""
    groups: dict[Stage, list[Manifest]] = {}
    for manifest in ordered(manifests):
        groups.setdefault(stage_of(manifest.ref), []).append(manifest)
    return [groups[s] for s in sorted(groups)]


# Kinds other objects refer to by name; applied one wave before the rest of their stage, so a
# RoleBinding finds its Role (RBAC checks it) and a Pod its ServiceAccount and ConfigMaps.
_REFERENCED = {
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Role",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "PersistentVolume",
    "PersistentVolumeClaim",
}


def waves(manifests: Iterable[Manifest]) -> list[list[Manifest]]:
    """Apply groups, finer than stages and as few as possible: definitions; classes; referenced
    kinds; everything else. Each group is applied only after the one before it; within a group
    everything goes at once."""
    groups: dict[tuple[int, int], list[Manifest]] = {}
    for manifest in ordered(manifests):
        ref = manifest.ref
        stage = stage_of(ref)
        second = 1 if stage is Stage.RESOURCES and ref.kind not in _REFERENCED else 0
        groups.setdefault((stage, second), []).append(manifest)
    return [groups[k] for k in sorted(groups)]


def reverse_order(refs: Sequence[ObjectRef]) -> list[ObjectRef]:
    """Deletion order: dependants first, definitions (Namespaces, CRDs) last."""
    return sorted(refs, key=sort_key, reverse=True)
