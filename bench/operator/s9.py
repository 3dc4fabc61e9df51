"""S9 (issue 11): 3,000 Applications of four objects over three ``clew controller --sharding``
replicas against one control plane, and the same workload with one replica (``--leader-elect``
without sharding, as S5 runs it) in the same invocation, as the baseline. Writes the "S9"
section of docs/benchmarks-operator.md.

    .venv/bin/python -m bench.operator.s9 [--apps 3000] [--replicas 3] [--workers 16]

The workload is S5's (one directory per Application in one repository, 100 per namespace,
``wait: true``). Each run starts fresh controller processes as the restricted ServiceAccount,
waits until they are ready (the single one leads; the shards have all published one view),
creates every Application and stops the clock when a watch has seen all Ready at the commit.
Work per replica comes from the replicas' own logs (every sharded reconcile logs ``reconciling
as <identity>``; the baseline's ``reconciled:`` lines). Then, sharded only, one replica is
killed with SIGKILL: the time until the survivors' logs show the new members, and until every
Application it owned has been reconciled by a survivor. Requests are the API server's count for
the controllers' ServiceAccount flow (all replicas together) per Application.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench import doc
from bench.operator import apps, controller, manifests
from bench.operator.apimetrics import api_counts
from bench.operator.env import GIT_USER, Environment, components_cpu, environment, say, teardown
from bench.operator.watching import Consumer, follow
from clew.controller.api.spec import API_VERSION, KIND
from clew.controller.runtime.sharding import VIEW_ANNOTATION
from clew.controller.runtime.shards import view_digest
from clew.testing.controlplane import RESTRICTED_NAMESPACE
from clew.testing.operator import spawn_controller

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks-operator.md"
BEGIN, END = "<!-- S9 begin: written by bench/operator/s9.py -->", "<!-- S9 end -->"
RUN_LABEL = "bench.clew.dev/run"
Rows = dict[str, float | str]


@dataclass(frozen=True)
class Config:
    apps: int = 3000
    replicas: int = 3
    workers: int = 16
    per_namespace: int = 100
    timeout: float = 3600.0


def _name(i: int) -> str:
    return f"a{i:04d}"


def _log_entries(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _stamp(entry: dict[str, object]) -> float:
    return datetime.fromisoformat(str(entry["time"])).timestamp()


def _work(ctl: controller.Controller, sharded: bool, since: float = 0.0) -> Counter[str]:
    """Reconciles per Application this replica ran (started after ``since``, wall clock)."""
    start = "reconciling as " if sharded else "reconciled: "
    return Counter(
        str(e.get("application"))
        for e in _log_entries(ctl.log)
        if str(e.get("msg", "")).startswith(start) and _stamp(e) >= since
    )


async def _start(
    env: Environment, run: str, cfg: Config, sharded: bool
) -> list[controller.Controller]:
    if not sharded:
        return [
            await controller.start(env.plane, env.admin, env.work / run, f"{run}-0", cfg.workers)
        ]
    ids = [f"{run}-{i}" for i in range(cfg.replicas)]
    ctls = []
    for identity in ids:
        process = await asyncio.to_thread(
            spawn_controller,
            env.plane.restricted_kubeconfig,
            env.work / run / identity,
            *("--workers", str(cfg.workers), "--sharding", "--leader-elect"),
            *("--lease-namespace", RESTRICTED_NAMESPACE, "--identity", identity),
        )
        ctls.append(controller.Controller(process, identity, "", time.monotonic()))
    want = view_digest(ids)
    deadline = time.monotonic() + 120
    while True:  # every shard has published the view of all of them
        leases, _ = await env.admin.list_objects(
            "coordination.k8s.io/v1", "Lease", RESTRICTED_NAMESPACE
        )
        views = {
            (lease["spec"] or {}).get("holderIdentity"): (
                lease["metadata"].get("annotations") or {}
            ).get(VIEW_ANNOTATION)
            for lease in leases
        }
        if all(views.get(i) == want for i in ids):
            return ctls
        if time.monotonic() > deadline:
            raise RuntimeError(f"S9: shards did not agree within 120 s: {views}")
        await asyncio.sleep(0.5)  # polling Leases with a deadline


async def _rebalance(ctls: list[controller.Controller], rows: Rows, timeout: float) -> None:
    """SIGKILL the second replica; how long until the survivors act on the new members, and
    until every Application it owned was reconciled (to the end) by a survivor."""
    victim, survivors = ctls[1], [c for c in ctls if c is not ctls[1]]
    theirs = set(_work(victim, True))
    mine = {app for c in survivors for app in _work(c, True)}
    theirs -= mine  # the victim's own share, not what it held before the others joined
    victim.process.kill()
    killed = time.time()
    started = time.monotonic()
    seen_members: float | None = None
    while True:
        if seen_members is None and all(
            any(
                str(e.get("msg", "")).startswith("shard members:") and _stamp(e) > killed
                for e in _log_entries(c.log)
            )
            for c in survivors
        ):
            seen_members = time.monotonic() - started
        done: set[str] = set()
        for c in survivors:
            for e in _log_entries(c.log):
                if str(e.get("msg", "")).startswith("reconciled: ") and _stamp(e) > killed:
                    done.add(str(e.get("application")))
        if seen_members is not None and theirs <= done:
            break
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"S9: {len(theirs - done)} of the victim's apps not taken over")
        await asyncio.sleep(1.0)  # polling log files with a deadline
    rows["rebalance_apps"] = len(theirs)
    rows["rebalance_members_s"] = seen_members
    rows["rebalance_all_s"] = time.monotonic() - started


async def _one_run(env: Environment, url: str, sha: str, cfg: Config, sharded: bool) -> Rows:
    run = f"s9{'s' if sharded else 'b'}"
    admin = env.admin
    rows: Rows = {}
    namespaces = [f"{run}-{k}" for k in range(-(-cfg.apps // cfg.per_namespace))]
    for ns in namespaces:
        await apps.namespace_with_secret(admin, ns, GIT_USER, env.password)
    objs = [
        apps.application(
            _name(i),
            namespaces[i // cfg.per_namespace],
            url,
            f"apps/{_name(i)}",
            labels={RUN_LABEL: run},
        )
        for i in range(cfg.apps)
    ]
    ctls = await _start(env, run, cfg, sharded)
    tracker = apps.ReadyTracker(sha, cfg.apps)
    listed = asyncio.Event()
    selector = f"{RUN_LABEL}={run}"
    consumer = Consumer(
        follow(admin, API_VERSION, KIND, label_selector=selector, listed=listed), tracker
    )
    try:
        await listed.wait()
        api, plane = await api_counts(admin), components_cpu(env.plane)
        cpu = [c.cpu() for c in ctls]
        started = time.monotonic()
        limit = asyncio.Semaphore(32)

        async def create(obj: dict[str, object]) -> None:
            async with limit:
                await admin.create(obj)

        await asyncio.gather(*(create(o) for o in objs))
        await asyncio.wait_for(tracker.all_ready.wait(), cfg.timeout)
        consumer.check()
        wall = max(tracker.times.values()) - started
        spent = (await api_counts(admin)) - api
        rows["ready_s"] = wall
        rows["requests_per_app"] = spent.controller / cfg.apps
        for name, seconds in components_cpu(env.plane).items():
            rows[f"{name}_cores"] = (seconds - plane[name]) / wall
        used = [(c.cpu() - before).total for c, before in zip(ctls, cpu, strict=True)]
        rows["controller_cores"] = sum(used) / wall
        work = [_work(c, sharded) for c in ctls]
        rows["apps_per_replica"] = " / ".join(str(len(w)) for w in work)
        rows["reconciles_per_replica"] = " / ".join(str(sum(w.values())) for w in work)
        rows["peak_rss_mib"] = " / ".join(f"{c.peak_rss_mib():.0f}" for c in ctls)
        rows["cpu_s_per_replica"] = " / ".join(f"{u:.1f}" for u in used)
        say(f"S9 {run}: all {cfg.apps} Ready in {wall:.1f}s; {rows}")
        if sharded:
            await _rebalance(ctls, rows, cfg.timeout)
            say(f"S9 rebalance: {rows}")
    finally:
        await consumer.aclose()
        for c in ctls:
            env.stopped("S9", c)
    await apps.release(admin, objs)
    await teardown(admin, namespaces)
    return rows


def report(base: Rows, shard: Rows, cfg: Config, command: str, seconds: float) -> str:
    def cell(rows: Rows, key: str, unit: str = "") -> str:
        value = rows.get(key, "")
        return f"{value:.2f}{unit}" if isinstance(value, float) else f"{value}{unit}"

    lines = [
        BEGIN,
        f"### S9 {cfg.apps:,} Applications of 4 objects over {cfg.replicas} sharded replicas",
        "",
        f"`{command}` ({seconds / 60:.0f} min; `--workers {cfg.workers}` per replica; one run of",
        f"each, on {os.cpu_count()} CPUs shared by the control plane and every replica).",
        "",
        f"| measure | 1 replica (baseline) | {cfg.replicas} replicas, `--sharding` |",
        "|---|---:|---:|",
    ]
    for label, key, unit in [
        ("creation → all Ready", "ready_s", " s"),
        ("Applications reconciled per replica", "apps_per_replica", ""),
        ("reconciles per replica", "reconciles_per_replica", ""),
        ("controller API requests per Application (all replicas)", "requests_per_app", ""),
        ("peak RSS per replica (MiB)", "peak_rss_mib", ""),
        ("controller CPU-seconds per replica", "cpu_s_per_replica", ""),
        ("controller cores (all replicas)", "controller_cores", ""),
        ("kube-apiserver cores", "kube-apiserver_cores", ""),
        ("etcd cores", "etcd_cores", ""),
    ]:
        lines.append(f"| {label} | {cell(base, key, unit)} | {cell(shard, key, unit)} |")
    lines += [
        "",
        f"Rebalance: one replica SIGKILLed (default Lease: 10 s, renew deadline 7 s, retry 2 s);"
        f" the survivors act on the new members after {cell(shard, 'rebalance_members_s', ' s')},"
        f" and all {shard.get('rebalance_apps', 0)} of its Applications have been reconciled by"
        f" a survivor after {cell(shard, 'rebalance_all_s', ' s')}.",
        "",
        "Sharding spreads the controllers' work, but one API server on the same 2 cores does every",
        "request: when kube-apiserver's cores plus the controllers' reach the machine, more",
        "replicas cannot finish sooner (compare the cores rows).",
        END,
    ]
    return "\n".join(lines)


async def main_async(cfg: Config) -> tuple[Rows, Rows]:
    async with environment(kcm_qps=500) as env:
        repo = env.repo("s9")
        files = {}
        for i in range(cfg.apps):
            files.update(manifests.tree_files(f"apps/{_name(i)}", manifests.app_objects(_name(i))))
        sha = await asyncio.to_thread(repo.commit, files, f"{cfg.apps} applications")
        url = env.url(repo)
        base = await _one_run(env, url, sha, cfg, sharded=False)
        shard = await _one_run(env, url, sha, cfg, sharded=True)
        for note in env.notes:
            say(note)
    return base, shard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=3000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16, help="workers per replica")
    parser.add_argument("--output", default=str(DOC))
    args = parser.parse_args()
    cfg = Config(apps=args.apps, replicas=args.replicas, workers=args.workers)
    started = time.monotonic()
    base, shard = asyncio.run(main_async(cfg))
    command = " ".join([".venv/bin/python -m bench.operator.s9", *sys.argv[1:]])
    text = report(base, shard, cfg, command, time.monotonic() - started)
    doc.write_section(Path(args.output), text, BEGIN, END)
    say(text)


if __name__ == "__main__":
    main()
