"""Applying one sync's plan, with every write of its inventory in one transaction.

:class:`SyncPlan` is the typed plan apply takes: what to apply (in waves), what is unchanged,
what is stale (in the inventory, no longer desired). :class:`InventoryTransaction` is the only
writer of the inventory during a sync, in three steps:

1. ``begin``: before anything is applied, record the union of what the inventory held and what
   this sync adds, so a crash mid-apply loses track of nothing. When the inventory's namespace
   is one this sync creates, the union is recorded right after the stage that created it.
2. ``keep``: an apply that failed keeps owning everything it may have created (prune waits
   for a clean apply).
3. ``commit``: what clew owns from now on (applied, plus stale objects not pruned); a no-op sync
   writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clew.apply.applyset import Inventory, Member, member_of, save, sorted_members
from clew.apply.staged import ApplyItem, ApplyOptions, apply_stages
from clew.cluster import Cluster, NotFound
from clew.model import Action, Change, ChangeSet, Manifest, ObjectRef

__all__ = ["InventoryTransaction", "SyncPlan", "apply_plan"]


@dataclass
class SyncPlan:
    """What one sync applies and prunes, decided before anything is written."""

    inventory: Inventory
    desired: list[Manifest]  # labelled for the inventory; objects of another inventory left out
    waves: list[list[ApplyItem]]  # to apply, in order; unchanged objects left out
    unchanged: list[Change]
    stale: list[Member]  # in the inventory, no longer desired
    prune_order: list[ObjectRef]
    digests: dict[ObjectRef, str]  # fingerprint of each desired object
    live: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict)  # the plan's LIST
    failures: list[Change] = field(default_factory=list)  # refused while planning

    @property
    def to_apply(self) -> int:
        return sum(len(wave) for wave in self.waves)

    def members(self, applied: ChangeSet) -> list[Member]:
        """The inventory members of the desired objects ``applied`` did not fail on."""
        done = {c.ref: c for c in applied.changes if c.action is not Action.FAILED}
        members = []
        for m in self.desired:  # one lookup per object: a 5,000-object sync calls this per push
            change = done.get(m.ref)
            if change is not None:
                members.append(
                    member_of(
                        m.obj, self.digests[m.ref], change.version, change.uid, change.generation
                    )
                )
        return members


class InventoryTransaction:
    def __init__(self, cluster: Cluster, plan: SyncPlan, namespace: str) -> None:
        self.cluster = cluster
        self.inventory = plan.inventory
        recorded = {m.ref for m in plan.inventory.members}
        self._adding = [member_of(m.obj) for m in plan.desired if m.ref not in recorded]
        created_here = ObjectRef("", "Namespace", "", namespace)
        self._namespace_pending = any(m.ref == created_here for m in plan.desired)
        self._begun = False

    async def begin(self) -> None:
        try:
            await self.after_stage()
        except NotFound:
            if not self._namespace_pending:
                raise

    async def after_stage(self) -> None:
        """Record the union once; retried after each apply stage until the namespace exists."""
        if not self._begun and self._adding:
            await save(self.cluster, self.inventory, [*self.inventory.members, *self._adding])
        self._begun = True

    async def keep(self, members: list[Member]) -> None:
        await save(self.cluster, self.inventory, [*self.inventory.members, *members])

    async def commit(self, kept: list[Member]) -> None:
        if sorted_members(kept) != self.inventory.members:  # a no-op sync writes nothing
            await save(self.cluster, self.inventory, kept)


async def apply_plan(
    cluster: Cluster,
    plan: SyncPlan,
    transaction: InventoryTransaction,
    options: ApplyOptions,
    on_change: Callable[[Change], None] | None = None,
) -> ChangeSet:
    """Apply ``plan``'s waves, recording the inventory as the transaction says; the result
    holds the unchanged objects first, then one Change per object applied."""
    await transaction.begin()
    applied = await apply_stages(
        cluster,
        [wave for wave in plan.waves if wave],
        options,
        on_change=on_change,
        after_stage=transaction.after_stage,
    )
    applied.changes[:0] = plan.unchanged
    return applied
