"""Read the resource tree of a set of managed objects from a cluster, in few requests: one LIST
per (kind, namespace) of the members, and one per child kind in each namespace that holds a
parent (ReplicaSets and Pods where there are Deployments), never a GET per object. The tree
itself is built by the pure :func:`clew.wait.tree.build`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from clew.cluster import Cluster, ClusterError
from clew.model import ObjectRef
from clew.wait.tree import CHILDREN, Node, build, child_kinds

__all__ = ["read_tree"]

_CONCURRENCY = 8


async def read_tree(cluster: Cluster, members: Sequence[tuple[ObjectRef, str]]) -> list[Node]:
    """The tree of ``members`` ((ref, apiVersion) pairs, an inventory's). A kind that cannot be
    listed (not served any more, or forbidden) leaves its members Unknown with the server's
    message, and their children out; it fails nothing else."""
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def listed(api_version: str, kind: str, namespace: str) -> list[dict[str, Any]] | str:
        async with gate:
            try:
                items, _ = await cluster.list_objects(api_version, kind, namespace or None)
            except ClusterError as exc:
                return f"cannot list {kind}: {exc}"
            return items

    groups: dict[tuple[str, str, str], list[ObjectRef]] = {}
    for ref, api_version in members:
        groups.setdefault((api_version, ref.kind, ref.namespace), []).append(ref)
    parents: dict[str, set[tuple[str, str]]] = {}  # namespace -> parent (group, kind)
    for ref, _ in members:
        if (ref.group, ref.kind) in CHILDREN and ref.namespace:
            parents.setdefault(ref.namespace, set()).add((ref.group, ref.kind))
    children = [
        (api_version, kind, namespace)
        for namespace, kinds in sorted(parents.items())
        for api_version, kind in child_kinds(kinds)
    ]
    wanted_children = set(children)
    keys = list(dict.fromkeys([*groups, *children]))  # a managed ReplicaSet: listed once
    answers = await asyncio.gather(*(listed(*key) for key in keys))

    live: dict[ObjectRef, dict[str, Any]] = {}
    unreadable: dict[ObjectRef, str] = {}
    candidates: list[dict[str, Any]] = []
    for key, answer in zip(keys, answers, strict=True):
        wanted = {r.name: r for r in groups.get(key, ())}
        if isinstance(answer, str):
            unreadable.update(dict.fromkeys(wanted.values(), answer))
            continue
        for obj in answer:
            member = wanted.get(str((obj.get("metadata") or {}).get("name") or ""))
            if member is not None:
                live[member] = obj
        if key in wanted_children:
            candidates.extend(answer)
    return build(members, live, candidates, unreadable)
