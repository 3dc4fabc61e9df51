"""S5: 1,000 Applications of four objects each (a Deployment scaled to 0, a ServiceAccount, a
headless Service, a ConfigMap), the shape of Flux's published benchmark.

One repository, one directory per Application (``apps/a0000`` …): every Application renders its
own small path of the same commit, so the controller fetches that commit once and shares it (one
``ls-remote`` per interval for all of them), while each sync touches only its four objects. The
alternative, one shared directory with a different ``destination.namespace`` per Application,
needs 1,000 namespaces; here 100 Applications share a namespace (10 per run), as teams do.

Each run starts a fresh controller process (fresh source cache, so its peak RSS and CPU belong
to that run), opens a watch on the run's Applications, creates all of them as fast as the API
server takes them (admin, 32 at a time), and stops the clock when the watch has shown every one
Ready=True at the commit (``wait: true``: Ready means every object is healthy). Then the
controller is stopped and the run's namespaces deleted, so the next run starts quiet.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench import baselines
from bench.operator import apps, controller, manifests
from bench.operator.apimetrics import api_counts
from bench.operator.env import GIT_USER, Environment, components_cpu, say, teardown
from bench.operator.stats import percentile
from bench.operator.watching import Consumer, follow
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.wait import wait_for

RUN_LABEL = "bench.clew.dev/run"
CREATE_CONCURRENCY = 32

Rows = defaultdict[str, list[float]]


@dataclass(frozen=True)
class Config:
    apps: int = 1000
    per_namespace: int = 100
    runs: int = 5
    workers: int = 32
    sweep: tuple[int, ...] = ()
    timeout: float = 1800.0


def _app_name(i: int) -> str:
    return f"a{i:04d}"


def _namespaces(prefix: str, cfg: Config) -> list[str]:
    return [f"{prefix}-{k}" for k in range(-(-cfg.apps // cfg.per_namespace))]


def _tree(cfg: Config) -> dict[str, str]:
    files = {}
    for i in range(cfg.apps):
        name = _app_name(i)
        files.update(manifests.tree_files(f"apps/{name}", manifests.app_objects(name)))
    return files


async def _create_all(admin: Any, objs: list[dict[str, Any]]) -> None:
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)

    async def one(obj: dict[str, Any]) -> None:
        async with limit:
            await admin.create(obj)

    await asyncio.gather(*(one(o) for o in objs))


async def _one_run(
    env: Environment, url: str, sha: str, cfg: Config, run: str, workers: int, key: str, rows: Rows
) -> None:
    """Create all Applications and time them until Ready; ``key`` prefixes the rows."""
    admin = env.admin
    namespaces = _namespaces(run, cfg)
    for ns in namespaces:
        await apps.namespace_with_secret(admin, ns, GIT_USER, env.password)
    objs = [
        apps.application(
            _app_name(i),
            namespaces[i // cfg.per_namespace],
            url,
            f"apps/{_app_name(i)}",
            labels={RUN_LABEL: run},
        )
        for i in range(cfg.apps)
    ]
    ctl = await controller.start(env.plane, admin, env.work / run, f"bench-{run}", workers)
    tracker = apps.ReadyTracker(sha, cfg.apps)
    listed = asyncio.Event()
    consumer = Consumer(
        follow(admin, API_VERSION, KIND, label_selector=f"{RUN_LABEL}={run}", listed=listed),
        tracker,
    )
    try:
        await listed.wait()
        api, cpu, plane = await api_counts(admin), ctl.cpu(), components_cpu(env.plane)
        started = time.monotonic()
        await _create_all(admin, objs)
        created = time.monotonic()
        try:
            await asyncio.wait_for(tracker.all_ready.wait(), cfg.timeout)
        except TimeoutError:
            pending: dict[str, int] = defaultdict(int)
            for reason in tracker.reasons.values():
                pending[reason] += 1
            raise RuntimeError(
                f"S5: {len(tracker.times)}/{cfg.apps} Ready after {cfg.timeout:.0f}s; "
                f"the others by reason: {dict(pending)}"
            ) from None
        consumer.check()
        done = max(tracker.times.values())
        spent = (await api_counts(admin)) - api
        used = ctl.cpu() - cpu
        wall = time.monotonic() - started
        for name, seconds in components_cpu(env.plane).items():
            rows[f"{key}_{name}_cores"].append((seconds - plane[name]) / wall)
        rows[f"{key}_controller_cores"].append(used.total / wall)
        rows[f"{key}_ready_seconds"].append(done - started)
        rows[f"{key}_create_seconds"].append(created - started)
        ready = [t - started for t in tracker.times.values()]
        rows[f"{key}_app_ready_p50"].append(percentile(ready, 50))
        rows[f"{key}_controller_peak_rss"].append(ctl.peak_rss_mib())
        rows[f"{key}_controller_cpu"].append(used.own)
        rows[f"{key}_controller_children_cpu"].append(used.children)
        rows[f"{key}_controller_requests_per_app"].append(spent.controller / cfg.apps)
        say(
            f"S5 {run} ({workers} workers): all {cfg.apps} Ready in {done - started:.1f}s "
            f"(created in {created - started:.1f}s), peak RSS {ctl.peak_rss_mib():.0f} MiB, "
            f"CPU {used.own:.1f}s + {used.children:.1f}s children, "
            f"{spent.controller / cfg.apps:.1f} requests/app"
        )
    finally:
        await consumer.aclose()
        env.stopped("S5", ctl)
    await apps.release(admin, objs)
    await teardown(admin, namespaces)


async def _floor(env: Environment, cfg: Config, run: str, rows: Rows) -> None:
    """The same objects written by a raw SSA loop, in namespaces of their own, and the time
    until all of them are healthy by the same rules clew's ``wait`` uses."""
    admin = env.admin
    floor = _namespaces(run, cfg)
    for ns in floor:
        await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    raw = []
    for i in range(cfg.apps):
        for obj in manifests.app_objects(_app_name(i)):
            obj["metadata"]["namespace"] = floor[i // cfg.per_namespace]
            raw.append(obj)
    started = time.monotonic()
    rows["s5_floor_raw_apply"].append(
        await baselines.raw_apply(env.plane.restricted_kubeconfig, raw)
    )
    async with Cluster.from_kubeconfig(env.plane.restricted_kubeconfig) as cluster:
        health = await wait_for(cluster, raw, timeout=cfg.timeout)
    if not health.ok:
        raise RuntimeError(f"S5 floor: not all healthy: {health.summary()[:2000]}")
    rows["s5_floor_healthy"].append(time.monotonic() - started)
    await teardown(admin, floor)


async def run(env: Environment, cfg: Config, rows: Rows) -> None:
    repo = env.repo("s5")
    sha = await asyncio.to_thread(repo.commit, _tree(cfg), f"{cfg.apps} applications")
    url = env.url(repo)
    for workers in cfg.sweep:  # context: one run at each other worker count
        await _one_run(env, url, sha, cfg, f"s5w{workers}", workers, f"s5_sweep_w{workers}", rows)
    for r in range(cfg.runs):
        await _one_run(env, url, sha, cfg, f"s5r{r}", cfg.workers, "s5", rows)
        await _floor(env, cfg, f"s5b{r}", rows)
