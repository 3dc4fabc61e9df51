"""Drift: changes made by anyone else to objects an Application manages.

The controller's shared informers (one per kind, label-selected to ApplySet members) feed every
event here. An event whose resourceVersion is the one clew's own last write produced is ignored;
any other change is checked within the second, and only fields clew manages count:

- ``selfHeal: true``: the desired object is applied again through the engine's apply code
  (:func:`clew.apply.apply_one`: server-side apply, forcing ownership back: Git wins). One
  request. If that leaves the resourceVersion unchanged, the change touched nothing clew
  manages (say an HPA owning ``replicas`` clew does not set) and nothing is counted; otherwise
  the revert is counted and an Event names the object.
- ``selfHeal: false``: a server-side dry run says whether applying would change anything; if so
  the Application is reported OutOfSync (``clew diff app`` shows the diff).

Objects on another cluster (``destination.kubeConfig``) are watched on that cluster, through the
Application's client there; an event counts only for the Application that manages that object on
the cluster the event came from (the same ConfigMap name on two clusters is two objects).

A reconcile of the Application pauses its drift checks: the engine's own writes are not drift.
Each self-heal check is a ``drift`` span; the controller records a revert in ``status.drift``
and in the audit trail (:mod:`clew.controller.reconcile.driftrecord`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import trace

from clew.apply import PART_OF, ApplyItem, ApplyOptions, apply_one, foreign_owner
from clew.cluster import Cluster, ClusterError
from clew.controller.api.spec import AppKey, AppSpec
from clew.model import Action, Manifest, ObjectRef, Reason
from clew.plan import normalize
from clew.report import tracing

log = logging.getLogger("clew.controller.triggers.drift")

ClientFor = Callable[[AppKey, AppSpec], Cluster]
Watch = tuple[Cluster, str, str, str]
"""What a drift informer must watch: as which client, apiVersion, kind, namespace ("" for
cluster-scoped objects). An Application applied as a ServiceAccount is watched as that account,
in its objects' namespaces, so the controller itself needs no list/watch on managed kinds."""
OutOfSync = Callable[[AppKey, list[ObjectRef]], Awaitable[None]]
_tracer = trace.get_tracer(tracing.TRACER)
_HEAL = ApplyOptions(force=True, concurrency=1)


class DriftMetrics(Protocol):
    def drift_detected(self) -> None: ...
    def drift_corrected(self) -> None: ...


class Notify(Protocol):
    async def __call__(self, key: AppKey, ref: ObjectRef, note: str) -> None: ...


@dataclass
class _Tracked:
    spec: AppSpec
    server: str  # the cluster its objects are on, as its client names it
    objects: dict[ObjectRef, dict[str, Any]]
    versions: dict[ObjectRef, str]
    paused: bool = False
    busy: set[ObjectRef] = field(default_factory=set)
    # The last event seen while a check of that object was running, looked at when it ends.
    pending: dict[ObjectRef, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    out_of_sync: set[ObjectRef] = field(default_factory=set)


class DriftWatcher:
    def __init__(
        self,
        client_for: ClientFor,
        *,
        on_corrected: Notify,
        on_out_of_sync: OutOfSync,
        metrics: DriftMetrics | None = None,
        on_kinds: Callable[[set[Watch]], None] | None = None,
    ) -> None:
        self._client_for = client_for
        self._on_corrected = on_corrected
        self._on_out_of_sync = on_out_of_sync
        self._metrics = metrics
        self._on_kinds = on_kinds
        self._apps: dict[AppKey, _Tracked] = {}
        self._owner: dict[tuple[str, ObjectRef], AppKey] = {}  # by cluster server and object
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what is managed ------------------------------------------------------------------------

    def kinds(self) -> set[tuple[str, str]]:
        return {
            (str(obj["apiVersion"]), str(obj["kind"]))
            for tracked in self._apps.values()
            for obj in tracked.objects.values()
        }

    def watches(self) -> set[Watch]:
        out: set[Watch] = set()
        for key, tracked in self._apps.items():
            try:
                client = self._client_for(key, tracked.spec)
            except ClusterError:
                continue  # its remote cluster was let go; untracked on its next attempt
            for ref, obj in tracked.objects.items():
                out.add((client, str(obj["apiVersion"]), str(obj["kind"]), ref.namespace))
        return out

    def track(
        self, key: AppKey, spec: AppSpec, objects: list[Manifest], versions: dict[Any, str]
    ) -> None:
        """Record what ``key`` manages after a sync, and the versions its writes produced."""
        self.untrack(key, notify=False)
        server = self._client_for(key, spec).server
        tracked = _Tracked(spec, server, {m.ref: m.obj for m in objects}, dict(versions))
        self._apps[key] = tracked
        for ref in tracked.objects:
            self._owner[server, ref] = key
        if self._on_kinds is not None:
            self._on_kinds(self.watches())

    def untrack(self, key: AppKey, *, notify: bool = True) -> None:
        tracked = self._apps.pop(key, None)
        if tracked is None:
            return
        for ref in tracked.objects:
            if self._owner.get((tracked.server, ref)) == key:
                del self._owner[tracked.server, ref]
        if notify and self._on_kinds is not None:
            self._on_kinds(self.watches())

    def pause(self, key: AppKey) -> None:
        if key in self._apps:
            self._apps[key].paused = True

    def resume(self, key: AppKey) -> None:
        if key in self._apps:
            self._apps[key].paused = False

    def out_of_sync(self, key: AppKey) -> list[ObjectRef]:
        tracked = self._apps.get(key)
        return sorted(tracked.out_of_sync) if tracked else []

    # -- events ---------------------------------------------------------------------------------

    def handle(self, event_type: str, obj: dict[str, Any], server: str) -> None:
        """An informer event for any managed kind, from the cluster at ``server``; cheap unless
        it is drift."""
        ref = ObjectRef.from_object(obj)
        key = self._owner.get((server, ref))
        if key is None:
            return
        tracked = self._apps[key]
        if tracked.paused:
            return  # the reconcile under way records the outcome
        if ref in tracked.busy:
            tracked.pending[ref] = (event_type, obj)
            return
        version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        if event_type != "DELETED" and version == tracked.versions.get(ref):
            return  # clew's own write
        tracked.busy.add(ref)
        task = asyncio.create_task(self._check(key, tracked, ref, event_type, obj))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(
        self, key: AppKey, tracked: _Tracked, ref: ObjectRef, event_type: str, live: dict[str, Any]
    ) -> None:
        desired = tracked.objects[ref]
        try:
            client = self._client_for(key, tracked.spec)
        except ClusterError:  # its remote cluster was let go meanwhile
            tracked.busy.discard(ref)
            tracked.pending.pop(ref, None)
            return
        seen = str((live.get("metadata") or {}).get("resourceVersion", ""))
        mine = str(((desired.get("metadata") or {}).get("labels") or {}).get(PART_OF, ""))
        taken = foreign_owner(live.get("metadata") or {}, mine)
        if mine and event_type != "DELETED" and taken:
            # Another inventory adopted it: not drift to revert; its next sync reports the conflict.
            tracked.busy.discard(ref)
            tracked.pending.pop(ref, None)
            return
        try:
            if tracked.spec.self_heal:
                await self._heal(key, tracked, client, ref, event_type, seen)
            else:
                dry = (
                    None
                    if event_type == "DELETED"
                    else await client.apply(desired, force=True, dry_run=True)
                )
                drifted = dry is None or normalize(dry) != normalize(live)
                if drifted and ref not in tracked.out_of_sync:
                    tracked.out_of_sync.add(ref)
                    if self._metrics is not None:
                        self._metrics.drift_detected()
                    await self._on_out_of_sync(key, sorted(tracked.out_of_sync))
                elif not drifted and ref in tracked.out_of_sync:
                    tracked.out_of_sync.discard(ref)
        except ClusterError as exc:
            log.warning("drift check of %s failed: %s", ref, exc)
        finally:
            tracked.busy.discard(ref)
        later = tracked.pending.pop(ref, None)
        if later is not None:  # ignored when it is the echo of the write just made
            self.handle(*later, tracked.server)

    async def _heal(
        self,
        key: AppKey,
        tracked: _Tracked,
        client: Cluster,
        ref: ObjectRef,
        event_type: str,
        seen: str,
    ) -> None:
        attributes = {tracing.APPLICATION: str(key), "clew.object": str(ref)}
        with _tracer.start_as_current_span("drift", attributes=attributes) as span:
            # The engine's own apply (same field manager and error handling), forcing ownership
            # back: Git wins. A revert that left the resourceVersion alone touched nothing.
            item = ApplyItem(tracked.objects[ref], live_version=seen)
            change = await apply_one(client, item, _HEAL)
            if change.action is Action.FAILED:
                span.set_attribute(tracing.RESULT, change.reason)
                log.warning("drift check of %s failed: %s", ref, change.error or change.reason)
                return
            tracked.versions[ref] = change.version
            if event_type != "DELETED" and change.action is Action.UNCHANGED:
                span.set_attribute(tracing.RESULT, "Unchanged")  # nothing clew manages moved
                return
            span.set_attribute(tracing.RESULT, Reason.DRIFT_CORRECTED)
            if self._metrics is not None:
                self._metrics.drift_detected()
                self._metrics.drift_corrected()
            what = "re-created after deletion" if event_type == "DELETED" else "reverted"
            await self._on_corrected(key, ref, f"{ref}: {what} a change made outside Git")

    async def idle(self) -> None:
        """Wait until no check is under way (including checks that ended by starting another)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
