"""Recording drift: ``status.drift`` (counts, when, which objects), the objects' sync state in
``status.resources`` (Drifted, or Synced again once reverted) and, for a revert, a record in
the audit trail. The drift watcher finds and reverts drift; this writes down that it did
(through the one status writer, :class:`~clew.controller.reconcile.status.StatusWriter`).

Best effort, like the Event: a failed write is logged and self-heal goes on. The audit record is
written first, so whoever sees the count in status finds the record in the trail.

Reverts are recorded per Application in batches (at most one status patch and one audit record a
second): under churn, one write per revert made the writes conflict with each other, retry, and
queue the reverts themselves behind them (S7: 12 requests per correction instead of 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from clew.cluster import ClusterError
from clew.controller.api.rules import SyncState
from clew.controller.api.spec import API_VERSION, KIND, AppKey, AppSpec, InvalidSpec, parse
from clew.controller.reconcile import outcomes, resources
from clew.controller.reconcile.clients import Clients
from clew.controller.reconcile.status import StatusWriter
from clew.model import Action, Change, ChangeSet, ObjectRef, Reason
from clew.report import audit, conditions
from clew.report.events import EventRecorder
from clew.report.notices import NoticeKind, Observer, SyncNotice, deliver

log = logging.getLogger("clew.controller")

OBJECTS_MAX = 5  # status.drift.lastObjects (the CRD's maxItems)
BATCH_WINDOW = 1.0  # seconds a revert waits for others of its Application before it is recorded


def status_after(
    previous: dict[str, Any] | None,
    refs: list[ObjectRef],
    *,
    corrected: bool,
    now: str,
    new: int | None = None,
) -> dict[str, Any]:
    """``status.drift`` once ``refs`` drifted: reverted (``corrected``) or only seen; ``new``
    of them (default: all) are counted, the others were counted before."""
    drift = dict(previous or {})
    field_ = "corrected" if corrected else "detected"
    drift[field_] = int(drift.get(field_) or 0) + (len(refs) if new is None else new)
    if corrected:
        drift["lastCorrected"] = now
    named = [str(r) for r in refs]
    older = [o for o in drift.get("lastObjects") or [] if o not in named]
    drift["lastObjects"] = (named + older)[:OBJECTS_MAX]
    return drift


class DriftReporter:
    """What the drift watcher found, told: notices, Events, status and the audit trail."""

    def __init__(
        self,
        writer: StatusWriter,
        clients: Clients,
        events: EventRecorder,
        observers: Sequence[Observer] = (),
        window: float = BATCH_WINDOW,
    ) -> None:
        self.writer = writer
        self.clients = clients
        self.events = events
        self.observers = observers
        self.window = window
        self._reverts: dict[AppKey, list[tuple[ObjectRef, str]]] = {}
        self._writers: dict[AppKey, asyncio.Task[None]] = {}

    async def corrected(
        self, key: AppKey, ref: ObjectRef, note: str, app: dict[str, Any] | None
    ) -> None:
        """Self-heal reverted ``ref``: the notice, an Event on ``app`` (the informer's copy,
        None once it is gone), ``status.drift`` and the audit trail."""
        notice = SyncNotice(
            NoticeKind.DRIFT_CORRECTED, key.namespace, key.name, message=note, objects=(str(ref),)
        )
        await deliver(self.observers, notice)
        if app is not None:
            await self.events.emit(
                app, type_="Normal", reason=Reason.DRIFT_CORRECTED, note=note, action="SelfHeal"
            )
        self._reverts.setdefault(key, []).append((ref, note))
        if key not in self._writers:
            self._writers[key] = asyncio.create_task(self._record_reverts(key))

    async def _record_reverts(self, key: AppKey) -> None:
        """Record ``key``'s reverts a window at a time, until none is waiting."""
        try:
            while self._reverts.get(key):
                await asyncio.sleep(self.window)
                batch = self._reverts.pop(key, [])
                refs = list(dict.fromkeys(ref for ref, _ in batch))
                note = batch[-1][1]
                if len(batch) > 1:
                    note = f"{len(batch)} reverts of {len(refs)} objects; the last: {note}"
                audit_for = self.clients.audit_for
                await record(
                    self.writer, audit_for, key, refs, note, corrected=True, new=len(batch)
                )
        finally:
            self._writers.pop(key, None)

    async def aclose(self) -> None:
        """Write what waits (within a window and a few seconds), then stop."""
        tasks = list(self._writers.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.window + 5.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def out_of_sync(self, key: AppKey, refs: list[ObjectRef]) -> None:
        """``refs`` changed outside Git and self-heal is off: Ready=False OutOfSync, an Event,
        ``status.drift`` (one object more each time: the watcher calls once per new one)."""
        try:
            app = await self.writer.cluster.get(API_VERSION, KIND, key.name, key.namespace)
        except ClusterError:
            return
        status, message = outcomes.out_of_sync(app, refs)
        with contextlib.suppress(ClusterError):
            await self.writer.patch(app, status)
        await self.events.emit(
            app, type_="Warning", reason=Reason.OUT_OF_SYNC, note=message, action="DetectDrift"
        )
        audit_for = self.clients.audit_for
        await record(self.writer, audit_for, key, refs, message, corrected=False, new=1)


async def record(
    writer: StatusWriter,
    recorder: Callable[[AppKey, AppSpec], audit.AuditRecorder],
    key: AppKey,
    refs: list[ObjectRef],
    note: str,
    *,
    corrected: bool,
    new: int | None = None,
) -> None:
    """Count drift of ``refs`` in ``key``'s status; a revert (``corrected``) is also an audit
    record, written as ``recorder(key, spec)`` (the Application's own identity when
    impersonating)."""

    def counted(app: dict[str, Any]) -> dict[str, Any]:
        status = app.get("status") or {}
        now = conditions.now_rfc3339()
        patch: dict[str, Any] = {
            "drift": status_after(status.get("drift"), refs, corrected=corrected, now=now, new=new)
        }
        listed = status.get("resources")
        if isinstance(listed, list):  # a merge patch replaces a list: send all of it
            state = SyncState.SYNCED if corrected else SyncState.DRIFTED
            patch["resources"] = resources.marked(listed, refs, state)
        return patch

    try:
        app = await writer.cluster.get(API_VERSION, KIND, key.name, key.namespace)
        if corrected:
            await _audit(recorder, key, app, refs, note)
        if not await writer.patch_guarded(app, counted):
            log.warning("status.drift of %s not written: conflicting writes", key)
    except ClusterError as exc:
        log.warning("status.drift of %s not written: %s", key, exc)


async def _audit(
    recorder: Callable[[AppKey, AppSpec], audit.AuditRecorder],
    key: AppKey,
    app: dict[str, Any],
    refs: list[ObjectRef],
    note: str,
) -> None:
    try:
        spec = parse(app, namespace=key.namespace)
    except InvalidSpec:
        return
    changes = ChangeSet()
    for ref in refs:
        changes.add(Change(ref, Action.CONFIGURED, reason=Reason.DRIFT_CORRECTED))
    await recorder(key, spec).write(  # best effort: never raises
        app,
        audit.record(
            revision=str((app.get("status") or {}).get("lastAppliedRevision") or ""),
            commit=None,
            result=Reason.DRIFT_CORRECTED,
            changes=changes,
            message=note,
        ),
    )


__all__ = ["OBJECTS_MAX", "DriftReporter", "record", "status_after"]
