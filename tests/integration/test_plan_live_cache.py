"""The plan's live versions from the controller's watch caches (controller/reconcile/livecache):

- a change made by hand between two syncs is seen through the cache, and the plan sends no LIST;
- a cache that has not seen clew's last apply (the version floor) is not trusted: the plan lists,
  so a hand change the stale cache cannot show is still applied over;
- a hand change the cache had not received when the plan ran is handed to the drift watcher
  when the sync ends (replay), while a write of clew's own is not;
- another inventory's claim on a desired object is found in the cache, without a LIST;
- the wait for health reads the cache for objects it shows healthy at this sync's version,
  and watches (a LIST) only those the cache has not seen at that version.

Real informers on the real API server; the controller's drift informers are the same class."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew import engine, source
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.reconcile.livecache import InformerCache
from clew.controller.runtime.informer import Informer
from clew.model import Snapshot

pytestmark = pytest.mark.integration


def write(directory: Path, **colors: str) -> None:
    for name, color in colors.items():
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        (directory / f"{name}.yaml").write_text(yaml.safe_dump({**obj, "data": {"c": color}}))


async def sync(
    cluster: Cluster, directory: Path, ns: str, cache: InformerCache, *, wait: bool = False
) -> Any:
    async def fetch() -> Snapshot:
        return source.local(directory, ".")

    # force: a PUT by hand takes the field over, and Git must win it back
    options = engine.SyncOptions(name="cached", namespace=ns, force=True, wait=wait, live=cache)
    before = cluster.calls["list"]
    result = await engine.sync(cluster, fetch, options)
    assert result.ok, result.error
    return result, cluster.calls["list"] - before


@contextlib.asynccontextmanager
async def informer(cluster: Cluster, ns: str) -> AsyncIterator[Informer]:
    inf = Informer(cluster, "v1", "ConfigMap", ns, label_selector=PART_OF)
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.wait_for(inf.has_synced.wait(), 30)
        yield inf
    finally:
        await inf.stop()
        await asyncio.wait({task})


async def seen(inf: Informer, name: str, predicate: Any) -> dict[str, Any]:
    """Wait (on the informer's own events) until its cache holds ``name`` as ``predicate``."""
    arrived = asyncio.Event()

    def on(_kind: str, obj: dict[str, Any], _old: object) -> None:
        if obj["metadata"]["name"] == name and predicate(obj):
            arrived.set()

    unsubscribe = inf.on_event(on)  # replays the cache as ADDED first
    try:
        await asyncio.wait_for(arrived.wait(), 30)
    finally:
        unsubscribe()
    found = inf.get(inf.key.namespace, name)
    assert found is not None
    return found


async def caught_up(inf: Informer, result: Any) -> None:
    for change in result.applied.changes:
        await seen(inf, change.ref.name, lambda o, c=change: version(o) == c.version)


def version(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])


async def edit(cluster: Cluster, ns: str, name: str, color: str) -> dict[str, Any]:
    live = await cluster.get("v1", "ConfigMap", name, ns)
    live["data"]["c"] = color
    path = f"/api/v1/namespaces/{ns}/configmaps/{name}"
    return await cluster.request("PUT", path, body=live)


async def test_a_hand_change_between_syncs_is_seen_from_the_cache(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    write(tmp_path, a="blue", b="blue")
    async with informer(kube_admin, ns) as inf:
        cache = InformerCache(lambda _c, _v, kind, where: inf if where == ns else None)
        first, _ = await sync(kube_admin, tmp_path, ns, cache)
        await caught_up(inf, first)

        noop, lists = await sync(kube_admin, tmp_path, ns, cache)
        assert engine.count(noop.changes()) == {"unchanged": 2}
        assert lists == 0
        assert cache.hits >= 1

        hacked = await edit(kube_admin, ns, "a", "red")
        await seen(inf, "a", lambda o: version(o) == version(hacked))
        healed, lists = await sync(kube_admin, tmp_path, ns, cache)
        assert lists == 0
        assert engine.count(healed.changes()) == {"configured": 1, "unchanged": 1}
        live = await kube_admin.get("v1", "ConfigMap", "a", ns)
        assert live["data"]["c"] == "blue"


async def test_a_cache_behind_clews_last_apply_is_not_trusted(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    write(tmp_path, a="blue", b="blue")
    async with informer(kube_admin, ns) as inf:
        cache = InformerCache(lambda _c, _v, kind, where: inf if where == ns else None)
        first, _ = await sync(kube_admin, tmp_path, ns, cache)
        await caught_up(inf, first)
    # The watch stops here: its cache still shows "a" exactly as clew recorded it.
    write(tmp_path, b="green")  # clew's own apply of "b" moves the floor past the cache
    second, _ = await sync(kube_admin, tmp_path, ns, cache)
    assert engine.count(second.changes()) == {"configured": 1, "unchanged": 1}
    await edit(kube_admin, ns, "a", "red")  # a hand change the stale cache cannot show

    misses = cache.misses
    third, lists = await sync(kube_admin, tmp_path, ns, cache)
    assert cache.misses == misses + 1
    assert lists >= 1
    assert engine.count(third.changes()) == {"configured": 1, "unchanged": 1}
    live = await kube_admin.get("v1", "ConfigMap", "a", ns)
    assert live["data"]["c"] == "blue"


async def test_a_change_the_cache_had_not_received_is_replayed_to_drift(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    write(tmp_path, a="blue", b="blue")
    async with informer(kube_admin, ns) as inf:
        cache = InformerCache(lambda _c, _v, kind, where: inf if where == ns else None)
        first, _ = await sync(kube_admin, tmp_path, ns, cache)
        await caught_up(inf, first)
    # The event of this edit has not reached the (stopped) cache when the next plan runs.
    hacked = await edit(kube_admin, ns, "a", "red")
    stale, lists = await sync(kube_admin, tmp_path, ns, cache)
    assert lists == 0
    assert engine.count(stale.changes()) == {"unchanged": 2}

    async with informer(kube_admin, ns) as inf:  # the watch resumes; the event arrives
        cache = InformerCache(lambda _c, _v, kind, where: inf if where == ns else None)
        await seen(inf, "a", lambda o: version(o) == version(hacked))
        handed: list[tuple[str, str, str]] = []
        count = cache.replay(
            kube_admin,
            stale.desired,
            stale.applied.changes,
            lambda kind, obj: handed.append((kind, obj["metadata"]["name"], version(obj))),
        )
        assert count == 1
        assert handed == [("MODIFIED", "a", version(hacked))]  # not "b": clew's own write


async def test_health_from_the_cache_only_at_this_syncs_version(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    write(tmp_path, a="blue", b="blue")
    async with informer(kube_admin, ns) as inf:
        cache = InformerCache(lambda _c, _v, kind, where: inf if where == ns else None)
        first, _ = await sync(kube_admin, tmp_path, ns, cache, wait=True)
        await caught_up(inf, first)
        noop, lists = await sync(kube_admin, tmp_path, ns, cache, wait=True)
        assert lists == 0  # neither the plan nor the wait listed
        assert noop.health.ok
        assert sorted(r.name for r in noop.health.results) == ["a", "b"]
    write(tmp_path, b="green")  # the stopped cache cannot show this sync's write of "b"
    changed, lists = await sync(kube_admin, tmp_path, ns, cache, wait=True)
    assert lists == 1  # the watcher's LIST of ConfigMaps, for "b" alone
    assert changed.health.ok
    assert sorted(r.name for r in changed.health.results) == ["a", "b"]


async def test_another_inventorys_claim_is_found_in_the_cache(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    claimed = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": ns, "labels": {PART_OF: "applyset-other-v1"}},
        "data": {"c": "theirs"},
    }
    await kube_admin.create(claimed)
    write(tmp_path, c="blue")
    async with informer(kube_admin, ns) as inf:
        await seen(inf, "c", lambda o: True)
        cache = InformerCache(lambda _c, _v, kind, where: inf if where == ns else None)

        async def fetch() -> Snapshot:
            return source.local(tmp_path, ".")

        before = kube_admin.calls["list"]
        options = engine.SyncOptions(name="cached", namespace=ns, live=cache)
        result = await engine.sync(kube_admin, fetch, options)
        assert kube_admin.calls["list"] == before
    assert not result.ok
    assert "owned by another ApplySet applyset-other-v1" in result.error
    live = await kube_admin.get("v1", "ConfigMap", "c", ns)
    assert live["data"]["c"] == "theirs"
