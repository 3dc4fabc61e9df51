"""``status.resources`` as pure functions: past the limit the objects that need attention are
kept first and the total still counts all; drift marks entries Drifted and a revert marks them
Synced again; a sync that leaves a drifted object alone (self-heal off) keeps it Drifted; long
reasons become one bounded line."""

from __future__ import annotations

from clew.controller.api.rules import RESOURCE_MESSAGE_MAX, RESOURCES_MAX, SyncState
from clew.controller.reconcile import resources
from clew.engine import SyncResult
from clew.model import Action, Change, ChangeSet, Health, HealthResult, Manifest, ObjectRef
from clew.wait import WaitResult


def _cm(i: int) -> Manifest:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"c{i:04}", "namespace": "t"},
    }
    return Manifest(obj, f"c{i}.yaml")


def _result(
    n: int, health: dict[int, HealthResult], applied: ChangeSet | None = None
) -> SyncResult:
    desired = [_cm(i) for i in range(n)]
    results = {m.ref: health.get(i, HealthResult(Health.CURRENT)) for i, m in enumerate(desired)}
    if applied is None:
        applied = ChangeSet()
        for m in desired:
            applied.add(Change(m.ref, Action.UNCHANGED))
    wait = WaitResult(results=results, timed_out=False, failed=[], duration=0.1)
    return SyncResult(desired=desired, health=wait, applied=applied)


def test_truncation_keeps_the_objects_that_need_attention() -> None:
    n = RESOURCES_MAX + 100
    failing = {7: HealthResult(Health.FAILED, "broken"), n - 1: HealthResult(Health.IN_PROGRESS)}
    items, total = resources.entries(_result(n, failing))
    assert total == n
    assert len(items) == RESOURCES_MAX
    names = [e["name"] for e in items]
    assert names == sorted(names)  # a stable order, not the order of attention
    assert {"c0007", f"c{n - 1:04}"} <= set(names)  # the last one would be cut without priority
    assert sum(e["health"] != "Current" for e in items) == 2


def test_under_the_limit_nothing_is_dropped() -> None:
    items, total = resources.entries(_result(3, {}))
    assert total == len(items) == 3
    assert items[0] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
        "namespace": "t",
        "name": "c0000",
        "health": "Current",
        "message": "",
        "sync": "Synced",
    }


def test_a_long_multiline_reason_becomes_one_bounded_line() -> None:
    reason = "first line\n" + "x" * 1000
    items, _ = resources.entries(_result(1, {0: HealthResult(Health.FAILED, reason)}))
    message = items[0]["message"]
    assert "\n" not in message
    assert message.startswith("first line x")
    assert len(message) == RESOURCE_MESSAGE_MAX
    assert message.endswith("…")


def test_drift_marks_entries_and_a_revert_clears_them() -> None:
    items, _ = resources.entries(_result(3, {}))
    ref = ObjectRef("", "ConfigMap", "t", "c0001")
    drifted = resources.marked(items, [ref], SyncState.DRIFTED)
    assert [e["sync"] for e in drifted] == ["Synced", "Drifted", "Synced"]
    assert items[1]["sync"] == "Synced"  # the input is not changed in place
    assert resources.summary(drifted)[1] == 1
    reverted = resources.marked(drifted, [ref], SyncState.SYNCED)
    assert [e["sync"] for e in reverted] == ["Synced"] * 3


def test_a_sync_that_leaves_a_drifted_object_alone_keeps_it_drifted() -> None:
    before, _ = resources.entries(_result(2, {}))
    drifted = resources.marked(
        before, [ObjectRef("", "ConfigMap", "t", "c0000")], SyncState.DRIFTED
    )
    drifted = resources.marked(
        drifted, [ObjectRef("", "ConfigMap", "t", "c0001")], SyncState.DRIFTED
    )
    # The next sync re-applied c0001 (it changed in Git) and left c0000 as it was.
    applied = ChangeSet()
    applied.add(Change(ObjectRef("", "ConfigMap", "t", "c0000"), Action.UNCHANGED))
    applied.add(Change(ObjectRef("", "ConfigMap", "t", "c0001"), Action.CONFIGURED))
    result = _result(2, {}, applied)
    items, _ = resources.entries(result)
    kept = resources.still_drifted(drifted, items, result)
    assert [(e["name"], e["sync"]) for e in kept] == [("c0000", "Drifted"), ("c0001", "Synced")]


def test_summary_counts_by_health_and_not_synced() -> None:
    items, _ = resources.entries(_result(4, {1: HealthResult(Health.FAILED)}))
    by_health, unsynced = resources.summary(items)
    assert (by_health["Current"], by_health["Failed"], by_health["InProgress"], unsynced) == (
        3,
        1,
        0,
        0,
    )
