"""Rules every kind shares, and the rule for kinds clew knows nothing specific about.

Mirrors kstatus ``checkGenericProperties``: deletion, then the generation check, then the standard
``Stalled``/``Reconciling`` conditions decide before any kind-specific rule runs, so a controller
that speaks the kstatus conventions is understood whatever its kind. Where kstatus picks the first
of ``Reconciling``/``Stalled`` in list order, clew lets ``Stalled`` win: the worse answer should
not depend on the order a controller happened to write its conditions in.
"""

from __future__ import annotations

from typing import Any

from clew.model import Health, HealthResult
from clew.wait.health.conditions import (
    condition,
    current,
    explain,
    failed,
    field,
    in_progress,
    integer,
    text,
)


def check_generic(obj: dict[str, Any]) -> HealthResult | None:
    """A result when deletion, generation or standard conditions decide; ``None`` otherwise."""
    if text(obj, "metadata", "deletionTimestamp"):
        return HealthResult(Health.TERMINATING, "being deleted")
    if (waiting := check_generation(obj)) is not None:
        return waiting
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return failed(f"stalled: {explain(stalled) or 'no reason given'}")
    reconciling = condition(obj, "Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return in_progress(f"reconciling: {explain(reconciling) or 'no reason given'}")
    return None


def check_generation(obj: dict[str, Any], *, required: bool = False) -> HealthResult | None:
    """IN_PROGRESS while the controller has not seen the latest spec.

    Without ``required``, an object lacking either field passes (many kinds never report an
    observed generation). With it, a missing field means the controller has not acted yet; kstatus
    insists on this for DaemonSets, whose other counters read as "done" before the first sync.
    """
    generation = integer(obj, "metadata", "generation", default=-1)
    observed = integer(obj, "status", "observedGeneration", default=-1)
    if generation < 0 or observed < 0:
        if required:
            return in_progress(
                f"waiting for the controller to observe generation {max(generation, 1)}"
            )
        return None
    if observed != generation:
        return in_progress(
            f"waiting for the controller to observe generation {generation} (observed {observed})"
        )
    return None


def fallback(obj: dict[str, Any]) -> HealthResult:
    """Kinds without a rule of their own: the ``Ready`` condition if there is one, else CURRENT.

    ``Ready`` is not a kstatus condition, but it is what most operators (and Flux, and clew itself)
    publish. ``Ready=False`` only means "not yet": a controller that has given up says so with
    ``Stalled=True``, which :func:`check_generic` has already turned into FAILED. Objects with no
    status at all (ConfigMap, Secret, RBAC…) are whatever they were applied as: CURRENT.
    """
    ready = condition(obj, "Ready")
    if ready is not None:
        status = ready.get("status")
        if status == "True":
            return current(f"ready: {explain(ready)}" if explain(ready) else "ready")
        if status == "False":
            return in_progress(f"not ready: {explain(ready) or 'no reason given'}")
        return in_progress(f"readiness unknown: {explain(ready) or 'not reported yet'}")
    if field(obj, "status") is None:
        return current("no status to wait for")
    return current("current")
