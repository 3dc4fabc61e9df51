"""The one error model and what the controller makes of it, as pure functions: every error has
one root and says whether a retry can help; a permanent error stalls the Application (retried
at its interval, Stalled=True), a temporary one backs off with its own delay or exponentially;
a crash is one line; an attempt left Reconciling is reported as interrupted; drift is counted
in ``status.drift``; the next poll counts from the start of the last one; and the Reason values
are the strings status has always shown."""

from __future__ import annotations

import json

import pytest

from clew.cluster import errors as cluster_errors
from clew.controller.api.spec import InvalidSpec
from clew.controller.reconcile.driftrecord import OBJECTS_MAX, status_after
from clew.controller.reconcile.outcomes import (
    POLL_JITTER,
    REVISION_REUSE,
    Retry,
    after_failure,
    crash_message,
    interrupted,
    next_poll,
)
from clew.controller.triggers import webhooks
from clew.model import ClewError, ObjectRef, Reason, RenderError, SourceError
from clew.report import conditions
from clew.source import errors as source_errors

POLICY = {"initial": 1.0, "maximum": 8.0, "interval": 600.0}


def test_one_root() -> None:
    for cls in (
        cluster_errors.ClusterError,
        SourceError,
        RenderError,
        InvalidSpec,
        webhooks.WebhookRejected,
    ):
        assert issubclass(cls, ClewError), cls
    # One Unauthorized: the cluster's; a webhook without a valid signature is NotAuthenticated.
    assert not hasattr(webhooks, "Unauthorized")


@pytest.mark.parametrize(
    "error",
    [
        RenderError("bad.yaml: not YAML"),
        InvalidSpec("must be a duration", field="spec.interval"),
        cluster_errors.Invalid("spec.replicas: must be >= 0"),
        cluster_errors.Forbidden("cannot create configmaps"),
        source_errors.RefNotFound("no ref main"),
        source_errors.AuthenticationFailed("denied"),
    ],
)
def test_a_permanent_error_stalls_until_the_interval(error: ClewError) -> None:
    for failures in (1, 2, 10):
        assert after_failure(error, failures, **POLICY) == Retry(600.0, stalled=True)


@pytest.mark.parametrize(
    "error",
    [
        source_errors.Unreachable("connection refused"),
        cluster_errors.ConnectionFailed("reset"),
        cluster_errors.ServerError("etcd leader changed"),
        SourceError("an error git never printed before"),
        None,  # a stage failed without an exception: a health check that timed out
        RuntimeError("a bug"),
    ],
)
def test_a_temporary_error_backs_off_exponentially(error: Exception | None) -> None:
    delays = [after_failure(error, n, **POLICY) for n in (1, 2, 3, 4, 5, 30)]
    assert delays == [Retry(d, stalled=False) for d in (1.0, 2.0, 4.0, 8.0, 8.0, 8.0)]


def test_a_temporary_error_with_a_delay_comes_back_then() -> None:
    throttled = cluster_errors.TooManyRequests("slow down", delay=7.0)
    assert after_failure(throttled, 1, **POLICY) == Retry(7.0, stalled=False)
    assert after_failure(throttled, 9, **POLICY) == Retry(7.0, stalled=False)


def test_stalled_outcome_sets_stalled_and_a_success_clears_it() -> None:
    stalled = conditions.outcome(
        [], ready=False, reason=Reason.RENDER_FAILED, message="bad", generation=3, stalled=True
    )
    kinds = {c["type"]: (c["status"], c["reason"]) for c in stalled}
    assert kinds == {"Ready": ("False", "RenderFailed"), "Stalled": ("True", "RenderFailed")}
    healed = conditions.outcome(
        stalled, ready=True, reason=Reason.SUCCEEDED, message="ok", generation=4
    )
    assert {c["type"]: c["status"] for c in healed} == {"Ready": "True"}


def test_reconciling_is_stamped_with_each_attempts_start() -> None:
    first = conditions.set_condition([], "Reconciling", True, "Progressing", "x", 1, "T1")
    again = conditions.progressing(first, "syncing revision abc", 1)
    reconciling = next(c for c in again if c["type"] == "Reconciling")
    assert reconciling["lastTransitionTime"] != "T1"
    assert reconciling["message"] == "syncing revision abc"


def test_a_crash_is_one_line_naming_the_exception() -> None:
    message = crash_message(NotADirectoryError(20, "Not a directory", "/cache/tmp"))
    assert "\n" not in message
    assert message.startswith("reconcile failed unexpectedly (NotADirectoryError: ")
    long = crash_message(ValueError("first line " + "x" * 1000 + "\nsecond line"))
    assert "second line" not in long
    assert len(long) < 400
    assert crash_message(KeyError()) == (
        "reconcile failed unexpectedly (KeyError); the controller log has the traceback"
    )


def test_an_attempt_left_reconciling_is_interrupted() -> None:
    left = {"type": "Reconciling", "status": "True", "lastTransitionTime": "2026-12-03T04:00:00Z"}
    assert interrupted(left, "0123456789abcdef") == (
        "the previous attempt of revision 0123456789ab started 2026-12-03T04:00:00Z was "
        "interrupted before it finished"
    )
    assert interrupted(None, "0123") == ""
    assert interrupted({**left, "status": "False"}, "0123") == ""


def test_drift_is_counted_with_the_latest_objects_first() -> None:
    refs = [ObjectRef("", "ConfigMap", "shop", f"cm-{i}") for i in range(7)]
    once = status_after(None, refs[:1], corrected=True, now="T1")
    assert once == {"corrected": 1, "lastCorrected": "T1", "lastObjects": ["ConfigMap/shop/cm-0"]}
    more = status_after(once, refs[1:], corrected=True, now="T2")
    assert more["corrected"] == 7
    assert more["lastCorrected"] == "T2"
    assert more["lastObjects"] == [str(r) for r in refs[1:]][:OBJECTS_MAX]
    seen = status_after(more, refs[:2], corrected=False, now="T3", new=1)
    assert (seen["detected"], seen["corrected"], seen["lastCorrected"]) == (1, 7, "T2")
    assert seen["lastObjects"][:2] == ["ConfigMap/shop/cm-0", "ConfigMap/shop/cm-1"]


def test_reasons_keep_their_strings() -> None:
    assert [str(r) for r in Reason][:8] == [
        "Succeeded",
        "Progressing",
        "FetchFailed",
        "RenderFailed",
        "ApplyFailed",
        "PruneFailed",
        "HealthCheckFailed",
        "HookFailed",
    ]
    assert str(Reason.RECONCILE_ERROR) == "ReconcileError"
    # Status, Events and the audit trail serialise them as the plain strings.
    assert json.dumps({"reason": Reason.INVALID_SPEC}) == '{"reason": "InvalidSpec"}'
    assert f"{Reason.OUT_OF_SYNC}" == "OutOfSync"


def test_the_next_poll_counts_from_the_start_of_the_last_one() -> None:
    # A 10 s interval: a reconcile that took 3 s polls again 7 s after it ended, never later.
    assert next_poll(10.0, 3.0, 0.0) == pytest.approx(7.0)
    assert next_poll(10.0, 3.0, 0.999) == pytest.approx(6.001, abs=1e-3)
    assert next_poll(10.0, 0.0, 0.5) == pytest.approx(9.5)
    assert next_poll(10.0, 12.0, 0.0) == 0.0  # a sync longer than the interval: poll at once
    # The earliest next poll comes after a revision shared on the repository has expired.
    assert 1 - POLL_JITTER > REVISION_REUSE
