"""Run one phase of Helm hooks (the hooks of one event), one hook at a time, as ``helm`` does.

For each hook, in run order: skip it when it already succeeded for this release (the record in
:mod:`clew.apply.hookrecord`); delete the previous object first when its policy says
``before-hook-creation`` (helm's default); apply it (server-side, labelled ``clew.dev/hook-of``
with the inventory's id, never with the ApplySet's part-of label, so prune never sees it); a Job or
a Pod is then watched until it finishes (a Job ``Complete``, a Pod ``Succeeded``) or fails, any
other kind is done once applied. The first failure ends the phase: later hooks do not run, and the
failed one is deleted only under ``hook-failed``. Once every hook succeeded, those under
``hook-succeeded`` are deleted, last first. CustomResourceDefinitions are never deleted by a
policy (helm does the same: deleting one cascades to every custom resource).

An object of the hook's name that clew did not create as this inventory's hook is never deleted
or overwritten: the hook fails and says so. The engine decides which phase runs when; health
rules are passed in (``health``) because stages do not import each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from clew.apply.applyset import PART_OF, Inventory
from clew.apply.hookrecord import HookRecord, load_record, release_digest
from clew.cluster import FIELD_MANAGER, Cluster, ClusterError, Gone, Invalid, NotFound
from clew.model import (
    Action,
    Change,
    ChangeSet,
    DeletePolicy,
    Health,
    HealthResult,
    Hook,
    HookEvent,
    Hooks,
    Manifest,
    ObjectRef,
    Reason,
)

HOOK_OF = "clew.dev/hook-of"
DELETE_POLICY = "helm.sh/hook-delete-policy"
_RUN_TO_COMPLETION = {("batch", "Job"), ("", "Pod")}
_T = TypeVar("_T")

HealthRule = Callable[[dict[str, Any] | None], HealthResult]


@dataclass
class HookRun:
    """What every phase of one sync (or deletion) shares."""

    inventory: Inventory
    release: str  # digest of the rendered release
    record: HookRecord
    health: HealthRule
    timeout: float = 300.0  # per hook: applying it, and waiting for a Job or Pod to finish
    on_change: Callable[[Change], None] | None = None


async def prepare(
    cluster: Cluster,
    inventory: Inventory,
    manifests: Sequence[Manifest],
    hooks: Hooks,
    health: HealthRule,
    *,
    timeout: float = 300.0,
    on_change: Callable[[Change], None] | None = None,
    record: HookRecord | None = None,
) -> HookRun:
    """The shared state of this run's phases: the release digest and the stored record."""
    record = record or await load_record(cluster, inventory)
    record.delete_hooks = hooks.has(HookEvent.PRE_DELETE, HookEvent.POST_DELETE)
    release = release_digest([*manifests, *(h.manifest for h in hooks.hooks)])
    return HookRun(inventory, release, record, health, timeout, on_change)


class _HookFailed(Exception):
    pass


async def _until(
    cluster: Cluster, obj: dict[str, Any], check: Callable[[dict[str, Any] | None], _T | None]
) -> _T:
    """Watch ``obj`` by name until ``check`` returns something (it sees None once it is gone)."""
    api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
    meta = obj["metadata"]
    name, namespace = str(meta["name"]), meta.get("namespace")
    current: dict[str, Any] | None = obj
    while True:
        verdict = check(current)
        if verdict is not None:
            return verdict
        assert current is not None  # check() decides on a missing object
        version = str(current["metadata"].get("resourceVersion", ""))
        events = cluster.watch(
            api_version,
            kind,
            namespace,
            resource_version=version,
            field_selector=f"metadata.name={name}",
        )
        try:
            async with contextlib.aclosing(events):  # returning early ends the watch request
                async for event in events:
                    if event.type == "BOOKMARK":
                        continue
                    current = None if event.type == "DELETED" else event.object
                    verdict = check(current)
                    if verdict is not None:
                        return verdict
        except Gone:
            pass
        try:  # the watch ended (server timeout, or compacted): look again and go on
            current = await cluster.get(api_version, kind, name, namespace)
        except NotFound:
            current = None


async def hook_ref(cluster: Cluster, hook: Hook, inventory: Inventory) -> ObjectRef:
    """The hook's object as it is applied and recorded: namespaced ones in the inventory's
    namespace unless they name one (a kind the API server does not know: as rendered)."""
    obj = hook.manifest.obj
    try:
        resource = await cluster.discovery.resource(str(obj["apiVersion"]), str(obj["kind"]))
    except ClusterError:
        return hook.ref
    return ObjectRef.from_object(_labelled(obj, inventory, resource.namespaced))


def _labelled(obj: dict[str, Any], inventory: Inventory, namespaced: bool) -> dict[str, Any]:
    out = dict(obj)
    meta = out["metadata"] = dict(out.get("metadata") or {})
    if namespaced and not meta.get("namespace"):
        meta["namespace"] = inventory.namespace
    elif not namespaced:
        meta.pop("namespace", None)
    meta["labels"] = {**(meta.get("labels") or {}), HOOK_OF: inventory.id}
    return out


def _ours(live: dict[str, Any], inventory: Inventory) -> bool:
    """Created by this inventory as a hook (or, before clew knew hooks, as a member)."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    return inventory.id in (labels.get(HOOK_OF), labels.get(PART_OF))


async def _delete(cluster: Cluster, obj: dict[str, Any], *, wait: bool, timeout: float) -> None:
    if obj.get("kind") == "CustomResourceDefinition":
        return
    meta = obj["metadata"]
    uid = str(meta.get("uid") or "") or None
    try:
        await cluster.delete(
            str(obj["apiVersion"]), str(obj["kind"]), meta["name"], meta.get("namespace"), uid=uid
        )
    except NotFound:
        return
    if wait:  # a namesake created now would otherwise collide with the one going away

        def gone(current: dict[str, Any] | None) -> bool | None:
            return True if current is None or current["metadata"].get("uid") != uid else None

        await asyncio.wait_for(_until(cluster, obj, gone), timeout)


def _finished(
    kind: str, health: HealthRule
) -> Callable[[dict[str, Any] | None], HealthResult | None]:
    """A Job is done at Complete (Current); a Pod only once Succeeded (Running and Ready is Current
    for a Pod but not the end of a hook)."""

    def check(obj: dict[str, Any] | None) -> HealthResult | None:
        if obj is None:
            return HealthResult(Health.FAILED, "deleted before it finished")
        result = health(obj)
        if result.health is Health.FAILED:
            return result
        if kind == "Pod":
            phase = (obj.get("status") or {}).get("phase")
            return result if phase == "Succeeded" else None
        return result if result.health is Health.CURRENT else None

    return check


async def _run_one(
    cluster: Cluster, hook: Hook, event: HookEvent, run: HookRun
) -> tuple[Change, dict[str, Any] | None]:
    """The hook's change, and the object it left when it succeeded (else None)."""
    ref = hook.ref
    what = f"{event.value} hook {ref}"
    try:
        obj = hook.manifest.obj
        resource = await cluster.discovery.resource(str(obj["apiVersion"]), str(obj["kind"]))
        obj = _labelled(obj, run.inventory, resource.namespaced)
        ref = ObjectRef.from_object(obj)
        what = f"{event.value} hook {ref}"
        if run.record.done(run.release, event.slot, str(ref)):
            return Change(ref, Action.UNCHANGED, reason=f"{what}: already succeeded"), None
        try:
            live: dict[str, Any] | None = await cluster.get(
                str(obj["apiVersion"]), ref.kind, ref.name, ref.namespace or None
            )
        except NotFound:
            live = None
        if live is not None and not _ours(live, run.inventory):
            raise _HookFailed(
                "an object of that name exists and is not a hook of this application; "
                "clew leaves it alone (delete or rename it)"
            )
        if live is not None and DeletePolicy.BEFORE_HOOK_CREATION in hook.policies:
            await _delete(cluster, live, wait=True, timeout=run.timeout)
        try:
            stored, created = await cluster.apply_created(
                obj, field_manager=FIELD_MANAGER, force=True
            )
        except Invalid as exc:
            if live is None or "immutable" not in exc.message:
                raise
            raise _HookFailed(
                "it exists from an earlier run and cannot be changed in place (an immutable "
                f"field differs); add before-hook-creation to {DELETE_POLICY}, or delete it"
            ) from None
        if (resource.group, ref.kind) in _RUN_TO_COMPLETION:
            try:
                outcome = await asyncio.wait_for(
                    _until(cluster, stored, _finished(ref.kind, run.health)), run.timeout
                )
            except TimeoutError:
                last = run.health(stored).message
                raise _HookFailed(f"did not finish within {run.timeout:.0f}s ({last})") from None
            if outcome.health is not Health.CURRENT:
                if DeletePolicy.HOOK_FAILED in hook.policies:
                    await _delete(cluster, stored, wait=False, timeout=run.timeout)
                raise _HookFailed(outcome.message or outcome.health.value)
    except _HookFailed as exc:
        return Change(
            ref, Action.FAILED, reason=Reason.HOOK_FAILED, error=f"{what} failed: {exc}"
        ), None
    except (ClusterError, TimeoutError) as exc:
        error = exc.message if isinstance(exc, ClusterError) else "timed out deleting the old one"
        return Change(
            ref, Action.FAILED, reason=Reason.HOOK_FAILED, error=f"{what} failed: {error}"
        ), None
    run.record.mark(run.release, event.slot, str(ref))
    version = str(stored.get("metadata", {}).get("resourceVersion", ""))
    action = Action.CREATED if created else Action.CONFIGURED
    return Change(ref, action, reason=f"{event.value} hook succeeded", version=version), stored


async def run_phase(
    cluster: Cluster, hooks: Sequence[Hook], event: HookEvent, run: HookRun
) -> ChangeSet:
    """Run ``hooks`` (already in run order) for ``event``; one Change per hook that was reached.
    The caller saves ``run.record`` afterwards (:func:`clew.apply.hookrecord.save_record`)."""
    result = ChangeSet()
    succeeded: list[tuple[Hook, dict[str, Any]]] = []
    for hook in hooks:
        change, stored = await _run_one(cluster, hook, event, run)
        result.add(change)
        if run.on_change is not None:
            run.on_change(change)
        if change.action is Action.FAILED:
            return result
        if stored is not None:
            succeeded.append((hook, stored))
    for hook, stored in reversed(succeeded):
        if DeletePolicy.HOOK_SUCCEEDED in hook.policies:
            try:
                await _delete(cluster, stored, wait=False, timeout=run.timeout)
            except ClusterError as exc:
                ref = ObjectRef.from_object(stored)
                error = f"{event.value} hook {ref} succeeded but was not deleted: {exc.message}"
                result.add(Change(ref, Action.FAILED, reason=Reason.HOOK_FAILED, error=error))
    return result
