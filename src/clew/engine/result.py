"""The engine's inputs and outputs: what to sync and how (:class:`SyncOptions`), what happened
(:class:`SyncResult`), and the sink that hears about it while it runs (:class:`Progress`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from clew import plan, render, wait
from clew.cluster import Cluster
from clew.model import Change, ChangeSet, HookEvent, Hooks, Manifest, ObjectRef, Snapshot

__all__ = [
    "FetchSnapshot",
    "PlannedHook",
    "Progress",
    "RenderInputs",
    "SyncOptions",
    "SyncResult",
    "ValuesFrom",
    "count",
    "summary",
]

ValuesFrom = Callable[[], Awaitable[dict[str, Any]]]
"""Reads Helm values at sync time (an Application's valuesFrom)."""

RenderInputs = Callable[[Cluster, render.RenderOptions], Awaitable[render.RenderOptions]]
"""Completes the render options with inputs read from the cluster (keys, variables)."""


@dataclass(frozen=True)
class SyncOptions:
    name: str
    namespace: str = "default"
    prune: bool = False
    allow_empty: bool = False  # allow pruning everything when Git renders nothing
    dry_run: bool = False
    force: bool = False  # take fields owned by other field managers
    recreate: bool = False  # delete and re-create objects whose immutable fields changed
    adopt: bool = False  # take over objects another inventory owns (else: a conflict)
    wait: bool = False
    timeout: float = 300.0
    concurrency: int = 16
    # False: re-apply only what changed in Git; drift stays (the operator reports it OutOfSync).
    correct_drift: bool = True
    render: render.RenderOptions = field(default_factory=render.RenderOptions)
    # Inputs the render needs from the cluster (the operator's decryption keys and substitution
    # variables, read from Secrets and ConfigMaps with the sync's client): the complete options.
    render_inputs: RenderInputs | None = None
    # Admission (the operator's tenancy rules): given every object the sync would write or
    # prune (namespaces defaulted), an error message refuses it before anything is touched.
    admit: Callable[[list[ObjectRef]], str | None] | None = None
    # Helm values read at sync time (an Application's valuesFrom): replace render.values.
    values_from: ValuesFrom | None = None
    # Live objects a watch already holds (the controller's drift informers): the plan reads
    # their versions there instead of a LIST per kind, once they have seen clew's last apply.
    live: plan.LiveCache | None = None


@dataclass(frozen=True, slots=True)
class PlannedHook:
    """A Helm hook a sync would run (a dry run's answer): its phase, and whether the hook record
    says it already succeeded for this very release (then the sync skips it)."""

    event: HookEvent
    ref: ObjectRef
    already_ran: bool


@dataclass
class SyncResult:
    snapshot: Snapshot | None = None
    manifests: list[Manifest] = field(default_factory=list)
    plan: plan.Plan | None = None
    applied: ChangeSet = field(default_factory=ChangeSet)
    pruned: ChangeSet = field(default_factory=ChangeSet)
    # Gone from Git but kept because prune is off: ref -> apiVersion (still in the inventory).
    not_pruned: dict[ObjectRef, str] = field(default_factory=dict)
    health: wait.WaitResult | None = None
    desired: list[Manifest] = field(default_factory=list)  # as applied: namespaced and labelled
    hooks: Hooks = field(default_factory=Hooks)  # rendered Helm hooks, not in ``manifests``
    hook_changes: ChangeSet = field(default_factory=ChangeSet)  # one Change per hook run
    planned_hooks: list[PlannedHook] = field(default_factory=list)  # a dry run's: what would run
    warnings: list[str] = field(default_factory=list)  # e.g. files the render did not read
    reason: str = ""  # empty when the sync succeeded; otherwise the failing stage's reason
    error: str = ""
    cause: Exception | None = None  # the error that ended the sync, if one did (its retry hint)
    durations: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)  # HTTP requests by method (the CLI's)

    @property
    def ok(self) -> bool:
        return not self.reason

    def changes(self) -> ChangeSet:
        """Everything that happened, or would happen in a dry run, one Change per object."""
        out = ChangeSet()
        applied = {c.ref for c in self.applied.changes}
        if self.plan is not None:
            for change in self.plan.changeset().changes:
                if change.ref not in applied:
                    out.add(change)
        out.extend(self.hook_changes)
        out.extend(self.applied)
        out.extend(self.pruned)
        return out


class Progress:
    """The sink a sync reports to while it runs: the CLI prints stages and changes, the operator
    writes status. Defaults do nothing. The engine calls ``fetched`` once the revision is known
    (before the long work) and ``finished`` with the result, whatever ended the sync: reporting
    is the last stage, and the engine runs it."""

    def stage(self, name: str, message: str) -> None:
        return None

    def change(self, change: Change) -> None:
        return None

    async def fetched(self, snapshot: Snapshot) -> None:
        return None

    async def finished(self, result: SyncResult) -> None:
        return None


FetchSnapshot = Callable[[], Awaitable[Snapshot]]


def summary(failed: list[Change]) -> str:
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{first.ref}: {first.error or first.reason}{more}"


def count(changes: ChangeSet) -> dict[str, int]:
    return {action.value: n for action, n in changes.counts().items() if n}
