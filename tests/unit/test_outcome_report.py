"""What a finished sync becomes, as a pure function (``outcomes.after_sync``): the status patch
(conditions, revisions, inventory, resources, history), the Events and the observers' notice,
checked against golden fixtures in tests/unit/fixtures/outcomes/<case>.yaml. Each fixture holds
the Application, the engine's result and the expected report; ``CLEW_UPDATE_GOLDEN=1`` rewrites
the ``expected`` part (then read the diff). Also: the OutOfSync patch, and the status of an
attempt that ended before a sync."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.controller.api.spec import parse
from clew.controller.reconcile import outcomes
from clew.engine import SyncResult
from clew.model import (
    Action,
    Change,
    ChangeSet,
    CommitInfo,
    Health,
    HealthResult,
    Manifest,
    ObjectRef,
    Snapshot,
)
from clew.wait import WaitResult

FIXTURES = Path(__file__).parent / "fixtures" / "outcomes"
NOW = "2026-12-03T08:00:00Z"
CASES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))


_API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1"}


def _ref(text: str) -> ObjectRef:
    kind, *rest = text.split("/")
    namespace, name = (rest[0], rest[1]) if len(rest) == 2 else ("", rest[0])
    return ObjectRef(_API_VERSIONS.get(kind, "v1").rpartition("/")[0], kind, namespace, name)


def _manifest(text: str) -> Manifest:
    ref = _ref(text)
    meta = {"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})}
    api_version = _API_VERSIONS.get(ref.kind, "v1")
    return Manifest({"apiVersion": api_version, "kind": ref.kind, "metadata": meta}, text)


def _changes(items: list[dict[str, str]]) -> ChangeSet:
    out = ChangeSet()
    for item in items:
        out.add(Change(_ref(item["ref"]), Action(item["action"]), reason=item.get("reason", "")))
    return out


def _result(given: dict[str, Any]) -> SyncResult:
    commit = given.get("commit")
    snapshot = None
    if given.get("revision"):
        snapshot = Snapshot(
            root=Path("/snapshots/x"),
            path=Path("/snapshots/x"),
            source="https://git.example/demo.git",
            ref="main",
            revision=given["revision"],
            digest="",
            commit=CommitInfo(sha=given["revision"], time=NOW, **commit) if commit else None,
        )
    health = None
    if "health" in given:
        results = {}
        for ref, health in given["health"].items():  # "Health" or "Health: message"
            value, _, message = health.partition(": ")
            results[_ref(ref)] = HealthResult(Health(value), message)
        health = WaitResult(results=results, timed_out=False, failed=[], duration=1.0)
    # ``desired``: the objects' refs, or how many of the applied ones (in order) were desired.
    wanted = given["desired"]
    if isinstance(wanted, int):
        wanted = [item["ref"] for item in given.get("applied", [])[:wanted]]
    desired = [_manifest(text) for text in wanted]
    return SyncResult(
        snapshot=snapshot,
        applied=_changes(given.get("applied", [])),
        pruned=_changes(given.get("pruned", [])),
        not_pruned={
            _ref(r): _API_VERSIONS.get(_ref(r).kind, "v1") for r in given.get("not_pruned", [])
        },
        health=health,
        desired=desired,
        warnings=given.get("warnings", []),
        reason=given.get("reason", ""),
        error=given.get("error", ""),
    )


def _plain(report: outcomes.Report) -> dict[str, Any]:
    notice = dataclasses.asdict(report.notice)
    notice["kind"] = str(notice["kind"])
    return {
        "reason": str(report.reason),
        "message": report.message,
        "status": report.status,
        "events": [dataclasses.asdict(e) for e in report.events],
        "notice": notice,
    }


def test_every_case_is_found() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("case", CASES)
def test_after_sync_matches_its_golden_report(case: str) -> None:
    path = FIXTURES / f"{case}.yaml"
    text = path.read_text()
    fixture = yaml.safe_load(text)
    app = fixture["app"]
    spec = parse(app)
    result = _result(fixture["result"])
    report = outcomes.after_sync(app, spec, result, stalled=fixture["stalled"], now=NOW)
    got = json.loads(json.dumps(_plain(report)))  # as the status patch is sent (enums as str)
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        head = text[: text.index("expected:")] if "expected:" in text else text
        body = yaml.safe_dump({"expected": got}, sort_keys=False, width=100, allow_unicode=True)
        path.write_text(head + body)
        fixture["expected"] = got
    assert got == fixture["expected"]


def _app(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "clew.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "team", "generation": 4},
        "spec": {"source": {"repoURL": "https://git.example/demo.git"}},
        "status": status or {},
    }


def test_out_of_sync_names_five_objects_and_the_diff_command() -> None:
    refs = [_ref(f"ConfigMap/team/c{i}") for i in range(7)]
    status, message = outcomes.out_of_sync(_app(), refs, now=NOW)
    assert message == (
        "changed outside Git: ConfigMap/team/c0, ConfigMap/team/c1, ConfigMap/team/c2, "
        "ConfigMap/team/c3, ConfigMap/team/c4 …; see `clew diff app web -n team`"
    )
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "False",
        "OutOfSync",
        4,
    )
    assert "observedGeneration" not in status  # drift is not a new generation handled


def test_finished_clears_reconciling_and_keeps_ready_transition_time() -> None:
    earlier = "2026-01-01T00:00:00Z"
    app = _app(
        {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "RenderFailed",
                    "message": "x",
                    "observedGeneration": 3,
                    "lastTransitionTime": earlier,
                },
                {
                    "type": "Reconciling",
                    "status": "True",
                    "reason": "Progressing",
                    "message": "y",
                    "observedGeneration": 4,
                    "lastTransitionTime": earlier,
                },
            ]
        }
    )
    status = outcomes.finished(app, ok=False, reason="Suspended", message="suspended", now=NOW)
    by_type = {c["type"]: c for c in status["conditions"]}
    assert set(by_type) == {"Ready"}
    assert by_type["Ready"]["lastTransitionTime"] == earlier  # still False: no transition
    assert (by_type["Ready"]["reason"], status["observedGeneration"]) == ("Suspended", 4)
    stalled = outcomes.finished(app, ok=False, reason="InvalidSpec", message="m", stalled=True)
    assert {c["type"] for c in stalled["conditions"]} == {"Ready", "Stalled"}
