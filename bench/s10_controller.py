"""S10's controller part: a no-op reconcile of each set, ``engine.sync`` in-process on a client
kept alive as the controller keeps it, timed and its HTTP requests counted by the client.

Two ways, in the same round, on the same objects:

- *informers* (``ctl_noop_*``), as the controller runs now: the drift informers the controller
  starts for an Application's objects (one per kind and namespace, label-selected to ApplySet
  members, as the Application's account) feed the plan's live versions
  (:class:`clew.controller.reconcile.livecache.InformerCache`);
- *LIST* (``ctl_noop_list_*``), the baseline: no cache, one metadata LIST per kind.

Requests are those a reconcile sends; the informers' own list and watch, made once when the
controller starts watching the set, are not a reconcile's (a watch is not re-opened during the
few seconds measured: its timeout is minutes).

    .venv/bin/python -m bench.s10 --controller-only [--runs 3] [--shapes ...]
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from clew import engine, source
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.reconcile.livecache import InformerCache
from clew.controller.runtime.informer import Informer, InformerFactory
from clew.model import Snapshot

NOOPS = 5


async def controller_noop(
    kubeconfig: Path,
    directory: Path,
    prefix: str,
    objects: int,
    rows: dict[str, list[float]],
    key: str,
) -> None:
    """One warm-up sync (it applies the set when nothing exists yet), then :data:`NOOPS`
    no-ops the LIST way, then :data:`NOOPS` fed by informers."""

    async def fetch() -> Snapshot:
        return source.local(directory, ".")

    async with Cluster.from_kubeconfig(kubeconfig) as cluster:
        plain = engine.SyncOptions(name=f"s10-{prefix}", namespace="default")
        # With --controller-only the warm-up is a cold apply: of 22 CRDs of 1.4 MB, 16 at once
        # time out on a busy 2-CPU machine, so fewer at once, and again if it still fails.
        for _ in range(3):
            warm = await engine.sync(cluster, fetch, replace(plain, concurrency=4))
            if warm.ok:
                break
        else:
            raise RuntimeError(f"controller warm-up of {key}: {warm.reason} {warm.error}")
        await _noops(cluster, fetch, plain, objects, rows, f"{key}/ctl_noop_list")

        factory = InformerFactory(cluster)
        watched: dict[tuple[str, str, str], Informer] = {}
        for m in warm.desired:  # what the runner's _watch_kinds starts for an account's objects
            where = (str(m.obj["apiVersion"]), m.ref.kind, m.ref.namespace)
            watched[where] = factory.informer(*where[:2], where[2] or None, PART_OF)
        await factory.start_all()
        try:
            await asyncio.wait_for(factory.wait_for_sync(), 60)
            cache = InformerCache(lambda _c, v, k, ns: watched.get((v, k, ns)))
            fed = engine.SyncOptions(name=plain.name, namespace=plain.namespace, live=cache)
            await engine.sync(cluster, fetch, fed)  # as the first reconcile after the watch
            await _noops(cluster, fetch, fed, objects, rows, f"{key}/ctl_noop")
            if cache.hits == 0:
                raise RuntimeError(f"controller no-op of {key}: the informers never answered")
        finally:
            await factory.stop_all()


async def _noops(
    cluster: Cluster,
    fetch: engine.FetchSnapshot,
    options: engine.SyncOptions,
    objects: int,
    rows: dict[str, list[float]],
    prefix: str,
) -> None:
    for _ in range(NOOPS):
        calls = sum(n for verb, n in cluster.requests.items() if verb != "WATCH")
        started = time.perf_counter()
        result = await engine.sync(cluster, fetch, options)
        rows[f"{prefix}_s"].append(time.perf_counter() - started)
        now = sum(n for verb, n in cluster.requests.items() if verb != "WATCH")
        rows[f"{prefix}_req"].append(now - calls)
        if not result.ok or engine.count(result.changes()) != {"unchanged": objects}:
            raise RuntimeError(f"controller no-op {prefix}: {result.reason} {result.error}")
