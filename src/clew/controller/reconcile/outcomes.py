"""What the controller does after an attempt ends: when to try again, whether the Application is
stalled, and the one-line messages for attempts that crashed or never finished.

Pure functions of the error and the retry policy, so the mapping is unit-tested without a
cluster. The rule (kopf's ``PermanentError``/``TemporaryError(delay=…)``): an error that is not
``retryable`` stalls the Application (``Stalled=True``) and it is tried again only at its
interval or when its spec changes; a retryable one comes back after its own ``delay`` when it
has one, else after an exponential backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clew.model import ClewError

_LINE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Retry:
    """When to reconcile again (seconds) and whether the failure stalls the Application."""

    after: float
    stalled: bool


def is_permanent(cause: BaseException | None) -> bool:
    return isinstance(cause, ClewError) and not cause.retryable


def after_failure(
    cause: BaseException | None,
    failures: int,
    *,
    initial: float,
    maximum: float,
    interval: float,
) -> Retry:
    """The retry after the ``failures``-th failure in a row (1 for the first) ended by ``cause``
    (None when a stage failed without an exception, say a health check that timed out)."""
    if is_permanent(cause):
        return Retry(interval, True)
    if isinstance(cause, ClewError) and cause.delay is not None:
        return Retry(max(0.0, cause.delay), False)
    return Retry(min(initial * 2 ** max(0, failures - 1), maximum), False)


def crash_message(exc: BaseException) -> str:
    """An unexpected exception as one line for a condition: the type and the first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(line) > _LINE_LIMIT:
        line = line[: _LINE_LIMIT - 1] + "…"
    return f"reconcile failed unexpectedly ({line}); the controller log has the traceback"


def interrupted(previous: dict[str, Any] | None, revision: str) -> str:
    """The note for a Reconciling condition left True by an attempt that never finished (its
    process died), else "". ``previous`` is that condition, ``revision`` the one it attempted."""
    if previous is None or previous.get("status") != "True":
        return ""
    started = str(previous.get("lastTransitionTime") or "")
    what = f"of revision {revision[:12]} " if revision else ""
    when = f"started {started} " if started else ""
    return f"the previous attempt {what}{when}was interrupted before it finished"


__all__ = ["Retry", "after_failure", "crash_message", "interrupted", "is_permanent"]
