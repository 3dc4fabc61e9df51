"""Deleting an application: its pre-delete hooks, every object of its inventory, the inventory,
its post-delete hooks (:func:`uninstall`); or only the objects (:func:`delete_all`)."""

from __future__ import annotations

import contextlib

from clew import apply, plan
from clew.cluster import Cluster, ClusterError, NotFound
from clew.engine import stages
from clew.engine.hooks import hook_run, run_hooks
from clew.engine.result import FetchSnapshot, Progress, SyncOptions, SyncResult, summary
from clew.model import ChangeSet, ClewError, HookEvent, ObjectRef, Reason

__all__ = ["delete_all", "uninstall"]


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
    deleted, so they could not run). ``options.admit`` (the tenancy rules) is asked about every
    object prune would delete and every delete hook it would run, as a sync's prune and hooks
    are: if it refuses, nothing is touched."""
    progress = progress or Progress()
    result = SyncResult()

    def fail(reason: str, error: ClewError | str) -> SyncResult:
        result.reason, result.error = reason, str(error)
        result.cause = error if isinstance(error, Exception) else None
        return result

    inventory = await apply.load(cluster, options.name, options.namespace)
    if options.admit is not None:
        doomed = [m.ref for m in inventory.members if m.prune]
        if inventory.exists:  # the inventory ConfigMap goes too
            doomed.append(ObjectRef("", "ConfigMap", inventory.namespace, inventory.parent_name))
        refused = options.admit(doomed)
        if refused:
            return fail(Reason.DESTINATION_NOT_ALLOWED, f"not deleting anything: {refused}")
    record = await apply.load_record(cluster, inventory)
    if record.delete_hooks and hooks:
        try:
            result.snapshot = snapshot = await fetch()
            base_options = await stages.values(options)
            render_options = await stages.render_options(cluster, options, snapshot, base_options)
            result.manifests, result.hooks, _ = await stages.render_split(snapshot, render_options)
        except (ClewError, ClusterError) as exc:
            return fail(
                Reason.FETCH_FAILED if result.snapshot is None else Reason.RENDER_FAILED, exc
            )
    if options.admit is not None and result.hooks:
        delete_hooks = result.hooks.phase(HookEvent.PRE_DELETE) + result.hooks.phase(
            HookEvent.POST_DELETE
        )
        refused = options.admit([await apply.hook_ref(cluster, h, inventory) for h in delete_hooks])
        if refused:
            return fail(Reason.DESTINATION_NOT_ALLOWED, f"not deleting anything: {refused}")
    run = await hook_run(cluster, options, progress, result, inventory, record)
    if failed := await run_hooks(cluster, run, result, HookEvent.PRE_DELETE, progress):
        return fail(Reason.HOOK_FAILED, failed)
    result.pruned = await delete_all(
        cluster, options.name, options.namespace, concurrency=options.concurrency
    )
    if result.pruned.failed:
        return fail(Reason.PRUNE_FAILED, summary(result.pruned.failed))
    # The record went with the inventory; it is written back only for a retry after a failure.
    if run is not None:
        run.record.stored = ""
    if failed := await run_hooks(cluster, run, result, HookEvent.POST_DELETE, progress, save=False):
        return fail(Reason.HOOK_FAILED, failed)
    return result
