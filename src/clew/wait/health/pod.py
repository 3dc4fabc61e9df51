"""Pod health from its phase, Ready condition and container states.

Follows kstatus ``podConditions`` with two deliberate differences, both because a Pod clew waits
for is one it applied itself (not one a Job owns and retries):

- phase ``Failed`` is FAILED (kstatus: Current, "completed, but not successfully");
- ``Unschedulable`` stays IN_PROGRESS with the scheduler's reason (kstatus turns it Failed after a
  15 s window measured with the wall clock, which a pure function cannot read).

A container in ``CrashLoopBackOff`` is FAILED, as in kstatus. Other waiting reasons
(``ImagePullBackOff``, ``ErrImagePull``, ``CreateContainerConfigError``…) stay IN_PROGRESS, as in
kstatus, since a registry or a Secret can still appear; the message names the reason so a timeout
says why.
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
    text,
)

# Waiting reasons of a container that is simply starting; anything else is worth reporting.
_STARTING = frozenset({"", "ContainerCreating", "PodInitializing"})


def _statuses(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, containerStatus) for init containers, then app containers."""
    found: list[tuple[str, dict[str, Any]]] = []
    for key, label in (
        ("initContainerStatuses", "init container"),
        ("containerStatuses", "container"),
    ):
        entries = field(obj, "status", key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                found.append((f"{label} {entry.get('name', '?')}", entry))
    return found


def _waiting(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(container label, reason, message) of containers waiting for something other than start."""
    out: list[tuple[str, str, str]] = []
    for label, entry in _statuses(obj):
        waiting = field(entry, "state", "waiting")
        if isinstance(waiting, dict) and str(waiting.get("reason") or "") not in _STARTING:
            out.append((label, str(waiting["reason"]), str(waiting.get("message") or "").strip()))
    return out


def _describe(waiting: list[tuple[str, str, str]]) -> str:
    return "; ".join(
        f"{label} {reason}" + (f" ({message})" if message else "")
        for label, reason, message in waiting
    )


def _why_failed(obj: dict[str, Any]) -> str:
    """The pod's own reason (Evicted, DeadlineExceeded), else its failed containers' exits."""
    reason, message = text(obj, "status", "reason"), text(obj, "status", "message")
    if reason or message:
        return ": ".join(p for p in (reason, message) if p)
    exits = []
    for label, entry in _statuses(obj):
        done = field(entry, "state", "terminated")
        if isinstance(done, dict) and done.get("exitCode") not in (0, None):
            exits.append(
                f"{label} exited with code {done.get('exitCode')} ({done.get('reason') or 'Error'})"
            )
    return "; ".join(exits) or "no reason given"


def pod(obj: dict[str, Any]) -> HealthResult:
    phase = text(obj, "status", "phase")
    if phase == "Succeeded":
        return current("pod succeeded")
    if phase == "Failed":
        return failed(f"pod failed: {_why_failed(obj)}")
    if phase not in ("", "Running", "Pending"):
        return HealthResult(Health.UNKNOWN, f"pod phase is {phase}")

    ready = condition(obj, "Ready")
    if phase == "Running" and ready and ready.get("status") == "True":
        return current("pod is ready")
    waiting = _waiting(obj)
    crashing = [w for w in waiting if w[1] == "CrashLoopBackOff"]
    if crashing:
        return failed(_describe(crashing))
    if waiting:
        return in_progress(_describe(waiting))
    if phase == "Running":
        containers = [entry for label, entry in _statuses(obj) if label.startswith("container ")]
        ready_count = sum(1 for entry in containers if entry.get("ready") is True)
        return in_progress(f"running, {ready_count}/{len(containers)} containers ready")
    if phase == "Pending":
        scheduled = condition(obj, "PodScheduled")
        if scheduled and scheduled.get("status") == "False":
            return in_progress(f"not scheduled: {explain(scheduled) or 'no reason given'}")
        return in_progress("pending")
    return in_progress("waiting for the pod to be scheduled")
