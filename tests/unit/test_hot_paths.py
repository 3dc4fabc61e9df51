"""The per-object hot paths of a large sync keep their meaning: an ObjectRef's cached hash agrees
with equality (and is recomputed when unpickled), a Manifest's ref is its object's, members sort
in the dataclass order, and the waiter knows "all settled" as each object settles, whatever
order the events come in."""

from __future__ import annotations

import asyncio
import pickle
import random

from clew.apply.applyset import Member, sorted_members
from clew.model import Health, HealthResult, Manifest, ObjectRef
from clew.wait.watcher import _Group, _Waiter


def test_ref_hash_agrees_with_equality_and_survives_pickle() -> None:
    a = ObjectRef("apps", "Deployment", "shop", "web")
    b = ObjectRef("apps", "Deployment", "shop", "web")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != ObjectRef("apps", "Deployment", "shop", "api")
    copy = pickle.loads(pickle.dumps(a))
    assert copy == a
    assert hash(copy) == hash(a)
    assert repr(a) == "ObjectRef(group='apps', kind='Deployment', namespace='shop', name='web')"


def test_manifest_ref_is_its_objects() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "n"},
    }
    m = Manifest(obj, "a.yaml#0")
    assert m.ref == ObjectRef("apps", "Deployment", "n", "w")
    assert m == Manifest(obj, "a.yaml#0")


def test_sorted_members_is_the_dataclass_order() -> None:
    rng = random.Random(7)
    members = [
        Member(
            ObjectRef(rng.choice("ab"), rng.choice("KL"), rng.choice("xy"), rng.choice("mn")),
            rng.choice(["v1", "v2"]),
            rng.choice([True, False]),
            rng.choice("dq"),
            rng.choice("12"),
            rng.choice(["", "u"]),
            rng.randint(0, 2),
        )
        for _ in range(2000)
    ]
    assert sorted_members(members) == sorted(members)


def test_waiter_finishes_exactly_when_the_last_object_settles() -> None:
    async def scenario() -> None:
        waiter = _Waiter(None, Health.CURRENT, None, 1)  # type: ignore[arg-type]
        refs = [ObjectRef("", "ConfigMap", "n", f"c{i}") for i in range(300)]
        group = _Group("v1", "ConfigMap", "n")
        for ref in refs:
            group.names[ref.name] = ref
            group.unsettled.add(ref)
            waiter.groups_of.setdefault(ref, []).append(group)
        waiter.expected = refs
        waiter.unsettled = set(refs)
        progressing = HealthResult(Health.IN_PROGRESS, "not yet")
        current = HealthResult(Health.CURRENT, "")
        order = list(refs)
        random.Random(3).shuffle(order)
        for ref in order:
            waiter.observe(ref, progressing)
        for i, ref in enumerate(order):
            assert not waiter.finished.is_set()
            assert not waiter._settled(group)
            waiter.observe(ref, current)
            waiter.observe(ref, current)  # a repeated event changes nothing
            assert len(waiter.unsettled) == len(order) - i - 1
        assert waiter.finished.is_set()
        assert waiter._settled(group)
        assert waiter.outcome(False, 0.0).ok

    asyncio.run(scenario())
