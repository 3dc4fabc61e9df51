"""Namespace health: phase Active is CURRENT, Terminating is TERMINATING.

A deleted namespace normally carries ``deletionTimestamp``, which the generic rule reads first;
the phase is checked as well so that a status written alone still reads right.
"""

from __future__ import annotations

from typing import Any

from clew.model import Health, HealthResult
from clew.wait.health.conditions import current, in_progress, text


def namespace(obj: dict[str, Any]) -> HealthResult:
    phase = text(obj, "status", "phase")
    if phase == "Active":
        return current("active")
    if phase == "Terminating":
        return HealthResult(Health.TERMINATING, "namespace is terminating")
    return in_progress(f"phase {phase or 'not reported yet'}")
