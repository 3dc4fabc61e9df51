"""Recording drift: ``status.drift`` (counts, when, which objects) and, for a revert, a record
in the audit trail. The drift watcher finds and reverts drift; this writes down that it did.

Best effort, like the Event: a failed write is logged and self-heal goes on. The audit record is
written first, so whoever sees the count in status finds the record in the trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from clew.cluster import Cluster, ClusterError, Conflict
from clew.controller.api.spec import API_VERSION, KIND, AppKey, AppSpec, InvalidSpec, parse
from clew.model import Action, Change, ChangeSet, ObjectRef, Reason
from clew.report import audit, conditions

log = logging.getLogger("clew.controller")

OBJECTS_MAX = 5  # status.drift.lastObjects (the CRD's maxItems)
_ATTEMPTS = 5


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


async def record(
    cluster: Cluster,
    recorder: Callable[[AppSpec], audit.AuditRecorder],
    key: AppKey,
    refs: list[ObjectRef],
    note: str,
    *,
    corrected: bool,
    new: int | None = None,
) -> None:
    """Count drift of ``refs`` in ``key``'s status; a revert (``corrected``) is also an audit
    record, written as ``recorder(spec)`` (the Application's own identity when impersonating)."""
    try:
        app = await cluster.get(API_VERSION, KIND, key.name, key.namespace)
        if corrected:
            await _audit(recorder, key, app, refs, note)
        for _ in range(_ATTEMPTS):  # a conflicting write (a reconcile, another revert)
            counted = status_after(
                (app.get("status") or {}).get("drift"),
                refs,
                corrected=corrected,
                now=conditions.now_rfc3339(),
                new=new,
            )
            patch = {
                "metadata": {"resourceVersion": app["metadata"]["resourceVersion"]},
                "status": {"drift": counted},
            }
            try:
                await cluster.patch(
                    API_VERSION,
                    KIND,
                    key.name,
                    patch,
                    namespace=key.namespace,
                    subresource="status",
                )
                return
            except Conflict:
                app = await cluster.get(API_VERSION, KIND, key.name, key.namespace)
        log.warning("status.drift of %s not written: conflicting writes", key)
    except ClusterError as exc:
        log.warning("status.drift of %s not written: %s", key, exc)


async def _audit(
    recorder: Callable[[AppSpec], audit.AuditRecorder],
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
    await recorder(spec).write(  # best effort: never raises
        app,
        audit.record(
            revision=str((app.get("status") or {}).get("lastAppliedRevision") or ""),
            commit=None,
            result=Reason.DRIFT_CORRECTED,
            changes=changes,
            message=note,
        ),
    )


__all__ = ["OBJECTS_MAX", "record", "status_after"]
