"""DaemonSet health: a pod updated and available on every node that should run one.

Follows kstatus ``daemonsetConditions``. Unlike other kinds, the generation fields must be present:
before the controller's first sync every counter is zero and would read as "0 of 0, done".
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import current, in_progress, integer
from clew.wait.health.generic import check_generation


def daemonset(obj: dict[str, Any]) -> HealthResult:
    if (waiting := check_generation(obj, required=True)) is not None:
        return waiting
    desired = integer(obj, "status", "desiredNumberScheduled", default=-1)
    if desired < 0:
        return in_progress("waiting for the controller to count the nodes to schedule on")
    scheduled = integer(obj, "status", "currentNumberScheduled")
    updated = integer(obj, "status", "updatedNumberScheduled")
    available = integer(obj, "status", "numberAvailable")
    ready = integer(obj, "status", "numberReady")
    if desired > scheduled:
        return in_progress(f"{scheduled}/{desired} pods scheduled")
    if desired > updated:
        return in_progress(f"{updated}/{desired} pods updated")
    if desired > available:
        return in_progress(f"{available}/{desired} pods available")
    if desired > ready:
        return in_progress(f"{ready}/{desired} pods ready")
    return current(f"{available}/{desired} pods available")
