"""Prune: delete inventory members that are no longer desired, dependants first.

The engine decides *whether* to prune (never after a failed fetch, render or apply, never an empty
desired set over a non-empty inventory unless allowed); this module only does it. It needs no LIST
call: the inventory names every member. The inventory is not trusted on its own (a tenant can edit
it): a candidate is deleted only if the live object is still this inventory's
(:func:`clew.apply.ownership.prune_verdict`). Either the sync's own label-selected LIST showed it
so, and the DELETE carries that resourceVersion as a precondition (any change since, an adoption
included, makes it fail, and the object is looked at again); or it is read first (metadata only)
and the DELETE carries its uid, so a namesake re-created in between is never hit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clew.apply.applyset import Member
from clew.apply.ownership import prune_verdict
from clew.cluster import Cluster, ClusterError, Conflict, NotFound
from clew.model import Action, Change, ChangeSet, ObjectRef

PRUNE_DISABLED = "clew.dev/prune: disabled"

_DEFINITIONS = {"Namespace", "CustomResourceDefinition"}
_CLUSTER_CLASSES = {
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "RuntimeClass",
    "GatewayClass",
}


def _groups(members: list[Member]) -> list[list[Member]]:
    def rank(m: Member) -> int:
        if m.ref.kind in _DEFINITIONS:
            return 2
        return 1 if m.ref.kind in _CLUSTER_CLASSES else 0

    groups: dict[int, list[Member]] = {}
    for member in members:
        groups.setdefault(rank(member), []).append(member)
    return [groups[k] for k in sorted(groups)]


def candidates(members: Iterable[Member], desired: set[ObjectRef]) -> list[Member]:
    return [m for m in members if m.ref not in desired]


async def prune(
    cluster: Cluster,
    members: Sequence[Member],
    order: Sequence[ObjectRef],
    *,
    set_id: str,
    known: Mapping[ObjectRef, dict[str, Any]] | None = None,
    dry_run: bool = False,
    concurrency: int = 16,
) -> ChangeSet:
    """Delete ``members`` of the ApplySet ``set_id`` in the order of ``order`` (already
    dependants-first), one kind group at a time so Namespaces and CRDs go after what lives in
    them. Members whose live object is not this ApplySet's are SKIPPED with the reason.

    ``known``: metadata from a LIST label-selected to ``set_id`` made during this sync; members
    found there cost one request instead of two."""
    by_ref = {m.ref: m for m in members}
    result = ChangeSet()
    limit = asyncio.Semaphore(concurrency)

    async def delete(member: Member) -> Change:
        if not member.prune:
            return Change(member.ref, Action.SKIPPED, reason=PRUNE_DISABLED)
        ref, api_version = member.ref, member.api_version
        async with limit:
            seen = (known or {}).get(ref)
            if seen is not None and not dry_run and not prune_verdict(member, seen, set_id):
                try:
                    await cluster.delete(
                        api_version,
                        ref.kind,
                        ref.name,
                        ref.namespace or None,
                        uid=str(seen["uid"]),
                        resource_version=str(seen["resourceVersion"]),
                    )
                    return Change(ref, Action.DELETED, reason="no longer in Git")
                except NotFound:
                    return Change(ref, Action.DELETED, reason="already gone")
                except Conflict:
                    pass  # changed since the LIST: judge the live object below
                except ClusterError as exc:
                    return Change(ref, Action.FAILED, reason=type(exc).__name__, error=exc.message)
            try:
                meta = await cluster.get_metadata(
                    api_version, ref.kind, ref.name, ref.namespace or None
                )
                meta = meta.get("metadata") or {}
                refused = prune_verdict(member, meta, set_id)
                if refused:
                    return Change(ref, Action.SKIPPED, reason=refused)
                if dry_run:
                    return Change(ref, Action.DELETED, reason="dry run: would be deleted")
                await cluster.delete(
                    api_version, ref.kind, ref.name, ref.namespace or None, uid=str(meta["uid"])
                )
            except NotFound:
                return Change(ref, Action.DELETED, reason="already gone")
            except Conflict:  # the uid precondition: replaced between the check and the delete
                return Change(ref, Action.SKIPPED, reason="kept: re-created while being pruned")
            except ClusterError as exc:
                return Change(ref, Action.FAILED, reason=type(exc).__name__, error=exc.message)
        return Change(ref, Action.DELETED, reason="no longer in Git")

    # Dependants before what holds them: everything namespaced or custom first, then classes,
    # then Namespaces and CRDs. Within a group, all at once (bounded).
    for group in _groups([by_ref[r] for r in order if r in by_ref]):
        for change in await asyncio.gather(*(delete(m) for m in group)):
            result.add(change)
    return result
