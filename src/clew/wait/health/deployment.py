"""Deployment health: every replica updated and available, unless the progress deadline passed.

Follows kstatus ``deploymentConditions``: the counters are checked first, in the order a rollout
fills them in, then the ``Progressing``/``Available`` conditions confirm the controller agrees.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import (
    conditions,
    current,
    failed,
    in_progress,
    integer,
)

# The controller treats an unset deadline as "never"; it then never writes Progressing=True with
# NewReplicaSetAvailable, so that condition cannot be required.
_NO_DEADLINE = 2**31 - 1


def deployment(obj: dict[str, Any]) -> HealthResult:
    progressing = integer(obj, "spec", "progressDeadlineSeconds", default=_NO_DEADLINE) == (
        _NO_DEADLINE
    )
    available = False
    for cond in conditions(obj):
        if cond["type"] == "Progressing":
            if cond.get("reason") == "ProgressDeadlineExceeded":
                detail = str(cond.get("message") or "").strip()
                return failed("progress deadline exceeded" + (f": {detail}" if detail else ""))
            if cond.get("status") == "True" and cond.get("reason") == "NewReplicaSetAvailable":
                progressing = True
        elif cond["type"] == "Available" and cond.get("status") == "True":
            available = True

    want = integer(obj, "spec", "replicas", default=1)  # the controller's default
    replicas = integer(obj, "status", "replicas")
    updated = integer(obj, "status", "updatedReplicas")
    ready = integer(obj, "status", "readyReplicas")
    available_replicas = integer(obj, "status", "availableReplicas")

    if want > replicas:
        return in_progress(f"{replicas}/{want} replicas created")
    if want > updated:
        return in_progress(f"{updated}/{want} replicas updated")
    if replicas > want:
        return in_progress(f"{replicas - want} old replicas pending termination")
    if updated > available_replicas:
        return in_progress(f"{available_replicas}/{updated} replicas available")
    if want > ready:
        return in_progress(f"{ready}/{want} replicas ready")
    if not progressing:
        return in_progress("waiting for the new ReplicaSet to become available")
    if not available:
        return in_progress("waiting for the Deployment to report Available")
    return current(f"{available_replicas}/{want} replicas available")
