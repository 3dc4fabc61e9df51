"""Health rules give the kstatus answer for every golden fixture, touch nothing, and summarise.

Each file in ``fixtures/health/`` is named ``<kind>-<state>.yaml`` and holds one object (an empty
document means "the object does not exist"). Its first line states the expected result::

    # expect: <Health value> | <substring of the message>

``<Health value>`` is a :class:`clew.model.Health` value (``Current``, ``InProgress``, ``Failed``,
``Terminating``, ``NotFound``, ``Unknown``); the ``| message`` part is optional and is matched as a
substring, so a fixture pins the words a person will read without freezing the whole sentence.
Further ``#`` lines explain the fixture. ``custom-*`` fixtures stand for kinds with no rule of their
own (the generic ``Ready``/``Stalled``/``Reconciling`` rule).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.model import Health, HealthResult
from clew.wait import compute, worst

FIXTURES = Path(__file__).parent / "fixtures" / "health"
EXPECT = re.compile(r"^# expect: (?P<health>\w+)(?: \| (?P<message>.+))?$")

# Each needs at least one CURRENT fixture and one that is not.
KINDS = {
    "deployment",
    "statefulset",
    "daemonset",
    "replicaset",
    "pod",
    "job",
    "pvc",
    "service",
    "crd",
    "namespace",
    "custom",
    "configmap",
}


def load(path: Path) -> tuple[dict[str, Any] | None, Health, str]:
    text = path.read_text()
    match = EXPECT.match(text.splitlines()[0])
    assert match, f"{path.name}: first line must be '# expect: <Health> | <message>'"
    return yaml.safe_load(text), Health(match["health"]), match["message"] or ""


FILES = sorted(FIXTURES.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture(path: Path) -> None:
    obj, health, message = load(path)
    result = compute(obj)
    assert result.health is health, f"{path.name}: {result}"
    assert message in result.message, f"{path.name}: {result.message!r}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_compute_does_not_touch_the_object(path: Path) -> None:
    obj, _, _ = load(path)
    before = copy.deepcopy(obj)
    first = compute(obj)
    assert obj == before
    assert compute(obj) == first


def test_every_kind_has_a_current_and_a_non_current_fixture() -> None:
    seen: dict[str, set[bool]] = {kind: set() for kind in KINDS}
    for path in FILES:
        _, health, _ = load(path)
        kind = path.stem.split("-", 1)[0]
        seen.setdefault(kind, set()).add(health is Health.CURRENT)
    missing = {kind: seen[kind] for kind in KINDS if seen[kind] != {True, False}}
    assert not missing, f"kinds lacking a Current or a non-Current fixture: {missing}"
    assert len(FILES) >= 30


def test_generation_check_comes_before_the_kind_rule() -> None:
    # A Deployment whose stale status looks perfect is still rolling out the new spec.
    obj, _, _ = load(FIXTURES / "deployment-available.yaml")
    assert obj is not None
    obj["metadata"]["generation"] = 3
    assert compute(obj) == HealthResult(
        Health.IN_PROGRESS, "waiting for the controller to observe generation 3 (observed 2)"
    )


def test_deployment_without_deadline_needs_no_progressing_condition() -> None:
    # progressDeadlineSeconds unset: the controller never writes NewReplicaSetAvailable.
    obj, _, _ = load(FIXTURES / "deployment-available.yaml")
    assert obj is not None
    del obj["spec"]["progressDeadlineSeconds"]
    obj["status"]["conditions"] = [{"type": "Available", "status": "True"}]
    assert compute(obj).health is Health.CURRENT
    obj["spec"]["progressDeadlineSeconds"] = 600
    assert compute(obj).health is Health.IN_PROGRESS


def test_legacy_extensions_group_uses_the_apps_rule() -> None:
    obj, _, _ = load(FIXTURES / "deployment-progressing.yaml")
    assert obj is not None
    obj["apiVersion"] = "extensions/v1beta1"
    assert compute(obj) == compute({**obj, "apiVersion": "apps/v1"})
    assert compute(obj).health is Health.IN_PROGRESS


def test_worst_follows_the_rank() -> None:
    def of(*healths: Health) -> list[HealthResult]:
        return [HealthResult(h) for h in healths]

    assert worst([]) is Health.CURRENT
    assert worst(of(Health.CURRENT, Health.CURRENT)) is Health.CURRENT
    assert worst(of(Health.CURRENT, Health.IN_PROGRESS, Health.UNKNOWN)) is Health.IN_PROGRESS
    assert worst(of(Health.NOT_FOUND, Health.FAILED, Health.TERMINATING)) is Health.FAILED
    assert worst(iter(of(Health.TERMINATING, Health.IN_PROGRESS))) is Health.TERMINATING
