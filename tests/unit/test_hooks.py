"""Helm hooks as pure logic: a rendered release splits into its ordinary objects and its hooks, in
helm's run order (weight, kind, name), exactly as fixtures/hooks/release-expected.yaml says; test
hooks are dropped; a hook annotation clew cannot read is an error naming the object; the record of
succeeded hooks round-trips and is tied to one release; the release digest ignores render order;
and a hook Pod is finished only once Succeeded, not when Running and Ready.

Regenerate the golden file after an intended change with ``CLEW_UPDATE_GOLDEN=1``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.apply.hookrecord import HookRecord, decode, release_digest
from clew.apply.hooks import _finished
from clew.model import DeletePolicy, Health, HealthResult, HookEvent, Manifest
from clew.render import InvalidManifestError, split_hooks
from clew.wait import compute

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"


def manifests(path: Path) -> list[Manifest]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return [Manifest(doc, f"{path.name}#{i}") for i, doc in enumerate(docs, start=1)]


def describe(objects: list[Manifest]) -> dict[str, Any]:
    ordinary, hooks = split_hooks(objects)
    return {
        "ordinary": [str(m.ref) for m in ordinary],
        "phases": {
            event.value: [
                {
                    "hook": str(h.ref),
                    "weight": h.weight,
                    "policies": sorted(p.value for p in h.policies),
                }
                for h in hooks.phase(event)
            ]
            for event in HookEvent
        },
    }


def test_release_golden() -> None:
    actual = describe(manifests(FIXTURES / "release-input.yaml"))
    expected_file = FIXTURES / "release-expected.yaml"
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        header = "# split_hooks(release-input.yaml), written by tests/unit/test_hooks.py.\n"
        expected_file.write_text(header + yaml.safe_dump(actual, sort_keys=False, width=100))
    assert actual == yaml.safe_load(expected_file.read_text())


def test_run_order_and_defaults() -> None:
    _, hooks = split_hooks(manifests(FIXTURES / "release-input.yaml"))
    pre_install = [h.ref.name for h in hooks.phase(HookEvent.PRE_INSTALL)]
    # Same weight: ServiceAccount, then ConfigMap, then Job (helm's install order), not by name.
    assert pre_install == ["z-migrator", "migrate-config", "a-migrate"]
    assert next(h.ref.name for h in hooks.phase(HookEvent.PRE_UPGRADE)) == "backup"  # weight -5
    # Unknown kinds last, by kind name; a higher weight after everything of a lower one.
    post = [h.ref.kind for h in hooks.phase(HookEvent.POST_INSTALL)]
    assert post == ["Antelope", "Zebra", "Pod"]
    migrator = next(h for h in hooks.hooks if h.ref.name == "z-migrator")
    assert migrator.policies == {DeletePolicy.BEFORE_HOOK_CREATION}  # helm's default
    assert not any(h.events & {HookEvent.TEST} for h in hooks.hooks)
    assert hooks.has(HookEvent.PRE_DELETE)
    assert hooks.has(HookEvent.POST_DELETE)


def hooked(**annotations: Any) -> Manifest:
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x", "annotations": annotations},
    }
    return Manifest(obj, "chart/templates/job.yaml")


@pytest.mark.parametrize(
    ("annotations", "words"),
    [
        ({"helm.sh/hook": "pre-instal"}, "unknown helm.sh/hook value pre-instal"),
        ({"helm.sh/hook": " , "}, "unknown helm.sh/hook value"),
        ({"helm.sh/hook": "crd-install"}, "unknown helm.sh/hook value crd-install"),
        ({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "1.5"}, "is not an integer"),
        ({"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "never"}, "never"),
        ({"helm.sh/hook": ["pre-install"]}, "is list, not a string"),
    ],
)
def test_unreadable_hook_annotations_are_errors(annotations: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidManifestError) as caught:
        split_hooks([hooked(**annotations)])
    assert words in str(caught.value)
    assert "Job/x" in str(caught.value)
    assert caught.value.file == "chart/templates/job.yaml"


def test_integer_weight_and_only_test_hooks() -> None:
    ordinary, hooks = split_hooks(
        [hooked(**{"helm.sh/hook": "post-upgrade", "helm.sh/hook-weight": -3})]
    )
    assert not ordinary
    assert hooks.hooks[0].weight == -3
    assert split_hooks([hooked(**{"helm.sh/hook": "test"})]) == ([], split_hooks([])[1])


def test_record_round_trip_and_release_scope() -> None:
    record = HookRecord(delete_hooks=True)
    record.mark("r1", "pre", "Job/ns/migrate")
    again = decode(record.encode())
    assert again.done("r1", "pre", "Job/ns/migrate")
    assert not again.done("r1", "post", "Job/ns/migrate")
    assert not again.done("r2", "pre", "Job/ns/migrate")  # a new release runs it again
    assert again.delete_hooks
    again.mark("r2", "post", "ConfigMap/ns/done")
    assert again.succeeded == {"post:ConfigMap/ns/done"}  # the old release's entries are gone
    broken = decode("{not json")
    assert not broken.done("r1", "pre", "Job/ns/migrate")
    assert broken.stored == "{not json"


def test_release_digest_ignores_order_but_not_content() -> None:
    a = Manifest({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}}, "a")
    b = Manifest({"kind": "ConfigMap", "metadata": {"name": "b"}}, "b")
    changed = Manifest({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "2"}}, "a")
    assert release_digest([a, b]) == release_digest([b, a])
    assert release_digest([a, b]) != release_digest([changed, b])


def pod(phase: str, ready: bool) -> dict[str, Any]:
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": status}]},
    }


def test_a_hook_pod_is_finished_only_when_it_succeeded() -> None:
    check = _finished("Pod", compute)
    assert compute(pod("Running", True)).health is Health.CURRENT  # healthy, yet not finished
    assert check(pod("Running", True)) is None
    assert check(pod("Succeeded", False)) == compute(pod("Succeeded", False))
    failed = check(pod("Failed", False))
    assert failed is not None
    assert failed.health is Health.FAILED
    assert check(None) == HealthResult(Health.FAILED, "deleted before it finished")
