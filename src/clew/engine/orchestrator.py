"""The orchestrator: source → render → plan → apply → prune → wait → report.

This is the only code that knows the order of the stages; the CLI push path (``clew apply``) and
the operator run it the same way, and hear about it through a :class:`Progress` sink (the last
stage, report, is the sink's ``finished``). Each failing stage ends the sync with its own reason
(``FetchFailed``, ``RenderFailed``, ``ApplyFailed``, ``PruneFailed``, ``HealthCheckFailed``,
``HookFailed``), and safety rules live here: never prune after a failed fetch, render, hook or
apply, and never prune an empty desired set over a non-empty inventory unless it is explicitly
allowed. Helm hooks run around the apply (pre-install/pre-upgrade before it, post-install/
post-upgrade after prune and wait), and pre-delete/post-delete only in
:func:`clew.engine.uninstall.uninstall`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry import trace

from clew import apply, plan
from clew.cluster import Cluster, ClusterError
from clew.engine import planning, stages
from clew.engine.hooks import hook_run, planned_hooks, run_hooks
from clew.engine.result import (
    FetchSnapshot,
    Progress,
    SyncOptions,
    SyncResult,
    count,
    summary,
)
from clew.engine.waiting import wait_for_health
from clew.model import ClewError, HookEvent, Reason
from clew.report import tracing

__all__ = ["sync"]

_tracer = trace.get_tracer(tracing.TRACER)
Fail = Callable[[str, "ClewError | ClusterError | str"], SyncResult]
Timed = Callable[[str, float], None]


async def sync(
    cluster: Cluster,
    fetch: FetchSnapshot,
    options: SyncOptions,
    progress: Progress | None = None,
) -> SyncResult:
    """Run one sync; never raises for a stage failure (the result carries the reason).

    One ``sync`` span (the trace's root for ``clew apply``) with a child span per stage; the
    report (``progress.finished``) runs after it, in the caller's span."""
    progress = progress or Progress()
    inventory = f"{options.namespace}/{options.name}"
    attributes: dict[str, str | bool] = {
        tracing.INVENTORY: inventory,
        "clew.dry_run": options.dry_run,
    }
    if not trace.get_current_span().get_span_context().is_valid:
        attributes[tracing.APPLICATION] = inventory  # `clew apply`: the inventory is the app
    with _tracer.start_as_current_span("sync", attributes=attributes) as span:
        result = await _sync(cluster, fetch, options, progress)
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
    await progress.finished(result)
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
            await progress.fetched(result.snapshot)
        except (ClewError, ClusterError) as exc:
            return fail(Reason.FETCH_FAILED, exc)
        span.set_attribute(tracing.REPOSITORY, tracing.safe_url(result.snapshot.source))
        span.set_attribute(tracing.REVISION, result.snapshot.revision)
        try:
            base_options = await stages.values(options)
        except (ClewError, ClusterError) as exc:
            return fail(Reason.FETCH_FAILED, exc)
    timed("source", started)

    started = time.monotonic()
    snapshot = result.snapshot
    progress.stage("render", f"rendering {snapshot.path.relative_to(snapshot.root) or '.'}")
    with _tracer.start_as_current_span("render") as span:
        try:
            render_options = await stages.render_options(cluster, options, snapshot, base_options)
            split = await stages.render_split(snapshot, render_options)
            result.manifests, result.hooks, result.warnings = split
        except (ClewError, ClusterError) as exc:
            return fail(Reason.RENDER_FAILED, exc)
        for warning in result.warnings:
            progress.stage("render", f"warning: {warning}")
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
    fail: Fail,
    timed: Timed,
) -> SyncResult:
    started = time.monotonic()
    progress.stage("plan", "comparing with the cluster")
    with _tracer.start_as_current_span("plan") as span:
        draft = await planning.draft(cluster, options, result)
        if isinstance(draft, planning.Refusal):
            return fail(draft.reason, draft.message)
        if options.dry_run:
            failed = await planning.dry_run(cluster, options, result, draft)
            if failed:
                return fail(Reason.APPLY_FAILED, summary(failed))
            result.planned_hooks = await planned_hooks(cluster, result, draft.inventory)
            return result
        todo = await planning.compare(cluster, options, result, draft)
        result.plan = plan.Plan(failures=list(todo.failures))
        span.set_attribute("clew.objects.count", len(todo.desired))
        span.set_attribute("clew.objects.to_apply", todo.to_apply)
        span.set_attribute("clew.objects.stale", len(todo.stale))
    timed("plan", started)

    inventory = todo.inventory
    run = await hook_run(cluster, options, progress, result, inventory)
    install = not inventory.members  # helm's first install; every later sync is an upgrade
    pre = HookEvent.PRE_INSTALL if install else HookEvent.PRE_UPGRADE
    if failed_hook := await run_hooks(cluster, run, result, pre, progress):
        return fail(Reason.HOOK_FAILED, failed_hook)  # nothing applied, nothing pruned

    started = time.monotonic()
    transaction = apply.InventoryTransaction(cluster, todo, options.namespace)
    with _tracer.start_as_current_span("apply") as span:
        progress.stage("apply", f"{todo.to_apply} to apply, {len(todo.unchanged)} unchanged")
        result.applied = await apply.apply_plan(
            cluster,
            todo,
            transaction,
            apply.ApplyOptions(
                force=options.force,
                recreate=options.recreate,
                concurrency=options.concurrency,
                establish_all=run is not None,  # post hooks may create custom resources
            ),
            on_change=progress.change,
        )
        tracing.record_counts(span, count(result.applied))
        timed("apply", started)
        members = todo.members(result.applied)
        failures = list(todo.failures) + result.applied.failed
        if failures:
            await transaction.keep(members)
            return fail(Reason.APPLY_FAILED, summary(failures))

    if failed_prune := await _prune(cluster, options, progress, result, todo, transaction, timed):
        return fail(Reason.PRUNE_FAILED, failed_prune)

    if options.wait:
        started = time.monotonic()
        progress.stage("wait", f"waiting up to {options.timeout:.0f}s for health")
        with _tracer.start_as_current_span("wait", attributes={"clew.timeout": options.timeout}):
            result.health = await wait_for_health(cluster, todo.desired, result.applied, options)
            timed("wait", started)
            if not result.health.ok:
                return fail(Reason.HEALTH_CHECK_FAILED, result.health.summary())
    post = HookEvent.POST_INSTALL if install else HookEvent.POST_UPGRADE
    if failed_hook := await run_hooks(cluster, run, result, post, progress):
        return fail(Reason.HOOK_FAILED, failed_hook)
    return result


async def _prune(
    cluster: Cluster,
    options: SyncOptions,
    progress: Progress,
    result: SyncResult,
    todo: apply.SyncPlan,
    transaction: apply.InventoryTransaction,
    timed: Timed,
) -> str:
    """Prune the stale objects (when asked) and commit the inventory; the failure, else ""."""
    stale = todo.stale
    kept = todo.members(result.applied)
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
                todo.prune_order,
                set_id=todo.inventory.id,
                known=todo.live,  # the plan's LIST: one DELETE, no GET, for what it saw
                concurrency=options.concurrency,
            )
            failed_refs = {c.ref for c in result.pruned.failed}
            kept += [m for m in stale if m.ref in failed_refs]
            timed("prune", started)
        elif stale:
            kept += stale  # not pruning: still ours, so a later --prune can delete them
            result.not_pruned = {m.ref: m.api_version for m in stale}
        tracing.record_counts(span, count(result.pruned))
        started = time.monotonic()
        await transaction.commit(kept)
        timed("inventory", started)
        return summary(result.pruned.failed) if result.pruned.failed else ""
