"""The resource tree as a pure function (``clew.wait.tree.build``): managed objects with their
children found by owner-reference uid, recursively (Deployment → ReplicaSet → Pod, CronJob →
Job → Pod), each with kstatus health and a one-line reason; objects owned by nothing in the tree
are left out; a missing member is NotFound, an unlistable one Unknown with the reason. Golden
fixtures in tests/unit/fixtures/tree/<case>.yaml (``CLEW_UPDATE_GOLDEN=1`` rewrites
``expected``). Also: which kinds to list for a set of parents, and that an owner cycle ends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.model import ObjectRef
from clew.wait.tree import build, child_kinds

FIXTURES = Path(__file__).parent / "fixtures" / "tree"
CASES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))


def _ref(api_version: str, text: str) -> ObjectRef:
    kind, namespace, name = text.split("/")
    return ObjectRef(api_version.rpartition("/")[0], kind, namespace, name)


def _members(fixture: dict[str, Any]) -> list[tuple[ObjectRef, str]]:
    return [(_ref(v, text), v) for v, text in fixture["members"]]


def test_every_case_is_found() -> None:
    assert len(CASES) >= 2


@pytest.mark.parametrize("case", CASES)
def test_tree_matches_its_golden_fixture(case: str) -> None:
    path = FIXTURES / f"{case}.yaml"
    text = path.read_text()
    fixture = yaml.safe_load(text)
    members = _members(fixture)
    live = {ObjectRef.from_object(o): o for o in fixture["live"]}
    by_text = {f"{r.kind}/{r.namespace}/{r.name}": r for r, _ in members}
    unreadable = {by_text[k]: v for k, v in (fixture.get("unreadable") or {}).items()}
    got = [n.to_dict() for n in build(members, live, fixture["candidates"], unreadable)]
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        head = text[: text.index("expected:")] if "expected:" in text else text
        path.write_text(head + yaml.safe_dump({"expected": got}, sort_keys=False, width=100))
        fixture["expected"] = got
    assert got == fixture["expected"]


def test_children_kinds_follow_the_chain() -> None:
    assert child_kinds([("apps", "Deployment")]) == [("apps/v1", "ReplicaSet"), ("v1", "Pod")]
    assert child_kinds([("batch", "CronJob")]) == [("batch/v1", "Job"), ("v1", "Pod")]
    assert child_kinds([("", "ConfigMap"), ("", "Service")]) == []


def test_an_owner_cycle_ends() -> None:
    a = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "t", "uid": "1"}}
    b = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "b", "namespace": "t", "uid": "2", "ownerReferences": [{"uid": "1"}]},
    }
    a["metadata"]["ownerReferences"] = [{"uid": "2"}]  # type: ignore[index]
    ref = ObjectRef.from_object(a)
    [root] = build([(ref, "v1")], {ref: a}, [a, b])
    assert [c.name for c in root.children] == ["b"]
    assert root.children[0].children == []  # a is not its own grandchild
