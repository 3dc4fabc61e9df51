"""The plan: for each desired object, what applying it would do, from a server-side-apply dry
run compared with the live object. A plan is a value; ``clew diff`` prints it and apply acts on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from clew.cluster import (
    FIELD_MANAGER,
    Cluster,
    ClusterError,
    Conflict,
    Invalid,
    NotFound,
    UnknownKind,
)
from clew.model import Action, Change, ChangeSet, Manifest
from clew.plan.diff import same, unified_diff
from clew.plan.order import sort_key


@dataclass(frozen=True, slots=True)
class PlannedObject:
    manifest: Manifest
    live: dict[str, Any] | None
    change: Change


@dataclass
class Plan:
    items: list[PlannedObject] = field(default_factory=list)
    failures: list[Change] = field(default_factory=list)  # objects that could not be planned

    def changeset(self) -> ChangeSet:
        changes = [i.change for i in self.items] + self.failures
        return ChangeSet(sorted(changes, key=lambda c: sort_key(c.ref)))

    def to_apply(self) -> list[PlannedObject]:
        return [i for i in self.items if i.change.action in (Action.CREATED, Action.CONFIGURED)]


def conflict_reason(exc: ClusterError) -> str:
    return (
        f"{exc.message}; another field manager owns these fields. Re-run with --force-conflicts "
        "to take ownership, or remove the fields from Git"
    )


def is_immutable(exc: ClusterError) -> bool:
    return isinstance(exc, Invalid) and "immutable" in exc.message


async def _plan_one(
    cluster: Cluster,
    manifest: Manifest,
    *,
    field_manager: str,
    force: bool,
    new_namespaces: set[str],
    pending_kinds: set[tuple[str, str]],
) -> PlannedObject:
    ref, obj = manifest.ref, manifest.obj
    meta = obj.get("metadata") or {}
    if (ref.group, ref.kind) in pending_kinds:
        change = Change(ref, Action.CREATED, reason="its CustomResourceDefinition is new")
        return PlannedObject(manifest, None, change)
    if meta.get("namespace") in new_namespaces:
        diff = unified_diff(ref, None, obj)
        change = Change(
            ref, Action.CREATED, reason="in a namespace created by this sync", diff=diff
        )
        return PlannedObject(manifest, None, change)
    try:
        live: dict[str, Any] | None = await cluster.get(
            str(obj["apiVersion"]), ref.kind, ref.name, ref.namespace or None
        )
    except NotFound:
        live = None
    try:
        result = await cluster.apply(obj, field_manager=field_manager, force=force, dry_run=True)
    except Conflict as exc:
        change = Change(ref, Action.FAILED, reason="Conflict", error=conflict_reason(exc))
        return PlannedObject(manifest, live, change)
    except ClusterError as exc:
        if is_immutable(exc):
            reason, message = (
                "Immutable",
                (f"{exc.message}; re-run with --recreate to delete and re-create the object"),
            )
        else:
            reason, message = type(exc).__name__, exc.message
        change = Change(ref, Action.FAILED, reason=reason, error=f"{manifest.origin}: {message}")
        return PlannedObject(manifest, live, change)
    if live is None:
        change = Change(ref, Action.CREATED, diff=unified_diff(ref, None, result))
    elif same(live, result):
        change = Change(ref, Action.UNCHANGED)
    else:
        change = Change(ref, Action.CONFIGURED, diff=unified_diff(ref, live, result))
    return PlannedObject(manifest, live, change)


async def _new_namespaces(cluster: Cluster, manifests: Sequence[Manifest]) -> set[str]:
    names = [m.ref.name for m in manifests if m.ref.kind == "Namespace" and m.ref.group == ""]
    missing: set[str] = set()
    for name in names:
        try:
            await cluster.get("v1", "Namespace", name)
        except NotFound:
            missing.add(name)
    return missing


async def make_plan(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    field_manager: str = FIELD_MANAGER,
    force: bool = False,
    concurrency: int = 16,
    pending_kinds: set[tuple[str, str]] | None = None,
) -> Plan:
    """Plan every manifest concurrently (bounded); failures are values, never exceptions."""
    new_namespaces = await _new_namespaces(cluster, manifests)
    limit = asyncio.Semaphore(concurrency)

    async def one(manifest: Manifest) -> PlannedObject:
        async with limit:
            try:
                return await _plan_one(
                    cluster,
                    manifest,
                    field_manager=field_manager,
                    force=force,
                    new_namespaces=new_namespaces,
                    pending_kinds=pending_kinds or set(),
                )
            except UnknownKind as exc:
                change = Change(
                    manifest.ref,
                    Action.FAILED,
                    reason="UnknownKind",
                    error=f"{manifest.origin}: {exc}",
                )
                return PlannedObject(manifest, None, change)

    items = await asyncio.gather(*(one(m) for m in manifests))
    return Plan(sorted(items, key=lambda i: sort_key(i.manifest.ref)))
