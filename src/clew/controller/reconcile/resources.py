"""``status.resources``: one entry per managed object (group, version, kind, namespace, name,
health with a one-line reason, sync state), bounded, with the total when there are more.

Pure functions, like the rest of the outcome: :func:`entries` turns a sync's result into the
list, :func:`marked` changes the sync state of some entries when the drift watcher records
drift (``Drifted``) or reverts it (``Synced``). When an Application has more objects than
:data:`RESOURCES_MAX`, the entries that need attention (not healthy, not in sync) are kept
first, so truncation never hides a failing object behind healthy ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clew.apply import PRUNE_DISABLED
from clew.controller.api.rules import RESOURCE_MESSAGE_MAX, RESOURCES_MAX, SyncState
from clew.engine import SyncResult
from clew.model import Action, Health, ObjectRef

__all__ = [
    "bounded",
    "entries",
    "listed",
    "marked",
    "still_drifted",
    "summary",
]


_KEYS = ("group", "kind", "namespace", "name")


def entries(result: SyncResult) -> tuple[list[dict[str, Any]], int]:
    """The entries of ``result`` (at most :data:`RESOURCES_MAX`) and how many objects there are."""
    out = listed(result)
    return bounded(out), len(out)


def listed(result: SyncResult) -> list[dict[str, Any]]:
    """One entry per object of ``result``, all of them, in no particular order."""
    results = result.health.results if result.health is not None else {}
    changes = list(result.plan.failures if result.plan else []) + list(result.applied.changes)
    failed = {c.ref: c.error or c.reason for c in changes if c.action is Action.FAILED}
    touched = {c.ref for c in changes}
    out: list[dict[str, Any]] = []
    seen: set[ObjectRef] = set()
    for manifest in result.desired:
        ref = manifest.ref
        if ref in seen:
            continue
        seen.add(ref)
        if ref in results:
            health, message = results[ref].health.value, results[ref].message
        else:  # not waited for (spec.wait off, or the sync ended before the wait)
            health, message = Health.UNKNOWN.value, "health not checked by this sync"
        state = SyncState.SYNCED
        if ref in failed:
            state, message = SyncState.OUT_OF_SYNC, failed[ref]
        elif ref not in touched:  # the sync stopped before this object's wave
            state, message = SyncState.OUT_OF_SYNC, "not applied: the sync stopped before it"
        out.append(_entry(ref, str(manifest.obj.get("apiVersion") or ""), health, message, state))
    # Still live and not in Git: prune is off, the object opted out, or its delete failed (an
    # object prune skipped as not owned is someone else's, not this Application's).
    kept = [(r, v, "not in Git any more; prune is off") for r, v in result.not_pruned.items()]
    for change in result.pruned.changes:
        if change.action is Action.SKIPPED and change.reason == PRUNE_DISABLED:
            kept.append((change.ref, "", f"not in Git any more; {change.reason}"))
        elif change.action is Action.FAILED:
            kept.append((change.ref, "", f"prune failed: {change.error or change.reason}"))
    for ref, api_version, why in kept:
        if ref not in seen:
            seen.add(ref)
            out.append(_entry(ref, api_version, Health.UNKNOWN.value, why, SyncState.PRUNE_PENDING))
    return out


def bounded(items: list[dict[str, Any]], limit: int = RESOURCES_MAX) -> list[dict[str, Any]]:
    """``items`` in a stable order; past ``limit``, those needing attention are kept first."""
    if len(items) > limit:
        items = sorted(items, key=lambda e: not _attention(e))[:limit]
    return sorted(items, key=_order)


def marked(
    previous: Iterable[dict[str, Any]], refs: Iterable[ObjectRef], state: SyncState
) -> list[dict[str, Any]]:
    """``previous`` (the status's entries) with the entries of ``refs`` in ``state``."""
    keys = {_key(r) for r in refs}
    return [{**e, "sync": state.value} if _key_of(e) in keys else dict(e) for e in previous]


def summary(items: Iterable[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """Objects by health (the kstatus value) and how many are not Synced."""
    by_health: dict[str, int] = {h.value: 0 for h in Health}
    unsynced = 0
    for entry in items:
        health = str(entry.get("health") or Health.UNKNOWN.value)
        by_health[health] = by_health.get(health, 0) + 1
        unsynced += entry.get("sync") != SyncState.SYNCED.value
    return by_health, unsynced


def _entry(
    ref: ObjectRef, api_version: str, health: str, message: str, state: SyncState
) -> dict[str, Any]:
    version = api_version.rpartition("/")[2]
    line = " ".join(message.split())
    if len(line) > RESOURCE_MESSAGE_MAX:
        line = line[: RESOURCE_MESSAGE_MAX - 1] + "…"
    return {
        "group": ref.group,
        "version": version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "health": health,
        "message": line,
        "sync": state.value,
    }


def still_drifted(
    previous: Iterable[dict[str, Any]], items: list[dict[str, Any]], result: SyncResult
) -> list[dict[str, Any]]:
    """``items`` with the objects ``previous`` listed as Drifted still Drifted when this sync
    left them as they were (self-heal off: a sync re-applies only what changed in Git)."""
    unchanged = {c.ref for c in result.applied.changes if c.action is Action.UNCHANGED}
    keys = {_key(r) for r in unchanged}
    drifted = {_key_of(e) for e in previous if e.get("sync") == SyncState.DRIFTED.value}
    return [
        {**e, "sync": SyncState.DRIFTED.value}
        if _key_of(e) in drifted & keys and e["sync"] == SyncState.SYNCED.value
        else e
        for e in items
    ]


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    return (ref.group, ref.kind, ref.namespace, ref.name)


def _key_of(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    group, kind, namespace, name = (str(entry.get(k) or "") for k in _KEYS)
    return (group, kind, namespace, name)


def _attention(entry: dict[str, Any]) -> bool:
    return bool(entry["health"] != Health.CURRENT.value or entry["sync"] != SyncState.SYNCED.value)


def _order(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    return (entry["namespace"], entry["group"], entry["kind"], entry["name"])
