"""PersistentVolumeClaim health: Bound is CURRENT, Lost is FAILED, anything else IN_PROGRESS.

kstatus treats Lost like Pending; clew follows gitops-engine here, because a claim whose volume
is gone will not bind again without someone acting.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import current, failed, in_progress, text


def pvc(obj: dict[str, Any]) -> HealthResult:
    phase = text(obj, "status", "phase")
    if phase == "Bound":
        volume = text(obj, "spec", "volumeName")
        return current(f"bound to {volume}" if volume else "bound")
    if phase == "Lost":
        return failed("claim lost: its PersistentVolume no longer exists")
    return in_progress(f"not bound (phase {phase or 'unknown'})")
