"""One reconcile attempt as the engine's :class:`~clew.engine.Progress` sink. The engine runs
every stage, reporting included, and calls:

- ``fetched`` once the revision is known, before the long work: status says ``Reconciling``
  with ``lastAttemptedRevision`` (and that an earlier attempt was interrupted, if one was).
  A first sync (no status yet) says so only once it has run :data:`FIRST_SYNC_GRACE` seconds:
  most end sooner, and their outcome is then the one status write (a slow one still shows
  Reconciling, as Argo CD and Flux users expect; one that dies within that second is not told
  as interrupted by the next attempt);
- ``finished`` with the result, whatever ended the sync: drift tracking starts (while the
  Application's drift checks are still paused), then the retry is decided, then the ``report``
  span writes status, the audit record, Events, the notice and metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from clew import engine
from clew.controller.api.spec import AppKey, AppSpec
from clew.controller.reconcile import outcomes
from clew.model import Reason, Snapshot
from clew.report import audit, conditions, tracing
from clew.report.notices import deliver

if TYPE_CHECKING:
    from clew.controller.reconcile.reconciler import Reconciler

__all__ = ["FIRST_SYNC_GRACE", "Attempt"]

FIRST_SYNC_GRACE = 1.0  # seconds

_tracer = trace.get_tracer(tracing.TRACER)
log = logging.getLogger(__name__)


class Attempt(engine.Progress):
    def __init__(
        self, r: Reconciler, key: AppKey, spec: AppSpec, app: dict[str, Any], root: trace.Span
    ) -> None:
        self.r, self.key, self.spec, self.app, self.root = r, key, spec, app, root
        self.started = time.monotonic()
        self.result = engine.SyncResult()
        self.retry: outcomes.Retry | None = None
        self._later: asyncio.Task[None] | None = None  # a first sync's Reconciling, deferred
        self._writing = False  # the deferred write has started: let it finish

    async def fetched(self, snapshot: Snapshot) -> None:
        status = self.app.get("status") or {}
        if status.get("conditions") or status.get("lastAttemptedRevision"):
            await self._begin(snapshot.revision)
        else:
            self._later = asyncio.create_task(self._begin_later(snapshot.revision))

    async def _begin_later(self, revision: str) -> None:
        await asyncio.sleep(self.r.first_sync_grace)
        self._writing = True
        await self._begin(revision)

    def close(self) -> None:
        """Drop a deferred Reconciling write that has not started (the attempt is over); one
        under way may finish, and its error, if any, is only logged: nobody waits for it."""
        later, self._later = self._later, None
        if later is None:
            return
        if not self._writing:
            later.cancel()
        later.add_done_callback(_forget)

    async def finished(self, result: engine.SyncResult) -> None:
        r, key, spec = self.r, self.key, self.spec
        self.result = result
        later, self._later = self._later, None
        if later is not None:
            if not self._writing:
                later.cancel()
            # A write under way ends before the outcome's; its error is the attempt's, as before.
            await asyncio.wait({later})
            error = None if later.cancelled() else later.exception()
            if error is not None:
                raise error
        # Track while still paused: the engine's own writes must not look like drift, and an
        # edit made the moment Ready turns True already must.
        # On another cluster too: watched there, through the Application's client.
        if (
            r.drift is not None
            and result.desired
            and result.reason in ("", Reason.HEALTH_CHECK_FAILED)
        ):
            versions = {c.ref: c.version for c in result.applied.changes if c.version}
            r.drift.track(key, spec, result.desired, versions)
        if r.drift is not None:
            r.drift.resume(key)
            if r.live is not None and spec.kube_config is None and result.desired:
                # What changed while checks were paused, and the plan may have read too early.
                client = r.clients.for_app(key, spec)
                drift = r.drift

                def handle(event_type: str, obj: dict[str, Any]) -> None:
                    drift.handle(event_type, obj, client.server)  # as its informers do

                r.live.replay(client, result.desired, result.applied.changes, handle)
        elapsed = time.monotonic() - self.started
        if self.root.is_recording():  # the runner records the result
            if result.snapshot is not None:
                self.root.set_attribute(tracing.REVISION, result.snapshot.revision)
            tracing.record_counts(self.root, engine.count(result.changes()))
        if not result.ok:
            self.retry = r.after_failure(key, spec, result.cause)
        with _tracer.start_as_current_span("report"):
            stalled = bool(self.retry and self.retry.stalled)
            await self._record(result, elapsed, stalled=stalled)

    async def _begin(self, revision: str) -> None:
        """Say that an attempt of ``revision`` is under way: one status write."""
        app = self.app
        key = AppKey.of(app)
        status = app.get("status") or {}
        note = outcomes.interrupted(
            conditions.get_condition(app, conditions.RECONCILING),
            str(status.get("lastAttemptedRevision") or ""),
        )
        message = f"syncing revision {revision[:12]}" + (f"; {note}" if note else "")
        generation = int(app["metadata"].get("generation", 0))
        await self.r.status.patch(
            app,
            {
                "conditions": conditions.progressing(
                    outcomes.conditions_of(app), message, generation
                ),
                "lastAttemptedRevision": revision,
            },
        )
        self.r.began.add(key)  # from now on, however it ends, the outcome is written
        if note:
            await self.r.event(app, "Warning", Reason.INTERRUPTED, note, revision=revision)

    async def _record(self, result: engine.SyncResult, elapsed: float, *, stalled: bool) -> None:
        r, app, spec = self.r, self.app, self.spec
        report = outcomes.after_sync(
            app, spec, result, stalled=stalled, now=conditions.now_rfc3339()
        )
        await r.status.patch(app, report.status)
        snapshot = result.snapshot
        await r.clients.audit_for(AppKey.of(app), spec).write(  # best effort: never raises
            app,
            audit.record(
                revision=snapshot.revision if snapshot else "",
                commit=snapshot.commit if snapshot else None,
                result=report.reason,
                changes=result.changes(),
                message="" if result.ok else report.message,
                duration=elapsed,
            ),
        )
        for event in report.events:
            await r.event(app, event.type, event.reason, event.note, revision=event.revision)
        await deliver(r.observers, report.notice)
        if r.metrics is not None:
            key = AppKey.of(app)
            r.metrics.observe_reconcile(report.reason, elapsed)
            r.metrics.record_changes(result.changes().counts())
            r.metrics.set_application_ready(key.namespace, key.name, result.ok)
            r.metrics.set_last_sync(key.namespace, key.name, time.time())
            if report.objects is not None:
                by_health, out_of_sync = report.objects
                r.metrics.set_application_objects(key.namespace, key.name, by_health, out_of_sync)


def _forget(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a deferred Reconciling write failed: %s", task.exception())
