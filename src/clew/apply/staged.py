"""Staged server-side apply.

Stages come in order (definitions, classes, the rest); within a stage objects are applied
concurrently (bounded). After a stage that holds CRDs, clew waits until those whose kinds a later
stage applies are Established and refreshes discovery, so their custom resources can be applied
next; a CRD nothing later uses is not waited for (kubectl waits for none; ``--wait`` still checks
its health). A failed object is a value in the result, never a reason to stop reporting the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from clew.cluster import FIELD_MANAGER, Cluster, ClusterError, Conflict, Invalid, NotFound
from clew.model import Action, Change, ChangeSet, ObjectRef

CRD_API = "apiextensions.k8s.io/v1"

_tracer = trace.get_tracer("clew")


@dataclass(frozen=True, slots=True)
class ApplyItem:
    obj: dict[str, Any]
    origin: str = ""
    live_version: str | None = None  # resourceVersion before apply; None if unknown or absent

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.from_object(self.obj)


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    field_manager: str = FIELD_MANAGER
    force: bool = False  # take fields owned by other managers
    recreate: bool = False  # delete and re-create on immutable-field rejections
    concurrency: int = 16
    establish_timeout: float = 60.0
    # Wait for every CRD applied, used by a later stage or not: Helm hooks run after the
    # stages and may create custom resources of a CRD the release installs.
    establish_all: bool = False


def _immutable(exc: ClusterError) -> bool:
    return isinstance(exc, Invalid) and "immutable" in exc.message


async def _wait_gone(cluster: Cluster, item: ApplyItem, timeout: float) -> None:
    ref = item.ref
    api_version = str(item.obj["apiVersion"])

    async def gone() -> None:
        while True:
            try:
                live = await cluster.get(api_version, ref.kind, ref.name, ref.namespace or None)
            except NotFound:
                return
            version = live["metadata"]["resourceVersion"]
            async for event in cluster.watch(
                api_version,
                ref.kind,
                ref.namespace or None,
                resource_version=version,
                field_selector=f"metadata.name={ref.name}",
                timeout_seconds=int(timeout),
            ):
                if event.type == "DELETED":
                    return

    await asyncio.wait_for(gone(), timeout)


async def apply_one(cluster: Cluster, item: ApplyItem, options: ApplyOptions) -> Change:
    """Server-side apply one object: the Change says what happened (FAILED with the reason,
    never raised). The engine's waves and self-heal's reverts both apply through here."""
    ref = item.ref
    try:
        stored, created = await cluster.apply_created(
            item.obj, field_manager=options.field_manager, force=options.force
        )
        version = str(stored.get("metadata", {}).get("resourceVersion", ""))
        uid = str(stored.get("metadata", {}).get("uid", ""))
        gen = int(stored.get("metadata", {}).get("generation") or 0)
        if created:
            return Change(ref, Action.CREATED, version=version, uid=uid, generation=gen)
        if version == item.live_version:  # a no-op apply leaves the resourceVersion alone
            return Change(ref, Action.UNCHANGED, version=version, uid=uid, generation=gen)
        reason = "" if item.live_version else "adopted or changed outside clew"
        return Change(
            ref, Action.CONFIGURED, reason=reason, version=version, uid=uid, generation=gen
        )
    except Conflict as exc:
        return Change(
            ref,
            Action.FAILED,
            reason="Conflict",
            error=f"{exc.message}; re-run with --force-conflicts to take ownership of these fields",
        )
    except ClusterError as exc:
        if not _immutable(exc):
            where = f"{item.origin}: " if item.origin else ""
            return Change(ref, Action.FAILED, reason=type(exc).__name__, error=where + exc.message)
        if not options.recreate:
            return Change(
                ref,
                Action.FAILED,
                reason="Immutable",
                error=f"{exc.message}; re-run with --recreate to delete and re-create the object",
            )
    # Immutable field and recreate allowed: delete, wait until gone, apply again.
    try:
        meta = item.obj["metadata"]
        await cluster.delete(
            str(item.obj["apiVersion"]),
            ref.kind,
            ref.name,
            meta.get("namespace"),
            propagation="Foreground",
        )
        await _wait_gone(cluster, item, options.establish_timeout)
        stored = await cluster.apply(
            item.obj, field_manager=options.field_manager, force=options.force
        )
    except (ClusterError, TimeoutError) as exc:
        return Change(ref, Action.FAILED, reason="RecreateFailed", error=str(exc))
    meta = stored.get("metadata", {})
    return Change(
        ref,
        Action.CONFIGURED,
        reason="re-created: an immutable field changed",
        version=str(meta.get("resourceVersion", "")),
        uid=str(meta.get("uid", "")),
        generation=int(meta.get("generation") or 0),
    )


async def wait_established(cluster: Cluster, names: Sequence[str], timeout: float) -> list[str]:
    """Wait until each CRD is Established; returns the names that did not make it in time."""

    def established(obj: dict[str, Any]) -> bool:
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    pending = set(names)
    deadline = time.monotonic() + timeout

    async def run() -> None:
        while pending:
            crds, version = await cluster.list_objects(CRD_API, "CustomResourceDefinition")
            for crd in crds:
                if established(crd):
                    pending.discard(crd["metadata"]["name"])
            if not pending:
                return
            remaining = max(1, int(deadline - time.monotonic()))
            async for event in cluster.watch(
                CRD_API,
                "CustomResourceDefinition",
                resource_version=version,
                timeout_seconds=remaining,
            ):
                if event.type != "BOOKMARK" and established(event.object):
                    pending.discard(event.object["metadata"]["name"])
                    if not pending:
                        return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run(), timeout)
    return sorted(pending)


def _defines(crd: dict[str, Any]) -> tuple[str, str]:
    spec = crd.get("spec") or {}
    return str(spec.get("group") or ""), str((spec.get("names") or {}).get("kind") or "")


def _used_later(stages: Sequence[Sequence[ApplyItem]]) -> list[set[tuple[str, str]]]:
    """For each stage, the (group, kind) of every object a later stage applies."""
    after: list[set[tuple[str, str]]] = []
    seen: set[tuple[str, str]] = set()
    for stage in reversed(stages):
        after.append(set(seen))
        seen |= {(item.ref.group, item.ref.kind) for item in stage}
    return after[::-1]


async def apply_stages(
    cluster: Cluster,
    stages: Sequence[Sequence[ApplyItem]],
    options: ApplyOptions | None = None,
    on_change: Callable[[Change], None] | None = None,
    after_stage: Callable[[], Awaitable[None]] | None = None,
) -> ChangeSet:
    """Apply each stage in order; the ChangeSet holds one Change per item, failures included.

    ``after_stage`` runs after each stage (the engine records the inventory once its namespace
    exists)."""
    options = options or ApplyOptions()
    result = ChangeSet()
    limit = asyncio.Semaphore(options.concurrency)
    used_later = _used_later(stages)

    async def one(item: ApplyItem) -> Change:
        async with limit:
            change = await apply_one(cluster, item, options)
        if on_change is not None:
            on_change(change)
        return change

    for number, stage in enumerate(stages, start=1):
        kinds = sorted({item.ref.kind for item in stage})
        with _tracer.start_as_current_span(
            "apply.wave",
            attributes={"clew.wave": number, "clew.kinds": kinds, "clew.objects.count": len(stage)},
        ) as span:
            changes = await asyncio.gather(*(one(item) for item in stage))
            for change in changes:
                result.add(change)
            crds = [
                c.ref.name
                for item, c in zip(stage, changes, strict=True)
                if c.ref.kind == "CustomResourceDefinition"
                and c.action is not Action.FAILED
                and (options.establish_all or _defines(item.obj) in used_later[number - 1])
            ]
            late: list[str] = []
            if crds:
                late = await wait_established(cluster, crds, options.establish_timeout)
                for name in late:
                    result.add(
                        Change(
                            ObjectRef("apiextensions.k8s.io", "CustomResourceDefinition", "", name),
                            Action.FAILED,
                            reason="NotEstablished",
                            error=f"not Established within {options.establish_timeout:.0f}s",
                        )
                    )
                await cluster.discovery.refresh()  # the new kinds are served now
            failed = sum(c.action is Action.FAILED for c in changes) + len(late)
            if failed:
                span.set_attribute("clew.objects.failed", failed)
                span.set_status(Status(StatusCode.ERROR, f"{failed} of {len(stage)} failed"))
            if after_stage is not None:
                await after_stage()
    return result
