"""Ownership decisions are made on the live object, not on the (tenant-editable) inventory: prune
deletes only an object still labelled with this ApplySet and with the recorded uid (legacy
members without one: the label alone); another inventory's object is a conflict that names it;
members record their uid and older inventories without uids still load.

Each ``fixtures/ownership/prune-<state>.yaml`` holds a member's recorded uid and the live
object's metadata, for the inventory ``team-a/clew-a``. Its first line states the verdict::

    # expect: delete | keep | <substring of the reason>
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest
import yaml

from clew.apply import (
    CONFLICT,
    OWNER_ANNOTATION,
    PART_OF,
    Inventory,
    Member,
    Owner,
    conflict,
    foreign_owner,
    label,
    member_of,
    owner_of,
    prune_verdict,
)
from clew.apply.applyset import _decode, _encode
from clew.model import Action, ObjectRef

FIXTURES = Path(__file__).parent / "fixtures" / "ownership"
EXPECT = re.compile(r"^# expect: (?P<verdict>delete|keep)(?: \| (?P<reason>.+))?$")
INVENTORY = Inventory("a", "team-a")
REF = ObjectRef("apps", "Deployment", "team-a", "web")


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("prune-*.yaml")), ids=lambda p: p.stem)
def test_prune_verdict(path: Path) -> None:
    text = path.read_text()
    match = EXPECT.match(text.splitlines()[0])
    assert match, f"{path.name}: first line must be '# expect: delete|keep [| reason]'"
    case = yaml.safe_load(text)
    member = Member(REF, "apps/v1", uid=case["member"]["uid"])
    refused = prune_verdict(member, case["live"], INVENTORY.id)
    if match["verdict"] == "delete":
        assert refused == ""
    else:
        assert refused.startswith("kept: ")
        assert match["reason"] in refused


def test_fixtures_cover_both_verdicts() -> None:
    verdicts = {
        EXPECT.match(p.read_text().splitlines()[0])["verdict"]  # type: ignore[index]
        for p in FIXTURES.glob("prune-*.yaml")
    }
    assert verdicts == {"delete", "keep"}


def test_owner_comes_from_label_and_annotation() -> None:
    assert owner_of({"name": "x"}) is None
    assert owner_of({"labels": {PART_OF: "applyset-b-v1"}}) == Owner("applyset-b-v1")
    meta = {"labels": {PART_OF: "applyset-b-v1"}, "annotations": {OWNER_ANNOTATION: "ns/clew-b"}}
    assert owner_of(meta) == Owner("applyset-b-v1", "ns/clew-b")
    assert foreign_owner(meta, "applyset-b-v1") is None  # its own
    assert foreign_owner(meta, "applyset-a-v1") == Owner("applyset-b-v1", "ns/clew-b")
    assert foreign_owner({"labels": {}}, "applyset-a-v1") is None  # unlabelled: adoptable


def test_conflict_names_the_other_owner_and_the_way_out() -> None:
    change = conflict(REF, Owner("applyset-b-v1", "team-b/clew-b"))
    assert change.action is Action.FAILED
    assert change.reason == CONFLICT
    assert "inventory ConfigMap team-b/clew-b" in change.error
    assert "--adopt" in change.error
    assert "spec.adopt" in change.error
    assert "ApplySet applyset-b-v1" in conflict(REF, Owner("applyset-b-v1")).error


def test_label_records_the_owner_annotation() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    labelled = label(obj, INVENTORY.id, INVENTORY.owner)
    assert labelled["metadata"]["annotations"] == {OWNER_ANNOTATION: "team-a/clew-a"}
    assert owner_of(labelled["metadata"]) == Owner(INVENTORY.id, "team-a/clew-a")
    assert "annotations" not in obj["metadata"]


def test_members_round_trip_their_uid() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    member = member_of(obj, "digest", "42", "uid-1")
    assert _decode(_encode([member])) == [member]


def test_inventory_written_without_uids_still_loads() -> None:
    rows = [["", "ConfigMap", "n", "c", "v1", True, "digest", "42"]]  # the 8-field rows of old
    data = base64.b64encode(gzip.compress(json.dumps(rows).encode())).decode()
    assert _decode(data) == [
        Member(ObjectRef("", "ConfigMap", "n", "c"), "v1", True, "digest", "42")
    ]
