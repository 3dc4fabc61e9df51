"""Frozen values (clew.model.frozen), which the parse cache shares between renders: every
in-place change raises, copies are plain and change freely, YAML aliases stay shared, and what
is memoised on a frozen object (the plan's fingerprint) equals what a plain copy computes; a
plain dict gets no memo, and a memo is bounded."""

from __future__ import annotations

import copy
import json

import pytest

from clew.model.frozen import MAX_MEMO, FrozenDict, FrozenList, freeze, memo, thaw
from clew.plan import fingerprint

OBJ = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "a", "labels": {"x": "1"}},
    "data": {"k": "v"},
    "list": [1, {"deep": [2]}],
}


def test_freeze_reaches_every_level_and_keeps_the_value() -> None:
    frozen = freeze(copy.deepcopy(OBJ))
    assert frozen == OBJ
    assert type(frozen) is FrozenDict
    assert type(frozen["metadata"]["labels"]) is FrozenDict
    assert type(frozen["list"]) is FrozenList
    assert type(frozen["list"][1]["deep"]) is FrozenList
    assert json.loads(json.dumps(frozen)) == OBJ


def test_every_in_place_change_raises() -> None:
    frozen = freeze(copy.deepcopy(OBJ))
    items = frozen["list"]
    for write in (
        lambda: frozen.__setitem__("kind", "Secret"),
        lambda: frozen.__delitem__("data"),
        lambda: frozen.update(kind="Secret"),
        lambda: frozen.__ior__({"kind": "Secret"}),
        lambda: frozen["metadata"]["labels"].popitem(),
        lambda: items.__iadd__([3]),
        lambda: items.__imul__(2),
        lambda: items.insert(0, 0),
        lambda: items.remove(1),
        lambda: items.reverse(),
        lambda: items[1]["deep"].extend([3]),
    ):
        with pytest.raises(TypeError, match="read-only"):
            write()
    assert frozen == OBJ


def test_copies_are_plain() -> None:
    frozen = freeze(copy.deepcopy(OBJ))
    assert type(dict(frozen)) is dict
    assert type(frozen.copy()) is dict
    assert type(copy.copy(frozen["list"])) is list
    assert type(frozen["list"][:]) is list
    thawed = thaw(frozen)
    thawed["list"][1]["deep"].append(3)
    assert frozen == OBJ


def test_aliases_stay_shared() -> None:
    shared = {"a": 1}
    frozen = freeze({"x": shared, "y": [shared]})
    assert frozen["x"] is frozen["y"][0]


def test_fingerprint_is_memoised_for_frozen_objects_only() -> None:
    plain = copy.deepcopy(OBJ)
    frozen = freeze(copy.deepcopy(OBJ))
    assert fingerprint(frozen) == fingerprint(plain)
    assert memo(frozen) == {"plan.fingerprint": fingerprint(plain)}
    assert memo(plain) is None
    plain["data"]["k"] = "changed"  # a plain dict may change, so its digest is never kept
    assert fingerprint(plain) != fingerprint(frozen)


def test_a_frozen_dict_built_directly_gets_a_memo() -> None:
    built = FrozenDict({"a": 1})
    assert memo(built) == {}


def test_a_memo_is_bounded() -> None:
    frozen = freeze({"a": 1})
    table = memo(frozen)
    assert table is not None
    for i in range(MAX_MEMO):
        table[i] = i
    assert memo(frozen) == {}
