"""kstatus conditions on an Application's status: Ready, Reconciling, Stalled.

Ready carries one reason per outcome (Succeeded, or the failing stage: FetchFailed, RenderFailed,
ApplyFailed, PruneFailed, HealthCheckFailed, HookFailed, DependencyNotReady, Suspended, OutOfSync,
ReconcileError for an unexpected exception, and the tenancy refusals DestinationNotAllowed and
CrossNamespaceRef): the values of :class:`clew.model.Reason`.
Reconciling is True while work is under way; Stalled is True when a permanent error ended the
attempt, so only a change can help (an invalid spec, a render error, a refused destination):
it is retried at its interval, not backed off. ``lastTransitionTime`` moves only when status
changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from clew.model import Reason

READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"
_MESSAGE_LIMIT = 1024


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: bool | None,
    reason: str,
    message: str,
    generation: int,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """A new list with condition ``kind`` set (``None`` status means Unknown)."""
    text = {True: "True", False: "False", None: "Unknown"}[status]
    stamp = now or now_rfc3339()
    previous = next((c for c in conditions if c.get("type") == kind), None)
    if previous is not None and previous.get("status") == text:
        stamp = str(previous.get("lastTransitionTime") or stamp)
    condition = {
        "type": kind,
        "status": text,
        "reason": reason,
        "message": message[:_MESSAGE_LIMIT],
        "observedGeneration": generation,
        "lastTransitionTime": stamp,
    }
    return [c for c in conditions if c.get("type") != kind] + [condition]


def remove_condition(conditions: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in conditions if c.get("type") != kind]


def get_condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def is_ready(obj: dict[str, Any]) -> bool:
    """Ready=True for the Application's current generation."""
    condition = get_condition(obj, READY)
    generation = (obj.get("metadata") or {}).get("generation")
    return (
        condition is not None
        and condition.get("status") == "True"
        and condition.get("observedGeneration") == generation
    )


def outcome(
    conditions: list[dict[str, Any]],
    *,
    ready: bool,
    reason: str,
    message: str,
    generation: int,
    stalled: bool = False,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """Conditions at the end of a reconcile: Ready set, Reconciling cleared, Stalled as given."""
    now = now or now_rfc3339()
    out = set_condition(conditions, READY, ready, reason, message, generation, now)
    out = remove_condition(out, RECONCILING)
    if stalled:
        return set_condition(out, STALLED, True, reason, message, generation, now)
    return remove_condition(out, STALLED)


def progressing(
    conditions: list[dict[str, Any]], message: str, generation: int
) -> list[dict[str, Any]]:
    """Conditions while a reconcile runs: Reconciling=True and Ready=Unknown unless it is known.

    Reconciling's ``lastTransitionTime`` is always this attempt's start, so one left True by a
    process that died says when the interrupted attempt began."""
    now = now_rfc3339()
    out = set_condition(
        remove_condition(conditions, RECONCILING),
        RECONCILING,
        True,
        Reason.PROGRESSING,
        message,
        generation,
        now,
    )
    if not any(c.get("type") == READY for c in out):
        out = set_condition(out, READY, None, Reason.PROGRESSING, message, generation, now)
    return out
