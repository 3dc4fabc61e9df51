"""S7's floor: the least a self-healing controller must do, as a process of its own.

It server-side applies its ConfigMaps, then follows them with one list-then-watch; any event
whose value is not the desired one and whose resourceVersion is not the one its own last write
produced is answered with one forced server-side apply. Nothing else: no inventory, no status,
no Events, no per-kind informer machinery. It uses clew's own client (msgspec, httpx), so the
difference to clew's controller is the controller's logic, not the HTTP stack.

    python -m bench.operator.healer --kubeconfig K --namespace NS --count 50

Prints ``ready`` once its watch cannot miss a change, then heals until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from bench.operator.manifests import configmaps
from bench.operator.watching import follow
from clew.cluster import Cluster, ClusterError

LABEL = "bench.clew.dev/healer"
VALUE = "git"
MANAGER = "raw-healer"


def desired(namespace: str, count: int) -> dict[str, dict[str, Any]]:
    out = {}
    for obj in configmaps(count, VALUE):
        obj["metadata"] = {**obj["metadata"], "namespace": namespace, "labels": {LABEL: "raw"}}
        out[obj["metadata"]["name"]] = obj
    return out


class Healer:
    def __init__(self, cluster: Cluster, objects: dict[str, dict[str, Any]]) -> None:
        self.cluster = cluster
        self.objects = objects
        self.written: dict[str, str] = {}  # resourceVersion of our own last write
        self.busy: set[str] = set()
        self.again: set[str] = set()  # changed while a write of ours was in flight

    async def write(self, name: str) -> None:
        self.busy.add(name)
        try:
            stored = await self.cluster.apply(self.objects[name], field_manager=MANAGER, force=True)
            self.written[name] = stored["metadata"]["resourceVersion"]
        except ClusterError as exc:
            print(f"heal of {name} failed: {exc}", file=sys.stderr, flush=True)
        finally:
            self.busy.discard(name)
        if name in self.again:
            self.again.discard(name)
            await self.write(name)

    def handle(self, obj: dict[str, Any]) -> asyncio.Task[None] | None:
        meta = obj["metadata"]
        name = meta["name"]
        if name not in self.objects or meta.get("resourceVersion") == self.written.get(name):
            return None
        if (obj.get("data") or {}) == self.objects[name]["data"]:
            return None
        if name in self.busy:
            self.again.add(name)
            return None
        return asyncio.create_task(self.write(name))


async def main_async(kubeconfig: Path, namespace: str, count: int) -> None:
    async with Cluster.from_kubeconfig(kubeconfig) as cluster:
        healer = Healer(cluster, desired(namespace, count))
        await asyncio.gather(*(healer.write(name) for name in healer.objects))
        listed = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def heal() -> None:
            async for seen in follow(
                cluster, "v1", "ConfigMap", namespace, label_selector=f"{LABEL}=raw", listed=listed
            ):
                if seen.type != "DELETED" and (task := healer.handle(seen.obj)) is not None:
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

        runner = asyncio.create_task(heal())
        await listed.wait()
        print("ready", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main_async(args.kubeconfig, args.namespace, args.count))


if __name__ == "__main__":
    main()
