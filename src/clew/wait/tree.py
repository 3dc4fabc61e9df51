"""The resource tree: managed objects with their live children found through owner references
(Deployment → ReplicaSet → Pod, Job → Pod, CronJob → Job → Pod, StatefulSet → Pod, …), each with
its health (the kstatus rules of :func:`clew.wait.compute`) and a one-line reason.

Pure: :func:`build` takes the objects already read; :func:`child_kinds` says which kinds to
list to find the children of a set of kinds (one LIST per kind and namespace, matched here by
the owner's uid, rather than a GET per object). Reading is :mod:`clew.wait.livetree`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clew.model import Health, ObjectRef
from clew.wait.health import compute

__all__ = ["CHILDREN", "Node", "build", "child_kinds"]

# (group, kind) of a parent -> the (apiVersion, kind) of the children its controller creates.
CHILDREN: Mapping[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("apps", "Deployment"): (("apps/v1", "ReplicaSet"),),
    ("apps", "ReplicaSet"): (("v1", "Pod"),),
    ("apps", "StatefulSet"): (("v1", "Pod"),),
    ("apps", "DaemonSet"): (("v1", "Pod"),),
    ("batch", "Job"): (("v1", "Pod"),),
    ("batch", "CronJob"): (("batch/v1", "Job"),),
}
_REASON_MAX = 200


@dataclass(slots=True)
class Node:
    """One object of the tree; ``managed``: in the inventory (else found as a child)."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str
    health: str
    reason: str
    managed: bool
    children: list[Node] = field(default_factory=list)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.group, self.kind, self.namespace, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "health": self.health,
            "reason": self.reason,
            "managed": self.managed,
            "children": [c.to_dict() for c in self.children],
        }


def child_kinds(kinds: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (apiVersion, kind) to list to find the descendants of objects of ``kinds``
    ((group, kind) pairs): a Deployment needs ReplicaSets and, through them, Pods."""
    found: list[tuple[str, str]] = []
    todo = list(kinds)
    while todo:
        for child in CHILDREN.get(todo.pop(), ()):
            if child not in found:
                found.append(child)
                todo.append((child[0].rpartition("/")[0], child[1]))
    return sorted(found)


def build(
    members: Sequence[tuple[ObjectRef, str]],
    live: Mapping[ObjectRef, Mapping[str, Any]],
    candidates: Iterable[Mapping[str, Any]],
    unreadable: Mapping[ObjectRef, str] | None = None,
) -> list[Node]:
    """The tree of ``members`` ((ref, apiVersion) pairs, the inventory) given their live objects
    (``live``; a member missing there is NotFound, or Unknown with the reason in
    ``unreadable``) and the ``candidates`` for children (the listed ReplicaSets, Pods, Jobs):
    each candidate hangs under every object that names it in ``ownerReferences`` by uid; a
    candidate owned by nothing in the tree is left out. Sorted by namespace, kind, name."""
    managed = {_uid(obj) for obj in live.values()}
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    for obj in candidates:
        if _uid(obj) in managed:  # a managed Pod is a root of its own, not also a child
            continue
        for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("uid"):
                by_owner.setdefault(str(owner["uid"]), []).append(obj)
    seen: set[str] = set()  # uids already placed: an owner cycle cannot loop

    def grow(node: Node, obj: Mapping[str, Any]) -> Node:
        uid = _uid(obj)
        if not uid or uid in seen:
            return node
        seen.add(uid)
        for child in by_owner.get(uid, ()):
            node.children.append(grow(_node(child, managed=False), child))
        node.children.sort(key=_order)
        return node

    roots = []
    for ref, api_version in members:
        found = live.get(ref)
        if found is None:
            reason = (unreadable or {}).get(ref, "")
            health = Health.UNKNOWN if reason else Health.NOT_FOUND
            version = api_version.rpartition("/")[2]
            roots.append(
                Node(
                    ref.group,
                    version,
                    ref.kind,
                    ref.namespace,
                    ref.name,
                    health.value,
                    reason or "not found in the cluster",
                    managed=True,
                )
            )
        else:
            roots.append(grow(_node(found, managed=True), found))
    return sorted(roots, key=_order)


def _node(obj: Mapping[str, Any], *, managed: bool) -> Node:
    meta = obj.get("metadata") or {}
    api_version = str(obj.get("apiVersion") or "")
    result = compute(dict(obj))
    reason = " ".join(result.message.split())
    if len(reason) > _REASON_MAX:
        reason = reason[: _REASON_MAX - 1] + "…"
    group, _, version = api_version.rpartition("/")
    return Node(
        group,
        version,
        str(obj.get("kind") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        result.health.value,
        reason,
        managed,
    )


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _order(node: Node) -> tuple[str, str, str]:
    return (node.namespace, node.kind, node.name)
