"""Helm hooks within a sync: prepared once per sync, a phase run at the point the orchestrator
says (pre-install/upgrade before apply, post-install/upgrade after wait, pre/post-delete around
an uninstall), and the record of those that succeeded saved after each phase."""

from __future__ import annotations

from opentelemetry import trace

from clew import apply, wait
from clew.cluster import Cluster
from clew.engine.result import PlannedHook, Progress, SyncOptions, SyncResult
from clew.model import ChangeSet, HookEvent
from clew.report import tracing

__all__ = ["hook_run", "planned_hooks", "run_hooks"]

_tracer = trace.get_tracer(tracing.TRACER)


async def hook_run(
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


async def run_hooks(
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


async def planned_hooks(
    cluster: Cluster, result: SyncResult, inventory: apply.Inventory
) -> list[PlannedHook]:
    """The hooks a sync of ``result``'s render would run around its apply, in order (a dry run
    shows them; nothing is written): pre-install/post-install on a first install, else
    pre-upgrade/post-upgrade, each marked when the record says it already ran for this release."""
    if not result.hooks:
        return []
    record = await apply.load_record(cluster, inventory)
    release = apply.release_digest([*result.manifests, *(h.manifest for h in result.hooks.hooks)])
    install = not inventory.members  # as the sync decides it
    pre, post = (
        (HookEvent.PRE_INSTALL, HookEvent.POST_INSTALL)
        if install
        else (HookEvent.PRE_UPGRADE, HookEvent.POST_UPGRADE)
    )
    planned: list[PlannedHook] = []
    for event in (pre, post):
        for hook in result.hooks.phase(event):
            ref = await apply.hook_ref(cluster, hook, inventory)
            planned.append(PlannedHook(event, ref, record.done(release, event.slot, str(ref))))
    return planned
