"""Job health: CURRENT once complete, FAILED once the controller gives up, else IN_PROGRESS.

Differs from kstatus on purpose: kstatus calls a started Job Current, which lets a wait move on
while a migration Job is still running. clew waits for ``Complete``. Since Kubernetes 1.31 the
controller first writes ``FailureTarget`` (and ``SuccessCriteriaMet``) and only later, once the
pods are gone, ``Failed`` (``Complete``); the failure is decided at ``FailureTarget``, so that
already ends a wait, while success waits for ``Complete`` so no pod of the Job is still running.
A suspended Job is CURRENT, as in kstatus: it will not move until someone resumes it.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import (
    condition,
    current,
    failed,
    in_progress,
    integer,
    text,
)


def _is_true(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    found = condition(obj, kind)
    return found if found and found.get("status") == "True" else None


def job(obj: dict[str, Any]) -> HealthResult:
    parallelism = integer(obj, "spec", "parallelism", default=1)
    completions = integer(obj, "spec", "completions", default=parallelism)
    succeeded = integer(obj, "status", "succeeded")
    active = integer(obj, "status", "active")
    failures = integer(obj, "status", "failed")

    if _is_true(obj, "Complete"):
        return current(f"Job completed: {succeeded}/{completions} succeeded")
    for kind in ("Failed", "FailureTarget"):
        if gave_up := _is_true(obj, kind):
            reason = str(gave_up.get("reason") or "no reason given")
            detail = str(gave_up.get("message") or "").strip()
            return failed(f"Job failed: {reason}" + (f" ({detail})" if detail else ""))
    if _is_true(obj, "Suspended"):
        return current("Job is suspended")
    if _is_true(obj, "SuccessCriteriaMet"):
        return in_progress("Job succeeded, waiting for its pods to finish")
    if not text(obj, "status", "startTime"):
        return in_progress("Job has not started")
    return in_progress(
        f"Job running: {succeeded}/{completions} succeeded, {active} active, {failures} failed"
    )
