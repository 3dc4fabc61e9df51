"""S3's sync with and without the controller's watch caches, alternated in one process: the
CPU-seconds, wall time and API requests of ``engine.sync`` (plan, apply, inventory, wait for
health) when one of S3's 5,000 objects changed, the LIST way (``SyncOptions.live`` unset: a
metadata LIST per kind, the waiter's LIST+WATCH per kind and namespace) against the informer
way (``live`` = :class:`~clew.controller.reconcile.livecache.InformerCache` over cluster-wide
drift informers, as the controller runs them for its own client).

CPU is this process's (``time.process_time``), so other work on the machine slows the wall
time but hardly the CPU figure: the ratio is the thing to read. No Git, no controller loop.

    .venv/bin/python -m bench.operator.cacheab [--size 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import yaml

from bench.operator import manifests, s3
from clew import engine, source
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.reconcile.livecache import InformerCache
from clew.controller.runtime.informer import Informer, InformerFactory
from clew.model import Snapshot
from clew.plan import version_number
from clew.testing.controlplane import ControlPlane


def _requests(cluster: Cluster) -> int:
    return sum(n for verb, n in cluster.requests.items() if verb != "WATCH")


async def _caught_up(informers: dict[str, Informer], newest: dict[str, int]) -> None:
    """Until each kind's informer has reached the newest version clew wrote of that kind
    (bench code: polled)."""
    deadline = time.monotonic() + 60
    while any(
        (version_number(i.resource_version) or 0) < newest.get(kind, 0)
        for kind, i in informers.items()
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("informers did not catch up")
        await asyncio.sleep(0.05)


async def run(size: int, rounds: int) -> dict[str, list[float]]:
    rows: defaultdict[str, list[float]] = defaultdict(list)
    objs = manifests.plain_objects("ab", size, s3.SPREAD)
    work = Path(tempfile.mkdtemp(prefix="clew-cacheab-"))
    for name, text in manifests.tree_files("deploy", objs).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    first = work / manifests.file_name("deploy", 0)

    async def fetch() -> Snapshot:
        return source.local(work, "deploy")

    plane = ControlPlane(say=lambda msg: print(msg, file=sys.stderr, flush=True))
    plane.start()
    try:
        async with Cluster.from_kubeconfig(plane.admin_kubeconfig) as cluster:
            base = engine.SyncOptions(name="cacheab", namespace="default", timeout=120)
            cold = await engine.sync(cluster, fetch, base)
            if not cold.ok:
                raise RuntimeError(f"cold sync: {cold.error}")
            factory = InformerFactory(cluster)
            kinds = {(str(o["apiVersion"]), str(o["kind"])) for o in objs}
            informers = {k: factory.informer(v, k, None, PART_OF) for v, k in kinds}
            await factory.start_all()
            await asyncio.wait_for(factory.wait_for_sync(), 120)
            cache = InformerCache(lambda _c, _v, k, _ns: informers.get(k))
            newest: dict[str, int] = {}
            for r in range(rounds):
                for way in ("list", "cache") if r % 2 == 0 else ("cache", "list"):
                    await _caught_up(informers, newest)  # the same start for both ways
                    part = manifests.set_probe(objs, f"{way}-{r}")[: manifests.PER_FILE]
                    first.write_text(yaml.safe_dump_all(part))
                    options = replace(base, wait=True, live=cache if way == "cache" else None)
                    calls, cpu, wall = _requests(cluster), time.process_time(), time.perf_counter()
                    result = await engine.sync(cluster, fetch, options)
                    rows[f"{way}_cpu_s"].append(time.process_time() - cpu)
                    rows[f"{way}_wall_s"].append(time.perf_counter() - wall)
                    rows[f"{way}_requests"].append(_requests(cluster) - calls)
                    for stage in ("plan", "wait"):
                        rows[f"{way}_{stage}_s"].append(result.durations.get(stage, 0.0))
                    if not result.ok or engine.count(result.changes()).get("configured") != 1:
                        raise RuntimeError(f"{way} round {r}: {result.reason} {result.error}")
                    for c in result.applied.changes:
                        mine = version_number(c.version) or 0
                        newest[c.ref.kind] = max(newest.get(c.ref.kind, 0), mine)
            await factory.stop_all()
    finally:
        plane.stop()
    return rows


def report(rows: dict[str, list[float]], size: int, rounds: int) -> str:
    lines = [
        f"S3 sync, 1 of {size} objects changed, wait on: medians of {rounds} alternated rounds",
        "| | LIST way | informers | ratio |",
        "|---|---:|---:|---:|",
    ]
    for what in ("cpu_s", "wall_s", "plan_s", "wait_s", "requests"):
        a, b = statistics.median(rows[f"list_{what}"]), statistics.median(rows[f"cache_{what}"])
        lines.append(f"| {what} | {a:.3f} | {b:.3f} | {b / a if a else float('nan'):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = asyncio.run(run(args.size, args.rounds))
    print(report(rows, args.size, args.rounds))
    print({k: [round(x, 4) for x in v] for k, v in sorted(rows.items())})


if __name__ == "__main__":
    main()
