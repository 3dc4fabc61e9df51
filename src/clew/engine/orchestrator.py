"""The orchestrator: source → render → plan → apply → prune → wait → report.

This is the only code that knows the order of the stages; the CLI push path (``clew apply``) and
the operator run it the same way. Each failing stage ends the sync with its own reason
(``FetchFailed``, ``RenderFailed``, ``ApplyFailed``, ``PruneFailed``, ``HealthCheckFailed``,
``HookFailed``), and safety rules live here: never prune after a failed fetch, render, hook or
apply, and never prune an empty desired set over a non-empty inventory unless it is explicitly
allowed. Helm hooks run around the apply (pre-install/pre-upgrade before it, post-install/
post-upgrade after prune and wait), and pre-delete/post-delete only in :func:`uninstall`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opentelemetry import trace

from clew import apply, plan, render, wait
from clew.cluster import Cluster, ClusterError, NotFound
from clew.model import (
    Action,
    Change,
    ChangeSet,
    ClewError,
    HookEvent,
    Hooks,
    Manifest,
    ObjectRef,
    Reason,
    Snapshot,
)
from clew.report import tracing

_tracer = trace.get_tracer(tracing.TRACER)


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
    # Admission (the operator's tenancy rules): given every object the sync would write or
    # prune (namespaces defaulted), an error message refuses it before anything is touched.
    admit: Callable[[list[ObjectRef]], str | None] | None = None


@dataclass
class SyncResult:
    snapshot: Snapshot | None = None
    manifests: list[Manifest] = field(default_factory=list)
    plan: plan.Plan | None = None
    applied: ChangeSet = field(default_factory=ChangeSet)
    pruned: ChangeSet = field(default_factory=ChangeSet)
    health: wait.WaitResult | None = None
    desired: list[Manifest] = field(default_factory=list)  # as applied: namespaced and labelled
    hooks: Hooks = field(default_factory=Hooks)  # rendered Helm hooks, not in ``manifests``
    hook_changes: ChangeSet = field(default_factory=ChangeSet)  # one Change per hook run
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
    """Receives progress; the CLI prints it, the operator records it. Defaults do nothing."""

    def stage(self, name: str, message: str) -> None:
        return None

    def change(self, change: Change) -> None:
        return None


FetchSnapshot = Callable[[], Awaitable[Snapshot]]


async def sync(
    cluster: Cluster,
    fetch: FetchSnapshot,
    options: SyncOptions,
    progress: Progress | None = None,
) -> SyncResult:
    """Run one sync; never raises for a stage failure (the result carries the reason).

    One ``sync`` span (the trace's root for ``clew apply``) with a child span per stage."""
    inventory = f"{options.namespace}/{options.name}"
    attributes: dict[str, str | bool] = {
        tracing.INVENTORY: inventory,
        "clew.dry_run": options.dry_run,
    }
    if not trace.get_current_span().get_span_context().is_valid:
        attributes[tracing.APPLICATION] = inventory  # `clew apply`: the inventory is the app
    with _tracer.start_as_current_span("sync", attributes=attributes) as span:
        result = await _sync(cluster, fetch, options, progress or Progress())
        if span.is_recording():  # off, skip counting
            if result.snapshot is not None:
                span.set_attribute(tracing.REPOSITORY, tracing.safe_url(result.snapshot.source))
            tracing.record_outcome(
                span,
                reason=result.reason,
                message=result.error,
                revision=result.snapshot.revision if result.snapshot else "",
                counts=count(result.changes()),
            )
        return result


async def _sync(
    cluster: Cluster, fetch: FetchSnapshot, options: SyncOptions, progress: Progress
) -> SyncResult:
    result = SyncResult()

    def timed(stage: str, started: float) -> None:
        result.durations[stage] = time.monotonic() - started

    def fail(reason: str, error: ClewError | ClusterError | str) -> SyncResult:
        result.reason, result.error = reason, str(error)
        result.cause = error if isinstance(error, Exception) else None
        progress.stage("failed", f"{reason}: {error}")
        tracing.fail(trace.get_current_span(), reason, str(error))  # the failing stage's span
        return result

    started = time.monotonic()
    progress.stage("source", "fetching")
    with _tracer.start_as_current_span("fetch") as span:
        try:
            result.snapshot = await fetch()
        except (ClewError, ClusterError) as exc:
            return fail(Reason.FETCH_FAILED, exc)
        span.set_attribute(tracing.REPOSITORY, tracing.safe_url(result.snapshot.source))
        span.set_attribute(tracing.REVISION, result.snapshot.revision)
    timed("source", started)

    started = time.monotonic()
    snapshot = result.snapshot
    progress.stage("render", f"rendering {snapshot.path.relative_to(snapshot.root) or '.'}")
    with _tracer.start_as_current_span("render") as span:
        try:
            result.manifests = await asyncio.to_thread(
                render.render,
                snapshot.root,
                str(snapshot.path.relative_to(snapshot.root)),
                options.render,
            )
            result.manifests, result.hooks = render.split_hooks(result.manifests)
        except ClewError as exc:
            return fail(Reason.RENDER_FAILED, exc)
        span.set_attribute("clew.objects.count", len(result.manifests))
    timed("render", started)
    hooks = f" and {len(result.hooks)} hooks" if result.hooks else ""
    progress.stage("render", f"{len(result.manifests)} objects{hooks}")

    try:
        return await _plan_apply_prune_wait(cluster, options, progress, result, fail, timed)
    except ClusterError as exc:  # the cluster went away mid-sync; nothing was pruned
        return fail(Reason.APPLY_FAILED, exc)


async def _plan_apply_prune_wait(
    cluster: Cluster,
    options: SyncOptions,
    progress: Progress,
    result: SyncResult,
    fail: Callable[[str, str], SyncResult],
    timed: Callable[[str, float], None],
) -> SyncResult:
    started = time.monotonic()
    progress.stage("plan", "comparing with the cluster")
    with _tracer.start_as_current_span("plan") as span:
        inventory = await apply.load(cluster, options.name, options.namespace)
        if options.prune and not result.manifests and inventory.members and not options.allow_empty:
            return fail(
                Reason.PRUNE_FAILED,
                f"Git renders no objects but the inventory '{options.name}' holds "
                f"{len(inventory.members)}; refusing to delete everything (pass --allow-empty if "
                "that is really intended)",
            )
        prepared = await plan.prepare(cluster, result.manifests, options.namespace)
        labelled = [
            Manifest(apply.label(m.obj, inventory.id, inventory.owner), m.origin)
            for m in prepared.manifests
        ]
        result.desired = labelled
        desired = {m.ref for m in labelled}
        stale = apply.candidates(inventory.members, desired)
        if options.admit is not None:
            touched = [m.ref for m in labelled] + [m.ref for m in stale if options.prune]
            refused = options.admit(touched)
            if refused:
                return fail(Reason.DESTINATION_NOT_ALLOWED, refused)
        order = plan.reverse_order([m.ref for m in stale])
        if options.dry_run:
            return await _dry_run(
                cluster, options, result, prepared, labelled, stale, order, fail, inventory.id
            )

        metas = await plan.live_metadata(
            cluster,
            labelled,
            label_selector=f"{apply.PART_OF}={inventory.id}",
            skip_kinds=prepared.pending_kinds,
        )
        live = {ref: str(meta.get("resourceVersion", "")) for ref, meta in metas.items()}
        if not options.adopt:  # another inventory's objects are conflicts, left untouched
            owners = await apply.foreign_owners(
                cluster, labelled, inventory.id, known=live, skip_kinds=prepared.pending_kinds
            )
            prepared.failures.extend(apply.conflict(ref, o) for ref, o in owners.items())
            labelled = result.desired = [m for m in labelled if m.ref not in owners]
        recorded = {m.ref: (m.digest, m.version, m.generation, m.uid) for m in inventory.members}
        digests = {m.ref: plan.fingerprint(m.obj) for m in labelled}
        unchanged = [
            Change(
                m.ref,
                Action.UNCHANGED,
                version=recorded[m.ref][1],
                uid=metas[m.ref]["uid"],
                generation=recorded[m.ref][2],
            )
            for m in labelled
            if not plan.needs_apply(m, digests[m.ref], metas, recorded, options.correct_drift)
        ]
        skip = {c.ref for c in unchanged}
        result.plan = plan.Plan(failures=list(prepared.failures))
        span.set_attribute("clew.objects.count", len(labelled))
        span.set_attribute("clew.objects.to_apply", len(labelled) - len(skip))
        span.set_attribute("clew.objects.stale", len(stale))
    timed("plan", started)

    hook_run = await _hook_run(cluster, options, progress, result, inventory)
    install = not inventory.members  # helm's first install; every later sync is an upgrade
    pre = HookEvent.PRE_INSTALL if install else HookEvent.PRE_UPGRADE
    if failed := await _run_hooks(cluster, hook_run, result, pre, progress):
        return fail(Reason.HOOK_FAILED, failed)  # nothing applied, nothing pruned

    started = time.monotonic()
    with _tracer.start_as_current_span("apply") as span:
        # Record the union first: a crash mid-apply must not lose track of anything. The
        # inventory's namespace may be one this sync creates; then it is recorded right after
        # that stage.
        before = [apply.member_of(m.obj) for m in labelled if m.ref not in recorded]
        recorded_union = False

        async def record_union() -> None:
            nonlocal recorded_union
            if not recorded_union and before:
                await apply.save(cluster, inventory, [*inventory.members, *before])
            recorded_union = True

        try:
            await record_union()
        except NotFound:
            if ObjectRef("", "Namespace", "", options.namespace) not in desired:
                raise
        stages = [
            [apply.ApplyItem(m.obj, m.origin, live.get(m.ref)) for m in stage if m.ref not in skip]
            for stage in plan.waves(labelled)
        ]
        progress.stage("apply", f"{len(labelled) - len(skip)} to apply, {len(skip)} unchanged")
        result.applied = await apply.apply_stages(
            cluster,
            [s for s in stages if s],
            apply.ApplyOptions(
                force=options.force, recreate=options.recreate, concurrency=options.concurrency
            ),
            on_change=progress.change,
            after_stage=record_union,
        )
        result.applied.changes[:0] = unchanged
        tracing.record_counts(span, count(result.applied))
        timed("apply", started)
        applied = {c.ref: c for c in result.applied.changes if c.action is not Action.FAILED}
        members = [
            apply.member_of(
                m.obj,
                digests[m.ref],
                applied[m.ref].version,
                applied[m.ref].uid,
                applied[m.ref].generation,
            )
            for m in labelled
            if m.ref in applied
        ]
        failures = list(prepared.failures) + result.applied.failed
        if failures:
            # Keep owning everything we may have created; prune waits for a clean apply.
            await apply.save(cluster, inventory, [*inventory.members, *members])
            return fail(Reason.APPLY_FAILED, _summary(failures))

    kept = list(members)
    # The prune span also covers the inventory update (what clew owns from now on).
    with _tracer.start_as_current_span(
        "prune", attributes={"clew.prune": options.prune, "clew.objects.stale": len(stale)}
    ) as span:
        if options.prune and stale:
            started = time.monotonic()
            progress.stage("prune", f"{len(stale)} no longer in Git")
            result.pruned = await apply.prune(
                cluster,
                stale,
                order,
                set_id=inventory.id,
                known=metas,  # the plan's LIST: one DELETE, no GET, for what it saw
                concurrency=options.concurrency,
            )
            failed_refs = {c.ref for c in result.pruned.failed}
            kept += [m for m in stale if m.ref in failed_refs]
            timed("prune", started)
        elif stale:
            kept += stale  # not pruning: still ours, so a later --prune can delete them
        tracing.record_counts(span, count(result.pruned))
        started = time.monotonic()
        if sorted(kept) != inventory.members:  # a no-op sync writes nothing
            await apply.save(cluster, inventory, kept)
        timed("inventory", started)
        if result.pruned.failed:
            return fail(Reason.PRUNE_FAILED, _summary(result.pruned.failed))

    if options.wait:
        started = time.monotonic()
        progress.stage("wait", f"waiting up to {options.timeout:.0f}s for health")
        with _tracer.start_as_current_span("wait", attributes={"clew.timeout": options.timeout}):
            result.health = await wait.wait_for(
                cluster, [m.obj for m in labelled], timeout=options.timeout
            )
            timed("wait", started)
            if not result.health.ok:
                return fail(Reason.HEALTH_CHECK_FAILED, result.health.summary())
    post = HookEvent.POST_INSTALL if install else HookEvent.POST_UPGRADE
    if failed := await _run_hooks(cluster, hook_run, result, post, progress):
        return fail(Reason.HOOK_FAILED, failed)
    return result


async def _dry_run(
    cluster: Cluster,
    options: SyncOptions,
    result: SyncResult,
    prepared: plan.Prepared,
    labelled: list[Manifest],
    stale: list[apply.Member],
    order: list[ObjectRef],
    fail: Callable[[str, str], SyncResult],
    set_id: str,
) -> SyncResult:
    """Plan with a server-side dry run of every object, and diffs; change nothing."""
    the_plan = await plan.make_plan(
        cluster,
        labelled,
        force=options.force,
        concurrency=options.concurrency,
        pending_kinds=prepared.pending_kinds,
    )
    the_plan.failures.extend(prepared.failures)
    if not options.adopt:
        owners = {
            i.manifest.ref: owner
            for i in the_plan.items
            if i.live and (owner := apply.foreign_owner(i.live["metadata"], set_id))
        }
        the_plan.items = [i for i in the_plan.items if i.manifest.ref not in owners]
        the_plan.failures.extend(apply.conflict(ref, o) for ref, o in owners.items())
    result.plan = the_plan
    if options.prune:
        result.pruned = await apply.prune(cluster, stale, order, set_id=set_id, dry_run=True)
    failed = the_plan.changeset().failed
    return fail(Reason.APPLY_FAILED, _summary(failed)) if failed else result


async def delete_all(
    cluster: Cluster, name: str, namespace: str, *, concurrency: int = 16
) -> ChangeSet:
    """Prune every object of inventory ``name`` and the inventory itself (an Application deleted
    with prune on). Objects that opted out with ``clew.dev/prune: disabled`` are left, and so are
    those whose live object is not this inventory's (SKIPPED, with the reason)."""
    inventory = await apply.load(cluster, name, namespace)
    order = plan.reverse_order([m.ref for m in inventory.members])
    pruned = await apply.prune(
        cluster, inventory.members, order, set_id=inventory.id, concurrency=concurrency
    )
    if not pruned.failed and inventory.exists:
        with contextlib.suppress(NotFound):
            await cluster.delete("v1", "ConfigMap", inventory.parent_name, namespace)
    return pruned


async def _hook_run(
    cluster: Cluster,
    options: SyncOptions,
    progress: Progress,
    result: SyncResult,
    inventory: apply.Inventory,
    record: apply.HookRecord | None = None,
) -> apply.HookRun | None:
    if not result.hooks:
        return None
    return await apply.prepare_hooks(
        cluster,
        inventory,
        result.manifests,
        result.hooks,
        wait.compute,
        timeout=options.timeout,
        on_change=progress.change,
        record=record,
    )


async def _run_hooks(
    cluster: Cluster,
    run: apply.HookRun | None,
    result: SyncResult,
    event: HookEvent,
    progress: Progress,
    *,
    save: bool = True,
) -> str:
    """Run the hooks of ``event`` and record which succeeded; the failure, or "" when none."""
    if run is None:
        return ""
    phase = result.hooks.phase(event)
    changes = ChangeSet()
    if phase:
        progress.stage("hooks", f"{len(phase)} {event.value}")
        with _tracer.start_as_current_span("hooks", attributes={"clew.hook.event": event.value}):
            changes = await apply.run_hooks(cluster, phase, event, run)
        result.hook_changes.extend(changes)
    if save or changes.failed:
        await apply.save_record(cluster, run.inventory, run.record)
    return changes.failed[0].error if changes.failed else ""


async def uninstall(
    cluster: Cluster,
    fetch: FetchSnapshot,
    options: SyncOptions,
    progress: Progress | None = None,
    *,
    hooks: bool = True,
) -> SyncResult:
    """Delete an application (deleted with prune on): its pre-delete hooks, then every object of
    its inventory (:func:`delete_all`), then its post-delete hooks. The source is fetched and
    rendered only when the last sync recorded delete hooks; if that fails, or a pre-delete hook
    fails, nothing is deleted. ``hooks=False`` prunes without them (their namespace is being
    deleted, so they could not run)."""
    progress = progress or Progress()
    result = SyncResult()

    def fail(reason: str, error: ClewError | str) -> SyncResult:
        result.reason, result.error = reason, str(error)
        result.cause = error if isinstance(error, Exception) else None
        return result

    inventory = await apply.load(cluster, options.name, options.namespace)
    record = await apply.load_record(cluster, inventory)
    if record.delete_hooks and hooks:
        try:
            result.snapshot = snapshot = await fetch()
            manifests = await asyncio.to_thread(
                render.render,
                snapshot.root,
                str(snapshot.path.relative_to(snapshot.root)),
                options.render,
            )
            result.manifests, result.hooks = render.split_hooks(manifests)
        except ClewError as exc:
            return fail(
                Reason.FETCH_FAILED if result.snapshot is None else Reason.RENDER_FAILED, exc
            )
    run = await _hook_run(cluster, options, progress, result, inventory, record)
    if failed := await _run_hooks(cluster, run, result, HookEvent.PRE_DELETE, progress):
        return fail(Reason.HOOK_FAILED, failed)
    result.pruned = await delete_all(
        cluster, options.name, options.namespace, concurrency=options.concurrency
    )
    if result.pruned.failed:
        return fail(Reason.PRUNE_FAILED, _summary(result.pruned.failed))
    # The record went with the inventory; it is written back only for a retry after a failure.
    if run is not None:
        run.record.stored = ""
    if failed := await _run_hooks(
        cluster, run, result, HookEvent.POST_DELETE, progress, save=False
    ):
        return fail(Reason.HOOK_FAILED, failed)
    return result


def _summary(failed: list[Change]) -> str:
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{first.ref}: {first.error or first.reason}{more}"


def count(changes: ChangeSet) -> dict[str, int]:
    return {action.value: n for action, n in changes.counts().items() if n}


__all__ = [
    "Action",
    "Progress",
    "SyncOptions",
    "SyncResult",
    "count",
    "delete_all",
    "sync",
    "uninstall",
]
