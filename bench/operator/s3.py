"""S3 commit → applied: one Application of 5,000 objects (``wait: true``, interval 10m).

Each push changes one ConfigMap in one file, lands in the bare repository (``Repo.commit``) and
CI's signed generic webhook follows; the clock runs from the moment the push has landed until a
watch opened beforehand (field selector on that ConfigMap) shows the new value. Before the next
push the Application must be Ready at the pushed revision (health wait included), so pushes never
overlap. The polling path is the same commit without a webhook, made at a random phase of the
poll timer: first on a 50-object Application created with ``interval: 10s`` (the timer without
the cost of a large sync), then on the 5,000-object one switched to ``interval: 10s``. While
polling, the reconciles and the Git server's ``info/refs`` requests are counted, which tells the
reconciles that asked Git from those that reused a cached revision.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import yaml

from bench.operator import apps, controller, floors, manifests
from bench.operator.apimetrics import api_counts
from bench.operator.env import GIT_USER, Environment, say, teardown
from bench.operator.watching import Consumer, FirstSeen, Seen, follow
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION
from clew.report import conditions
from clew.testing.gitserver import Repo
from clew.testing.waiting import condition, until

NAMESPACE = "s3"  # the Applications and their credentials
PATH = "deploy"
SPREAD = 5  # namespaces the 5,000 objects live in
POLL_OBJECTS = 50

Rows = defaultdict[str, list[float]]


@dataclass(frozen=True)
class Config:
    size: int = 5000
    pushes: int = 20  # per run
    runs: int = 5
    poll_runs: int = 10
    poll_interval: float = 10.0
    workers: int = 4
    seed: int = 3


def _probe_value(cm: dict[str, Any]) -> str | None:
    return (cm.get("data") or {}).get("key")


def _applied_revision(app: dict[str, Any]) -> str | None:
    """The revision an Application is Ready at, or None while it is not Ready."""
    ready = condition(app, "Ready")
    if not ready or ready["status"] != "True":
        return None
    if ready.get("observedGeneration") != app["metadata"].get("generation"):
        return None
    return (app.get("status") or {}).get("lastAppliedRevision")


class Probe:
    """A repository whose first ConfigMap the benchmark changes, and watches on that ConfigMap
    and on the Applications, opened before any change."""

    def __init__(self, env: Environment, repo: Repo, objs: list[dict[str, Any]]) -> None:
        self.env = env
        self.repo = repo
        self.objs = objs
        self.namespace = objs[0]["metadata"]["name"]  # the ConfigMap's namespace is the first
        self.values = FirstSeen(_probe_value)
        self.revisions = FirstSeen(_applied_revision)
        self.reconciles = apps.ReconcileCounter()
        self._consumers: list[Consumer] = []

    async def open(self) -> None:
        listed = [asyncio.Event(), asyncio.Event()]
        admin = self.env.admin
        probe = follow(
            admin, "v1", "ConfigMap", self.namespace,
            field_selector="metadata.name=o00000", listed=listed[0],
        )  # fmt: skip
        applications = follow(admin, API_VERSION, KIND, NAMESPACE, listed=listed[1])
        self._consumers = [
            Consumer(probe, self.values),
            Consumer(applications, self._application),
        ]
        await asyncio.gather(*(e.wait() for e in listed))

    def _application(self, seen: Seen) -> None:
        self.revisions(seen)
        self.reconciles(seen)

    async def push(self, value: str) -> tuple[str, float, float]:
        """Commit ``value``; return the sha, the commit's duration and when it had landed."""
        files = {
            manifests.file_name(PATH, 0): yaml.safe_dump_all(
                manifests.set_probe(self.objs, value)[: manifests.PER_FILE]
            )
        }
        started = time.monotonic()
        sha = await asyncio.to_thread(self.repo.commit, files, f"set {value}")
        landed = time.monotonic()
        return sha, landed - started, landed

    async def seen(self, value: str, timeout: float) -> float:
        for consumer in self._consumers:
            consumer.check()
        return await self.values.wait(value, timeout)

    async def ready(self, sha: str, timeout: float) -> float:
        return await self.revisions.wait(sha, timeout)

    async def aclose(self) -> None:
        for consumer in self._consumers:
            await consumer.aclose()


async def _create_app(env: Environment, probe: Probe, name: str, interval: str) -> str:
    sha = probe.repo.head()
    app = apps.application(name, NAMESPACE, env.url(probe.repo), PATH, interval=interval)
    await env.admin.create(app)
    return sha


async def _webhook_pushes(
    env: Environment, ctl: controller.Controller, probe: Probe, cfg: Config, rows: Rows
) -> None:
    for r in range(cfg.runs):
        run: list[float] = []
        for i in range(cfg.pushes):
            value = f"hook-{r}-{i}"
            api, cpu = await api_counts(env.admin), ctl.cpu()
            sha, commit_seconds, landed = await probe.push(value)
            answer = await ctl.push_hook(env.http, env.url(probe.repo), sha)
            if answer.get("triggered") != 1:
                raise RuntimeError(f"webhook triggered {answer}")
            seen = await probe.seen(value, 300)
            ready = await probe.ready(sha, 900)
            run.append(seen - landed)
            rows["s3_hook_commit_seconds"].append(commit_seconds)
            rows["s3_hook_ready"].append(ready - landed)
            rows["s3_hook_controller_requests"].append(
                (await api_counts(env.admin) - api).controller
            )
            rows["s3_hook_controller_cpu"].append((ctl.cpu() - cpu).total)
        rows["s3_hook_seen"] += run
        rows["s3_hook_run_median"].append(sorted(run)[len(run) // 2])
        say(f"S3 webhook run {r + 1}/{cfg.runs}: median {sorted(run)[len(run) // 2]:.2f}s")


async def _polled_pushes(
    env: Environment,
    ctl: controller.Controller,
    probe: Probe,
    app: str,
    cfg: Config,
    key: str,
    rows: Rows,
) -> None:
    """Commits without a webhook. Besides commit → seen, count ``app``'s reconciles in the
    window (on the watch) and the ``info/refs`` requests the Git server saw for its repository:
    each reconcile that asks Git costs one (its ``ls-remote``), each new commit one more (its
    fetch); a reconcile that costs none used a revision it had cached."""
    rng = random.Random(cfg.seed)  # noqa: S311 - a reproducible schedule, not a secret
    reconciles = probe.reconciles.started.get(app, 0)
    lookups = env.git.count("info/refs", probe.repo.name)
    cpu, wall = ctl.cpu(), time.monotonic()
    for i in range(cfg.poll_runs):
        # The workload, not synchronisation: land the commit at a random phase of the timer.
        await asyncio.sleep(rng.uniform(0, cfg.poll_interval))
        value = f"{key}-{i}"
        sha, _, landed = await probe.push(value)
        seen = await probe.seen(value, 10 * cfg.poll_interval + 300)
        rows[f"s3_{key}_seen"].append(seen - landed)
        await probe.ready(sha, 900)
        say(f"S3 {key} {i + 1}/{cfg.poll_runs}: {seen - landed:.2f}s")
    rows[f"s3_{key}_controller_cores"].append((ctl.cpu() - cpu).total / (time.monotonic() - wall))
    rows[f"s3_{key}_reconciles"].append(probe.reconciles.started.get(app, 0) - reconciles)
    asked = env.git.count("info/refs", probe.repo.name) - lookups - cfg.poll_runs
    rows[f"s3_{key}_reconciles_asking_git"].append(asked)


async def _poll_big(
    env: Environment, ctl: controller.Controller, probe: Probe, cfg: Config, rows: Rows
) -> None:
    """Switch the 5,000-object Application to polling. The change of interval comes with
    ``clew reconcile``'s annotation: without it the revision cached under the old 10m interval
    would be reused for up to 10 minutes (see the report)."""
    patch = {
        "metadata": {"annotations": {RECONCILE_ANNOTATION: conditions.now_rfc3339()}},
        "spec": {"interval": f"{cfg.poll_interval:g}s"},
    }
    await env.admin.patch(API_VERSION, KIND, "big", patch, namespace=NAMESPACE)
    ready = apps.ready_at(probe.repo.head())
    await until(env.admin, API_VERSION, KIND, "big", NAMESPACE, ready, 900)
    await _polled_pushes(env, ctl, probe, "big", cfg, "poll_big", rows)


async def run(env: Environment, cfg: Config, rows: Rows) -> None:
    admin = env.admin
    big = manifests.plain_objects("s3", cfg.size, SPREAD)
    small = manifests.plain_objects("s3p", POLL_OBJECTS, 1)
    probes = []
    for name, objs in (("s3-big", big), ("s3-small", small)):
        repo = env.repo(name)
        await asyncio.to_thread(repo.commit, manifests.tree_files(PATH, objs), "initial")
        probes.append(Probe(env, repo, objs))
    big_probe, small_probe = probes
    await apps.namespace_with_secret(admin, NAMESPACE, GIT_USER, env.password)
    ctl = await controller.start(env.plane, admin, env.work / "s3", "bench-s3", cfg.workers)
    try:
        for probe in probes:
            await probe.open()
        # Cold sync, as context (the 5,000 objects arrive through the controller). The small
        # Application polls from its creation on, as a user would set it up.
        started, cpu = time.monotonic(), ctl.cpu()
        sha = await _create_app(env, big_probe, "big", "10m")
        small_sha = await _create_app(env, small_probe, "small", f"{cfg.poll_interval:g}s")
        rows["s3_cold_sync"].append(await big_probe.ready(sha, 1800) - started)
        rows["s3_cold_sync_controller_cpu"].append((ctl.cpu() - cpu).total)
        await small_probe.ready(small_sha, 600)
        say(f"S3 cold sync of {cfg.size}: {rows['s3_cold_sync'][-1]:.1f}s")

        await _webhook_pushes(env, ctl, big_probe, cfg, rows)
        await _polled_pushes(env, ctl, small_probe, "small", cfg, "poll_small", rows)
        await _poll_big(env, ctl, big_probe, cfg, rows)
        rows["s3_controller_peak_rss"].append(ctl.peak_rss_mib())
    finally:
        env.stopped("S3", ctl)
        for probe in probes:
            await probe.aclose()
    await floors.s3_floor(env, manifests.plain_objects("s3f", cfg.size, SPREAD), cfg, rows)
    apps_list, _ = await admin.list_objects(API_VERSION, KIND, NAMESPACE)
    await apps.release(admin, apps_list)
    namespaces = [NAMESPACE, *manifests.namespaces("s3", SPREAD), "s3p-ns0", "s3f-ns0"]
    await teardown(admin, namespaces)
