"""StatefulSet health: all replicas ready and on the update revision, partitions respected.

Follows kstatus ``stsConditions``. The StatefulSet controller sets no conditions, so only the
counters and revisions can tell; a failed rollout is indistinguishable from a slow one and shows
as IN_PROGRESS until the wait times out.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import current, in_progress, integer, text


def statefulset(obj: dict[str, Any]) -> HealthResult:
    if text(obj, "spec", "updateStrategy", "type") == "OnDelete":
        # Pods are replaced only when a person deletes them: nothing for a wait to wait for.
        return current("update strategy OnDelete: pods are replaced by hand")

    want = integer(obj, "spec", "replicas", default=1)
    replicas = integer(obj, "status", "replicas")
    ready = integer(obj, "status", "readyReplicas")
    current_replicas = integer(obj, "status", "currentReplicas")
    updated = integer(obj, "status", "updatedReplicas")
    partition = integer(obj, "spec", "updateStrategy", "rollingUpdate", "partition", default=-1)

    if want > replicas:
        return in_progress(f"{replicas}/{want} replicas created")
    if want > ready:
        return in_progress(f"{ready}/{want} replicas ready")
    if replicas > want:
        return in_progress(f"{replicas - want} extra replicas pending termination")

    if partition >= 0:
        # Only ordinals >= partition are updated; the rest keep the old revision on purpose, so
        # currentRevision never catches up and must not be compared.
        expected = max(want - partition, 0)
        if updated < expected:
            return in_progress(f"{updated}/{expected} replicas updated (partition {partition})")
        return current(f"partitioned rollout complete: {updated} replicas updated")

    if want > current_replicas:
        return in_progress(f"{current_replicas}/{want} replicas on the current revision")
    current_revision = text(obj, "status", "currentRevision")
    update_revision = text(obj, "status", "updateRevision")
    if current_revision != update_revision:
        return in_progress(
            f"rolling out revision {update_revision or '?'} (current {current_revision or '?'})"
        )
    return current(f"{ready}/{want} replicas ready")
