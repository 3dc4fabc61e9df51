"""S6 a big cluster clew mostly does not manage: one Application of 5,000 objects (S3's shape,
``selfHeal: true``), then 100,000 ConfigMaps that no Application owns, created beside it.

The controller should cache none of the unmanaged objects: its drift informers are
label-selected to ApplySet members, and nothing else of it lists ConfigMaps without a selector.
So every figure is taken twice by the same controller process, first with the 5,000 managed
objects only (the baseline), then with the 100,000 added:

- resident memory (``VmRSS``) at the end of an idle window → growth per unmanaged object;
- CPU over an idle window (``/proc/<pid>/stat``, own + git children), with the reconciles and
  the controller's API requests in it (the ``service-accounts`` flow schema counts only its
  requests, see :mod:`bench.operator.apimetrics`);
- drift reverts: changes to managed ConfigMaps, timed to the revert on a watch, by S7's
  :func:`bench.operator.s7.churn` at a low rate (each object changed once).

The API server's and etcd's memory are read at the same moments, for context; LISTs of
ConfigMaps by anyone during the run come from ``apiserver_request_total``. The unmanaged objects
live in namespaces of their own (as another team's would), created 64 at a time by the admin.
At the end the controller is stopped and every namespace of the scenario deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.operator import apps, controller, manifests, s7
from bench.operator.apimetrics import api_counts, parse_metrics
from bench.operator.env import GIT_USER, Environment, say, teardown
from bench.operator.stats import median, percentile
from clew.apply import PART_OF
from clew.cluster import AlreadyExists, Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.waiting import condition, until

NAMESPACE = "s6"  # the Application and its credentials
PATH = "deploy"
SPREAD = 5  # namespaces the managed objects live in
UNMANAGED_PREFIX = "s6-u"
CREATE_CONCURRENCY = 64
MIB = 1024 * 1024
RETURNED = (  # objects LISTs returned, by where they were served from
    "apiserver_cache_list_returned_objects_total",
    "apiserver_storage_list_returned_objects_total",
)

Rows = defaultdict[str, list[float]]


@dataclass(frozen=True)
class Config:
    managed: int = 5000
    unmanaged: int = 100_000
    unmanaged_namespaces: int = 4
    idle: float = 300.0  # seconds of each idle window
    drifts: int = 100  # changes to managed objects, per phase
    drift_rate: float = 2.5  # changes per second
    # The Application's, as S3's and S7's: a periodic reconcile of 5,000 objects pauses drift
    # checks while it runs (seconds on a loaded machine), so it must not meet the drift phases.
    interval: str = "10m"
    workers: int = 4


def status_kib(pid: int, field: str) -> int:
    """One ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def managed_objects(cfg: Config) -> list[dict[str, Any]]:
    """S3's 5,000 objects, with every ConfigMap's data set to S7's Git value, so that S7's
    churn (which changes and watches ``data.v``) can drift them."""
    out = []
    for obj in manifests.plain_objects("s6", cfg.managed, SPREAD):
        if obj["kind"] == "ConfigMap":
            obj = {**obj, "data": {"v": s7.GIT_VALUE}}
        out.append(obj)
    return out


async def create_unmanaged(env: Environment, cfg: Config) -> list[str]:
    """``cfg.unmanaged`` small ConfigMaps, no ApplySet label, spread over namespaces of their
    own; returns those namespaces."""
    admin = env.admin
    names = manifests.namespaces(UNMANAGED_PREFIX, cfg.unmanaged_namespaces)
    for ns in names:
        with contextlib.suppress(AlreadyExists):
            await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    gate = asyncio.Semaphore(CREATE_CONCURRENCY)

    async def one(i: int) -> None:
        ns = names[i % len(names)]
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"u{i:06d}", "namespace": ns, "labels": {"team": "other"}},
            "data": {"config": f"value-{i:06d}"},
        }
        async with gate:
            await admin.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=body)

    # In slices, so that 100,000 pending tasks are never alive at once.
    for start in range(0, cfg.unmanaged, 5000):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 5000, cfg.unmanaged))))
        say(f"S6: {min(start + 5000, cfg.unmanaged):,} unmanaged ConfigMaps created")
    return names


async def configmap_lists(admin: Cluster) -> tuple[float, float]:
    """LIST requests for ConfigMaps so far, and the objects all of them returned (from the
    watch cache or etcd), whoever sent them: a LIST of every ConfigMap would return 100,000."""
    resp = await admin._http.get("/metrics")
    resp.raise_for_status()
    requests = returned = 0.0
    for sample, value in parse_metrics(resp.text).items():
        name = sample.split("{", 1)[0]
        if name == "apiserver_request_total" and 'resource="configmaps"' in sample:
            requests += value if 'verb="LIST"' in sample else 0
        elif name in RETURNED and "configmaps" in sample:
            returned += value
    return requests, returned


def _reconciles(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("clew_reconcile_total{"))


async def idle_window(
    env: Environment, ctl: controller.Controller, cfg: Config, key: str, rows: Rows
) -> None:
    """Nothing changes for ``cfg.idle`` seconds (sleeping is the measurement): the controller's
    CPU, requests and reconciles in the window, its memory and the API server's at its end."""
    plane = env.plane.components
    reconciles = _reconciles(await ctl.metrics(env.http))
    api, cpu, started = await api_counts(env.admin), ctl.cpu(), time.monotonic()
    rows[f"{key}_rss_start"].append(status_kib(ctl.pid, "VmRSS") / 1024)
    await asyncio.sleep(cfg.idle)
    used, wall = ctl.cpu() - cpu, time.monotonic() - started
    spent = (await api_counts(env.admin)) - api
    rows[f"{key}_rss"].append(status_kib(ctl.pid, "VmRSS") / 1024)
    rows[f"{key}_hwm"].append(status_kib(ctl.pid, "VmHWM") / 1024)
    rows[f"{key}_cores"].append(used.total / wall)
    rows[f"{key}_cpu_own"].append(used.own)
    rows[f"{key}_cpu_children"].append(used.children)
    rows[f"{key}_requests_per_min"].append(spent.controller / wall * 60)
    rows[f"{key}_reconciles"].append(_reconciles(await ctl.metrics(env.http)) - reconciles)
    for name in ("kube-apiserver", "etcd"):
        rows[f"{key}_{name}_rss"].append(status_kib(plane[name].pid, "VmRSS") / 1024)
    say(
        f"S6 {key}: {used.total / wall * 100:.2f}% of a core over {wall:.0f}s, controller RSS "
        f"{rows[f'{key}_rss'][-1]:.1f} MiB, {spent.controller} controller requests, "
        f"{rows[f'{key}_reconciles'][-1]:.0f} reconciles"
    )


def _ready_any(app: dict[str, Any] | None) -> bool:
    ready = condition(app, "Ready") or {}
    return ready.get("status") == "True" and ready.get("observedGeneration") == (
        (app or {}).get("metadata", {}).get("generation")
    )


def _not_reconciling(app: dict[str, Any] | None) -> bool:
    return (condition(app, "Reconciling") or {}).get("status") != "True"


async def drifts(
    env: Environment, ctl: controller.Controller, cfg: Config, key: str, rows: Rows
) -> s7.Churn:
    """``cfg.drifts`` changes to distinct managed ConfigMaps of the first namespace, each timed
    until a watch shows Git's value back (S7's churn, at a low rate). It starts when no
    reconcile runs (seen on a watch); the reconciles that started meanwhile are counted."""
    await until(env.admin, API_VERSION, KIND, "big", NAMESPACE, _not_reconciling, 600)
    churn_cfg = s7.Config(rate=cfg.drift_rate, seconds=cfg.drifts / cfg.drift_rate, quiet=5.0)
    namespace = manifests.namespaces("s6", SPREAD)[0]
    reconciles = _reconciles(await ctl.metrics(env.http))
    result = await s7.churn(
        env.admin, namespace, PART_OF, lambda: ctl.cpu().total, churn_cfg, f"{key}-"
    )
    rows[f"s6_{key}_drift_reconciles"].append(_reconciles(await ctl.metrics(env.http)) - reconciles)
    await _restore(env, key, namespace, rows)
    return result


async def _restore(env: Environment, key: str, namespace: str, rows: Rows) -> None:
    """Leave the Application Ready for the next phase, and say if it was not.

    A change made while drift checks are paused (a reconcile running, or leadership changing
    hands) is not reverted by a check, and the next reconcile's apply (not forced) conflicts
    with the drifting field manager: ApplyFailed until that manager lets go. Here it agrees
    with Git instead (its own apply of Git's value), so the next phase starts from Ready.
    """
    admin = env.admin
    app = await admin.get(API_VERSION, KIND, "big", NAMESPACE)
    ready = condition(app, "Ready") or {}
    items, _ = await admin.list_objects("v1", "ConfigMap", namespace, label_selector=PART_OF)
    left = [o for o in items if (o.get("data") or {}).get("v") != s7.GIT_VALUE]
    rows[f"s6_{key}_drift_left"].append(len(left))
    if ready.get("status") == "True" and not left:
        return
    env.notes.append(
        f"S6 ({key}): after the drift phase {len(left)} ConfigMaps kept the drifted value and "
        f"the Application was Ready={ready.get('status')} {ready.get('reason')}: "
        f"`{str(ready.get('message'))[:300]}`; the benchmark applied Git's value as "
        f"`{s7.MANAGER}` to go on"
    )
    for obj in left:
        meta = obj["metadata"]
        fixed = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "data": {"v": s7.GIT_VALUE},
        }
        await admin.apply(fixed, field_manager=s7.MANAGER, force=True)
    await until(admin, API_VERSION, KIND, "big", NAMESPACE, _ready_any, 900)


def _record_drift(rows: Rows, key: str, result: s7.Churn) -> None:
    rows[f"{key}_latency"] += result.latencies
    rows[f"{key}_p50"].append(percentile(result.latencies, 50))
    rows[f"{key}_p99"].append(percentile(result.latencies, 99))
    rows[f"{key}_max"].append(max(result.latencies, default=float("nan")))
    rows[f"{key}_unrestored"].append(result.unrestored)
    rows[f"{key}_flow_requests_per_correction"].append(
        result.requests_by_flow / max(1, result.reverts)
    )
    say(
        f"S6 {key}: p50 {percentile(result.latencies, 50) * 1000:.0f} ms, p99 "
        f"{percentile(result.latencies, 99) * 1000:.0f} ms, {result.unrestored} unrestored, "
        f"{result.requests_by_flow} controller requests; all clients: "
        f"{dict(sorted(result.by_resource.items()))}"
    )


async def run(env: Environment, cfg: Config, rows: Rows) -> None:
    admin = env.admin
    repo = env.repo("s6")
    sha = await asyncio.to_thread(
        repo.commit, manifests.tree_files(PATH, managed_objects(cfg)), "initial"
    )
    await apps.namespace_with_secret(admin, NAMESPACE, GIT_USER, env.password)
    ctl = await controller.start(env.plane, admin, env.work / "s6", "bench-s6", cfg.workers)
    try:
        started = time.monotonic()
        app = apps.application("big", NAMESPACE, env.url(repo), PATH, interval=cfg.interval)
        await admin.create(app)
        await until(admin, API_VERSION, KIND, "big", NAMESPACE, apps.ready_at(sha), 1800)
        rows["s6_cold_sync"].append(time.monotonic() - started)
        say(f"S6: cold sync of {cfg.managed:,} objects in {rows['s6_cold_sync'][-1]:.1f}s")

        await idle_window(env, ctl, cfg, "s6_base", rows)
        _record_drift(rows, "s6_base_drift", await drifts(env, ctl, cfg, "base", rows))
        await _with_unmanaged(env, ctl, cfg, rows)
        rows["s6_controller_hwm"].append(status_kib(ctl.pid, "VmHWM") / 1024)
    finally:
        env.stopped("S6", ctl)
        lines = ctl.log.read_text(errors="replace").splitlines()
        rows["s6_lease_lost"].append(sum("lost Lease" in line for line in lines))
        apps_list, _ = await admin.list_objects(API_VERSION, KIND, NAMESPACE)
        await apps.release(admin, apps_list)
        # Always: 100,000 objects left behind would weigh on every later scenario.
        started = time.monotonic()
        names = [NAMESPACE, *manifests.namespaces("s6", SPREAD)]
        await teardown(
            admin, [*names, *manifests.namespaces(UNMANAGED_PREFIX, cfg.unmanaged_namespaces)]
        )
        rows["s6_teardown_seconds"].append(time.monotonic() - started)


async def _with_unmanaged(
    env: Environment, ctl: controller.Controller, cfg: Config, rows: Rows
) -> None:
    """The second half: create the unmanaged objects, then the same measures again."""
    plane = env.plane.components
    lists = await configmap_lists(env.admin)
    api_before = status_kib(plane["kube-apiserver"].pid, "VmRSS") / 1024
    rss_before = status_kib(ctl.pid, "VmRSS") / 1024
    created, cpu = time.monotonic(), ctl.cpu()
    await create_unmanaged(env, cfg)
    wall = time.monotonic() - created
    rows["s6_create_seconds"].append(wall)
    rows["s6_create_controller_cores"].append((ctl.cpu() - cpu).total / wall)
    rows["s6_create_controller_rss_delta"].append(status_kib(ctl.pid, "VmRSS") / 1024 - rss_before)
    rows["s6_create_kube-apiserver_rss_delta"].append(
        status_kib(plane["kube-apiserver"].pid, "VmRSS") / 1024 - api_before
    )
    say(f"S6: {cfg.unmanaged:,} unmanaged ConfigMaps in {wall:.1f}s")

    await idle_window(env, ctl, cfg, "s6_big", rows)
    _record_drift(rows, "s6_big_drift", await drifts(env, ctl, cfg, "big", rows))
    # Against the RSS just before the creation, not the baseline window's: the drift phase in
    # between raises the RSS by itself (its peak stays resident).
    rows["s6_before_create_rss"].append(rss_before)
    growth = (median(rows["s6_big_rss"]) - rss_before) * MIB
    rows["s6_rss_bytes_per_unmanaged"].append(growth / cfg.unmanaged)
    requests, returned = await configmap_lists(env.admin)
    rows["s6_configmap_lists"].append(requests - lists[0])
    rows["s6_configmap_list_returned"].append(returned - lists[1])
