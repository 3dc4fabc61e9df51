"""ReplicaSet health: as many labelled, available and ready pods as asked for.

Follows kstatus ``replicasetConditions``. ``ReplicaFailure`` (quota exceeded, admission denied)
stays IN_PROGRESS as in kstatus, because the controller retries and quota can be freed, but its
reason is what the message shows.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import condition, current, explain, in_progress, integer


def replicaset(obj: dict[str, Any]) -> HealthResult:
    failure = condition(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return in_progress(f"cannot create pods: {explain(failure) or 'ReplicaFailure'}")
    want = integer(obj, "spec", "replicas", default=1)
    replicas = integer(obj, "status", "replicas")
    labelled = integer(obj, "status", "fullyLabeledReplicas")
    available = integer(obj, "status", "availableReplicas")
    ready = integer(obj, "status", "readyReplicas")
    if want > labelled:
        return in_progress(f"{labelled}/{want} replicas labelled")
    if want > available:
        return in_progress(f"{available}/{want} replicas available")
    if want > ready:
        return in_progress(f"{ready}/{want} replicas ready")
    if replicas > want:
        return in_progress(f"{replicas - want} extra replicas pending termination")
    return current(f"{available}/{want} replicas available")
