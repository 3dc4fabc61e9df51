"""Prune: delete inventory members that are no longer desired, dependants first.

The engine decides *whether* to prune (never after a failed fetch, render or apply, never an empty
desired set over a non-empty inventory unless allowed); this module only does it. It needs no LIST
call: the inventory names every member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from clew.apply.applyset import Member
from clew.cluster import Cluster, ClusterError, NotFound
from clew.model import Action, Change, ChangeSet, ObjectRef


def candidates(members: Iterable[Member], desired: set[ObjectRef]) -> list[Member]:
    return [m for m in members if m.ref not in desired]


async def prune(
    cluster: Cluster,
    members: Sequence[Member],
    order: Sequence[ObjectRef],
    *,
    dry_run: bool = False,
    concurrency: int = 16,
) -> ChangeSet:
    """Delete ``members`` in the order of ``order`` (already dependants-first), one kind group at
    a time so Namespaces and CRDs go after what lives in them."""
    by_ref = {m.ref: m for m in members}
    result = ChangeSet()
    limit = asyncio.Semaphore(concurrency)

    async def delete(member: Member) -> Change:
        if not member.prune:
            return Change(member.ref, Action.SKIPPED, reason="clew.dev/prune: disabled")
        if dry_run:
            return Change(member.ref, Action.DELETED, reason="dry run: would be deleted")
        async with limit:
            try:
                await cluster.delete(
                    member.api_version,
                    member.ref.kind,
                    member.ref.name,
                    member.ref.namespace or None,
                )
            except NotFound:
                return Change(member.ref, Action.DELETED, reason="already gone")
            except ClusterError as exc:
                return Change(
                    member.ref, Action.FAILED, reason=type(exc).__name__, error=exc.message
                )
        return Change(member.ref, Action.DELETED, reason="no longer in Git")

    # Group consecutive refs of one kind: the order between kinds matters, within a kind not.
    batch: list[Member] = []
    for ref in [*order, None]:
        member = by_ref.get(ref) if ref is not None else None
        if batch and (member is None or member.ref.kind != batch[0].ref.kind):
            for change in await asyncio.gather(*(delete(m) for m in batch)):
                result.add(change)
            batch = []
        if member is not None:
            batch.append(member)
    return result
