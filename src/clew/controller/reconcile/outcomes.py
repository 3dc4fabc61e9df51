"""What the controller does after an attempt ends: the status, Events and notice a sync's result
becomes (:func:`after_sync`), when to try again, whether the Application is stalled, and the
one-line messages for attempts that crashed or never finished.

Pure functions of the result, the error and the retry policy, so the mapping is unit-tested
without a cluster (golden fixtures in tests/unit/fixtures/outcomes). The rule (kopf's
``PermanentError``/``TemporaryError(delay=…)``): an error that is not ``retryable`` stalls the
Application (``Stalled=True``) and it is tried again only at its interval or when its spec
changes; a retryable one comes back after its own ``delay`` when it has one, else after an
exponential backoff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clew import apply
from clew.controller.api.spec import AppSpec
from clew.controller.reconcile import resources
from clew.engine import SyncResult
from clew.model import Action, Change, ChangeSet, ClewError, Health, ObjectRef, Reason
from clew.report import conditions, history
from clew.report.notices import NoticeKind, SyncNotice

_LINE_LIMIT = 300
# Results after which the live objects are what this sync applied (some perhaps failed or
# unhealthy): status.resources is rewritten. After an earlier failure it keeps the last list.
_APPLIED_REASONS = (
    Reason.APPLY_FAILED,
    Reason.PRUNE_FAILED,
    Reason.HEALTH_CHECK_FAILED,
    Reason.HOOK_FAILED,  # a post-sync hook; a pre-sync one fails before anything is applied
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the controller does next with this key."""

    requeue_after: float | None  # None: wait for a change to the Application
    ok: bool
    reason: str
    stalled: bool = False  # a permanent failure: no retry before the interval or a spec change


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


@dataclass(frozen=True, slots=True)
class Note:
    """One Event to emit on the Application."""

    type: str  # Normal or Warning
    reason: str
    note: str
    revision: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """What one finished sync becomes: the status patch, the Events, the observers' notice."""

    reason: str  # Succeeded, or the failing stage's reason
    message: str
    status: dict[str, Any]
    events: tuple[Note, ...]
    notice: SyncNotice
    # Objects by health and how many are not Synced, over all of them (status.resources may
    # hold fewer): the per-Application metrics. None when status.resources is not rewritten.
    objects: tuple[dict[str, int], int] | None = None


def finished(
    app: dict[str, Any],
    *,
    ok: bool,
    reason: str,
    message: str,
    stalled: bool = False,
    now: str | None = None,
) -> dict[str, Any]:
    """The status patch of an attempt that ended before (or without) a sync: conditions only."""
    generation = int(app["metadata"].get("generation", 0))
    return {
        "conditions": conditions.outcome(
            conditions_of(app),
            ready=ok,
            reason=reason,
            message=message,
            generation=generation,
            stalled=stalled,
            now=now,
        ),
        "observedGeneration": generation,
    }


def after_sync(
    app: dict[str, Any], spec: AppSpec, result: SyncResult, *, stalled: bool, now: str
) -> Report:
    """The status patch, Events and notice of a sync's ``result`` (``now``: RFC 3339)."""
    snapshot = result.snapshot
    revision = snapshot.revision if snapshot else ""
    changes = result.changes()
    counts = changes.counts()
    created, configured = counts[Action.CREATED], counts[Action.CONFIGURED]
    deleted = counts[Action.DELETED]
    reason = Reason.SUCCEEDED if result.ok else result.reason
    if result.ok:
        message = (
            f"applied revision {revision[:12]}: {created} created, "
            f"{configured} configured, {deleted} deleted"
        )
    else:
        message = result.error
    kept = not_owned(result.pruned)
    if kept:
        message += f"; kept {len(kept)} objects not owned (see Events)"
    for warning in result.warnings:  # e.g. files the render did not read: never silent
        message += f"; warning: {warning}"
    status = finished(app, ok=result.ok, reason=reason, message=message, stalled=stalled, now=now)
    if revision:
        status["lastAttemptedRevision"] = revision
    if revision and result.reason in ("", Reason.HEALTH_CHECK_FAILED):
        status["lastAppliedRevision"] = revision
        status["inventory"] = {"entries": len(result.desired)}
    objects: tuple[dict[str, int], int] | None = None
    if result.ok or (result.reason in _APPLIED_REASONS and result.applied.changes):
        every = resources.listed(result)
        objects = resources.summary(every)
        items, total = resources.bounded(every), len(every)
        previous = (app.get("status") or {}).get("resources")
        if isinstance(previous, list) and not spec.self_heal:
            items = resources.still_drifted(previous, items, result)
        status["resources"] = items
        status["resourcesTotal"] = total
        status["resourcesTruncated"] = total > len(items)
    if result.health is not None:
        status["healthCounts"] = health_counts(r.health for r in result.health.results.values())
    commit = snapshot.commit if snapshot else None
    if snapshot is not None:
        status["history"] = history.push(
            list((app.get("status") or {}).get("history") or []),
            history.entry(
                revision=revision,
                subject=commit.subject if commit else "",
                author=f"{commit.author} <{commit.email}>" if commit else "",
                time=now,
                result=reason,
                created=created,
                configured=configured,
                deleted=deleted,
            ),
        )
    events = [kept_event(result.pruned)] if kept else []
    if not (result.ok and not changes.changed):  # a no-op sync is not worth an Event
        event_reason = "Synced" if result.ok else reason
        kind = "Normal" if result.ok else "Warning"
        events.append(Note(kind, event_reason, message, revision))
    notice = SyncNotice(
        kind=_notice_kind(spec, result),
        namespace=app["metadata"]["namespace"],
        name=app["metadata"]["name"],
        revision=revision,
        repo_url=spec.source.repo_url,
        reason=reason,
        message=message,
        commit_subject=commit.subject if commit else "",
        commit_author=f"{commit.author} <{commit.email}>" if commit else "",
        counts={a.value: n for a, n in counts.items() if n},
    )
    return Report(reason, message, status, tuple(e for e in events if e), notice, objects)


def out_of_sync(
    app: dict[str, Any], refs: list[ObjectRef], *, now: str | None = None
) -> tuple[dict[str, Any], str]:
    """The status patch and message when ``refs`` changed outside Git and self-heal is off."""
    meta = app["metadata"]
    listed = ", ".join(str(r) for r in refs[:5]) + (" …" if len(refs) > 5 else "")
    message = (
        f"changed outside Git: {listed}; see `clew diff app {meta['name']} -n {meta['namespace']}`"
    )
    status = {
        "conditions": conditions.outcome(
            conditions_of(app),
            ready=False,
            reason=Reason.OUT_OF_SYNC,
            message=message,
            generation=int(meta.get("generation", 0)),
            now=now,
        )
    }
    return status, message


def kept_event(pruned: ChangeSet) -> Note | None:
    """Prune kept objects that are not this Application's: say which, and why."""
    kept = not_owned(pruned)
    if not kept:
        return None
    more = f" (and {len(kept) - 3} more)" if len(kept) > 3 else ""
    note = "; ".join(f"{c.ref}: {c.reason}" for c in kept[:3]) + more
    return Note("Warning", "PruneSkipped", note)


def not_owned(pruned: ChangeSet) -> list[Change]:
    """Objects prune kept because the live object is not the inventory's (not the opt-outs)."""
    return [
        c for c in pruned.changes if c.action is Action.SKIPPED and c.reason != apply.PRUNE_DISABLED
    ]


def health_counts(healths: Iterable[Health]) -> dict[str, int]:
    counts = {"current": 0, "inProgress": 0, "failed": 0, "other": 0}
    names = {Health.CURRENT: "current", Health.IN_PROGRESS: "inProgress", Health.FAILED: "failed"}
    for health in healths:
        counts[names.get(health, "other")] += 1
    return counts


def _notice_kind(spec: AppSpec, result: SyncResult) -> NoticeKind:
    if result.ok:
        return NoticeKind.ROLLBACK if spec.pin_revision else NoticeKind.SYNCED
    if result.reason == Reason.HEALTH_CHECK_FAILED:
        return NoticeKind.HEALTH_DEGRADED
    return NoticeKind.FAILED


POLL_JITTER = 0.1
"""The share of an interval by which a poll may come early, so Applications created together
spread out; never late, so a commit is seen within the interval and one reconcile."""

REVISION_REUSE = 1 - 2 * POLL_JITTER
"""How long, as a share of the interval, a resolved revision is reused (Applications on one
repository and branch share it). Shorter than the earliest next poll, which comes at
``1 - POLL_JITTER`` of the interval after the last one started: a poll never reuses the answer
its own previous poll got, when that one was asked within ``POLL_JITTER`` of its start."""


def next_poll(interval: float, elapsed: float, draw: float) -> float:
    """Seconds until the next poll of an Application whose reconcile started ``elapsed`` seconds
    ago: its interval counted from that start (a slow sync does not push polls apart), less up
    to :data:`POLL_JITTER` of it (``draw`` in [0, 1))."""
    return max(0.0, interval * (1 - POLL_JITTER * draw) - elapsed)


def conditions_of(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list((app.get("status") or {}).get("conditions") or [])


__all__ = [
    "POLL_JITTER",
    "REVISION_REUSE",
    "Note",
    "Outcome",
    "Report",
    "Retry",
    "after_failure",
    "after_sync",
    "conditions_of",
    "crash_message",
    "finished",
    "health_counts",
    "interrupted",
    "is_permanent",
    "kept_event",
    "next_poll",
    "not_owned",
    "out_of_sync",
]
