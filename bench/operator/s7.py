"""S7 drift churn: one Application managing 50 ConfigMaps with ``selfHeal: true`` while another
client (the admin, field manager ``bench-drift``, a JSON merge patch) changes ``data.v`` 50 times
a second for 60 s, round-robin over the objects, so each object is changed once a second.

For each change the clock runs from the moment its PATCH was sent until a watch opened
beforehand shows Git's value back on that object (a later change to the same object before the
revert only lengthens the earlier one's time). API requests come from the API server's
``apiserver_request_total``: all of them in the window, minus the loop's own (one per change),
minus background noise measured over a quiet window of the same controller just before; that is
divided by the reverts the watch saw. The controller's CPU comes from ``/proc/<pid>/stat``.

Each run measures clew, then the floor (:mod:`bench.operator.healer`) on its own namespace under
the same load, so both see the same machine at nearly the same time. The Application's interval
is 10m, so its periodic reconcile rarely meets the churn; one extra run with ``interval: 15s``
shows what happens when it does (reconciles during the window and their results, changes
reverted only after the next change of the same object, the Ready condition afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.operator import apps, controller, healer, manifests
from bench.operator.apimetrics import ApiCounts, api_counts
from bench.operator.env import GIT_USER, Environment, say, teardown
from bench.operator.stats import percentile
from bench.operator.watching import Consumer, Seen, follow
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.waiting import condition, until

NAMESPACE = "s7"
RAW_NAMESPACE = "s7-raw"
GIT_VALUE = "git"
MANAGER = "bench-drift"
SLOW = 0.5  # seconds: half the time until the same object is changed again
SETTLE = 60.0  # seconds after the last change for every object to show Git's value again
POLLING = "15s"  # the extra run's interval, so periodic reconciles meet the churn

Rows = defaultdict[str, list[float]]


@dataclass(frozen=True)
class Config:
    objects: int = 50
    rate: float = 50.0  # changes per second
    seconds: float = 60.0
    quiet: float = 10.0  # the noise window
    runs: int = 5
    workers: int = 4


@dataclass
class Timeline:
    """Every value each object took on the watch, with its arrival time."""

    values: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _tick: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, seen: Seen) -> None:
        value = str((seen.obj.get("data") or {}).get("v"))
        self.values.setdefault(seen.name, []).append((seen.at, value))
        if value == GIT_VALUE:
            self._dirty.discard(seen.name)
        else:
            self._dirty.add(seen.name)
        self._tick.set()

    async def settle(self, last: dict[str, str], timeout: float) -> None:
        """Wait (on the watch) until each object's ``last`` value was seen and every object
        shows Git's value again."""

        def done() -> bool:
            return not self._dirty and all(
                any(v == value for _, v in self.values.get(name, []))
                for name, value in last.items()
            )

        async def loop() -> None:
            while not done():
                self._tick.clear()
                await self._tick.wait()

        await asyncio.wait_for(loop(), timeout)

    def reverts(self, since: float) -> int:
        """Changes back to Git's value seen after ``since``."""
        count = 0
        for history in self.values.values():
            for (_, before), (at, after) in itertools.pairwise(history):
                count += at >= since and after == GIT_VALUE and before != GIT_VALUE
        return count

    def latency(self, name: str, value: str, sent: float) -> float | None:
        """From ``sent`` until Git's value is back after ``value`` appeared; None if never."""
        history = self.values.get(name, [])
        for i, (_, v) in enumerate(history):
            if v == value:
                for at, later in history[i + 1 :]:
                    if later == GIT_VALUE:
                        return at - sent
                return None
        return None


@dataclass(frozen=True)
class Churn:
    latencies: list[float]
    unrestored: int
    requests: float  # by the process under test, from the subtraction
    requests_by_flow: int  # in the restricted ServiceAccount's flow schema
    reverts: int
    cpu_seconds: float
    wall: float
    changes: int
    by_resource: dict[str, int]


async def _drift(admin: Cluster, namespace: str, name: str, value: str) -> None:
    await admin.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/{name}",
        params={"fieldManager": MANAGER},
        body={"data": {"v": value}},
        content_type="application/merge-patch+json",
    )


async def churn(
    admin: Cluster,
    namespace: str,
    selector: str,
    cpu: Callable[[], float],
    cfg: Config,
    tag: str,
) -> Churn:
    timeline = Timeline()
    listed = asyncio.Event()
    consumer = Consumer(
        follow(admin, "v1", "ConfigMap", namespace, label_selector=selector, listed=listed),
        timeline,
    )
    try:
        await listed.wait()
        names = sorted(timeline.values)
        # The noise window: the same processes, nobody drifting. Sleeping is the measurement.
        quiet = await api_counts(admin)
        await asyncio.sleep(cfg.quiet)
        noise = (await api_counts(admin)) - quiet
        noise_rate = max(0, noise.total - 1) / cfg.quiet  # minus our own scrape

        before, cpu0, started = await api_counts(admin), cpu(), time.monotonic()
        sent: list[tuple[str, str, float]] = []
        tasks = []
        total = int(cfg.rate * cfg.seconds)
        for n in range(total):
            # The load generator keeps its rate; sleeping here is the workload's pacing.
            await asyncio.sleep(max(0.0, started + n / cfg.rate - time.monotonic()))
            name, value = names[n % len(names)], f"{tag}-{n}"
            sent.append((name, value, time.monotonic()))
            tasks.append(asyncio.create_task(_drift(admin, namespace, name, value)))
        await asyncio.gather(*tasks)
        # A change never reverted is counted as such below, not a crash.
        with contextlib.suppress(TimeoutError):
            await timeline.settle({name: value for name, value, _ in sent}, SETTLE)
        consumer.check()
        wall = time.monotonic() - started
        cpu_seconds = cpu() - cpu0
        spent: ApiCounts = (await api_counts(admin)) - before
    finally:
        await consumer.aclose()
    measured = [timeline.latency(name, value, at) for name, value, at in sent]
    latencies = [m for m in measured if m is not None]
    reverts = timeline.reverts(started)
    others = spent.total - 1 - total - noise_rate * wall  # minus our scrape, the loop, the noise
    by_resource: dict[str, int] = defaultdict(int)
    for (verb, resource), count in spent.requests.items():
        by_resource[f"{verb} {resource}"] += count
    return Churn(
        latencies,
        len(measured) - len(latencies),
        others,
        spent.controller,
        reverts,
        cpu_seconds,
        wall,
        total,
        dict(by_resource),
    )


def _record(rows: Rows, key: str, result: Churn) -> None:
    rows[f"{key}_latency"] += result.latencies
    rows[f"{key}_p50"].append(percentile(result.latencies, 50))
    rows[f"{key}_p99"].append(percentile(result.latencies, 99))
    rows[f"{key}_unrestored"].append(result.unrestored)
    rows[f"{key}_requests_per_correction"].append(result.requests / max(1, result.reverts))
    rows[f"{key}_flow_requests_per_correction"].append(
        result.requests_by_flow / max(1, result.reverts)
    )
    rows[f"{key}_cores"].append(result.cpu_seconds / result.wall)
    rows[f"{key}_reverts"].append(result.reverts)
    # Changes reverted only after the next change of the same object (a second later): the
    # change itself was not acted upon.
    rows[f"{key}_missed"].append(sum(1 for x in result.latencies if x > SLOW))
    say(
        f"S7 {key}: p50 {percentile(result.latencies, 50):.3f}s p99 "
        f"{percentile(result.latencies, 99):.3f}s, {result.requests / max(1, result.reverts):.2f} "
        f"req/correction, {result.cpu_seconds / result.wall:.2f} cores, "
        f"{result.unrestored} unrestored; {dict(sorted(result.by_resource.items()))}"
    )


def _reconciles(metrics: dict[str, float]) -> dict[str, float]:
    """Reconciles so far by result, from the controller's ``clew_reconcile_total``."""
    out = {}
    for sample, value in metrics.items():
        if sample.startswith("clew_reconcile_total{"):
            out[sample.split('result="', 1)[1].split('"', 1)[0]] = value
    return out


async def _clew_churn(
    env: Environment, ctl: controller.Controller, cfg: Config, key: str, tag: str, rows: Rows
) -> None:
    before = _reconciles(await ctl.metrics(env.http))
    result = await churn(env.admin, NAMESPACE, PART_OF, lambda: ctl.cpu().total, cfg, tag)
    _record(rows, key, result)
    after = _reconciles(await ctl.metrics(env.http))
    failed = sum(v - before.get(k, 0) for k, v in after.items() if k != "Succeeded")
    rows[f"{key}_reconciles"].append(sum(after.values()) - sum(before.values()))
    rows[f"{key}_failed_reconciles"].append(failed)
    app = await env.admin.get(API_VERSION, KIND, "drift", NAMESPACE)
    ready = condition(app, "Ready") or {}
    if ready.get("status") != "True":
        env.notes.append(
            f"S7 ({key}): after the churn the Application was Ready={ready.get('status')} "
            f"{ready.get('reason')}: `{str(ready.get('message'))[:300]}`"
        )


async def run(env: Environment, cfg: Config, rows: Rows) -> None:
    admin = env.admin
    repo = env.repo("s7")
    objs = manifests.configmaps(cfg.objects, GIT_VALUE)
    sha = await asyncio.to_thread(repo.commit, manifests.tree_files("deploy", objs), "initial")
    await apps.namespace_with_secret(admin, NAMESPACE, GIT_USER, env.password)
    await admin.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RAW_NAMESPACE}}
    )
    ctl = await controller.start(env.plane, admin, env.work / "s7", "bench-s7", cfg.workers)
    raw = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.operator.healer",
        "--kubeconfig", str(env.plane.restricted_kubeconfig),
        "--namespace", RAW_NAMESPACE, "--count", str(cfg.objects),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert raw.stdout is not None
        line = await asyncio.wait_for(raw.stdout.readline(), 60)  # it says so once watching
        if line.strip() != b"ready":
            raise RuntimeError("the raw healer did not start")
        await admin.create(apps.application("drift", NAMESPACE, env.url(repo), "deploy"))
        await until(admin, API_VERSION, KIND, "drift", NAMESPACE, apps.ready_at(sha), 300)
        for r in range(cfg.runs):
            await _clew_churn(env, ctl, cfg, "s7_clew", f"c{r}", rows)
            result = await churn(
                admin,
                RAW_NAMESPACE,
                f"{healer.LABEL}=raw",
                lambda: controller.proc_cpu(raw.pid).total,
                cfg,
                f"r{r}",
            )
            _record(rows, "s7_raw", result)
        rows["s7_clew_peak_rss"].append(ctl.peak_rss_mib())
        # One more run with periodic reconciles during the churn (interval 15s): what a
        # reconcile does to drift correction when it meets another writer.
        patch = {"spec": {"interval": POLLING}}
        await admin.patch(API_VERSION, KIND, "drift", patch, namespace=NAMESPACE)
        await until(admin, API_VERSION, KIND, "drift", NAMESPACE, apps.ready_at(sha), 300)
        await _clew_churn(env, ctl, cfg, "s7_polling", "p", rows)
    finally:
        env.stopped("S7", ctl)
        raw.terminate()
        await asyncio.wait_for(raw.wait(), 30)
    apps_list, _ = await admin.list_objects(API_VERSION, KIND, NAMESPACE)
    await apps.release(admin, apps_list)
    await teardown(admin, [NAMESPACE, RAW_NAMESPACE])
