"""Where the controller's time goes: the scenarios of :mod:`bench.operator.run` with the
controller in this process (as the restricted ServiceAccount, same code, same control plane
set-up), timed from the inside and optionally under cProfile.

Three instruments, none of which changes clew's code (they wrap functions of this process):

- stage timings: every ``engine.sync`` result's own ``durations`` (source, render, plan, apply,
  inventory, wait), and each reconcile's total, so what is outside the engine shows too;
- API latency: every request the controller's client sends, by verb and resource;
- ``--cprofile``: CPU-seconds (``time.process_time``) by function (``tottime``) and by call
  tree (``cumtime``).

    .venv/bin/python -m bench.operator.profile s5 [--apps 1000] [--workers 4] [--cprofile]
    .venv/bin/python -m bench.operator.profile s3 [--size 5000] [--pushes 10] [--cprofile]
    .venv/bin/python -m bench.operator.profile s7 [--seconds 30] [--cprofile]
    .venv/bin/python -m bench.operator.profile s6 [--seconds 30] [--cprofile]  (S6's drift
        phase: 2.5 changes/s to the 5,000-object Application, without the unmanaged objects)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import pstats
import re
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.operator import apps, controller, manifests, s3, s5, s6, s7
from bench.operator.env import GIT_USER, Environment, environment
from bench.operator.stats import median, percentile
from bench.operator.watching import Consumer, follow
from clew import engine
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.cluster.client import Cluster as ClientCluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.controller.config import ControllerConfig
from clew.controller.reconcile.reconciler import Reconciler
from clew.controller.runner import Controller
from clew.controller.triggers.receivers import ReceiverSecrets
from clew.testing.operator import RunningController
from clew.testing.waiting import until

_RESOURCE = re.compile(
    r"^/apis?/(?:[^/]+/)?[^/]+(?:/namespaces/[^/]+)?/([^/?]+)(?:/[^/?]+)?(/[^/?]+)?"
)


class Timings:
    """Samples by name, filled by the wrappers below."""

    def __init__(self) -> None:
        self.samples: defaultdict[str, list[float]] = defaultdict(list)

    def table(self, title: str, prefix: str) -> str:
        rows = [
            (k[len(prefix) :], v) for k, v in sorted(self.samples.items()) if k.startswith(prefix)
        ]
        lines = [title, f"{'':42} {'n':>6} {'sum s':>9} {'p50 ms':>9} {'p90 ms':>9} {'max ms':>9}"]
        for name, v in sorted(rows, key=lambda r: -sum(r[1])):
            lines.append(
                f"{name:42} {len(v):6d} {sum(v):9.2f} {median(v) * 1e3:9.1f} "
                f"{percentile(v, 90) * 1e3:9.1f} {max(v) * 1e3:9.1f}"
            )
        return "\n".join(lines)


def _resource(path: str, params: dict[str, Any] | None) -> str:
    """``configmaps``, ``applications/status``, ``deployments (list)``… from a request path."""
    parts = path.strip("/").split("/")
    if parts[0] not in ("api", "apis") or len(parts) < 3:
        return path
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest and rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    if not rest:
        return path
    name = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    if len(rest) == 1:
        scope = "all namespaces" if "/namespaces/" not in path else "one namespace"
        name += f" (list, {scope})"
    if params and params.get("dryRun"):
        name += " dry-run"
    return name


@contextlib.contextmanager
def instrumented(timings: Timings, clients: set[int]) -> Any:
    """Wrap engine.sync, Reconciler.reconcile and the requests of the clients whose ``id`` is
    in ``clients`` (the controller's, not the benchmark's own) with timers."""
    sync, reconcile = engine.sync, Reconciler.reconcile
    request = ClientCluster.request_with_status

    async def timed_sync(*args: Any, **kwargs: Any) -> engine.SyncResult:
        started = time.monotonic()
        result = await sync(*args, **kwargs)
        timings.samples["stage:(engine.sync total)"].append(time.monotonic() - started)
        for stage, seconds in result.durations.items():
            timings.samples[f"stage:{stage}"].append(seconds)
        return result

    async def timed_reconcile(self: Reconciler, key: Any) -> Any:
        started = time.monotonic()
        try:
            return await reconcile(self, key)
        finally:
            timings.samples["stage:(reconcile total)"].append(time.monotonic() - started)

    async def timed_request(self: ClientCluster, method: str, path: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return await request(self, method, path, **kwargs)
        finally:
            if id(self) in clients:
                name = f"api:{method} {_resource(path, kwargs.get('params'))}"
                timings.samples[name].append(time.monotonic() - started)

    engine.sync = timed_sync
    Reconciler.reconcile = timed_reconcile  # type: ignore[method-assign]
    ClientCluster.request_with_status = timed_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        engine.sync = sync
        Reconciler.reconcile = reconcile  # type: ignore[method-assign]
        ClientCluster.request_with_status = request  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def in_process(env: Environment, workers: int) -> AsyncIterator[RunningController]:
    """The controller in this process, as the restricted account, leading."""
    secret = secrets.token_hex(16)
    async with Cluster.from_kubeconfig(env.plane.restricted_kubeconfig) as cluster:
        config = ControllerConfig(
            host="127.0.0.1",
            port=0,
            cache_dir=env.work / "profile-cache",
            secrets=ReceiverSecrets(generic=secret),
            workers=workers,
        )
        ctl = Controller(cluster, config)
        task = asyncio.create_task(ctl.run())
        await asyncio.wait_for(ctl.became_leader.wait(), 60)
        try:
            yield RunningController(ctl, task, secret)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def profile_s5(env: Environment, args: argparse.Namespace) -> Callable[[], Awaitable[None]]:
    cfg = s5.Config(apps=args.apps, runs=1, workers=args.workers)
    repo = env.repo("s5")
    files = {}
    for i in range(cfg.apps):
        name = s5._app_name(i)
        files.update(manifests.tree_files(f"apps/{name}", manifests.app_objects(name)))
    sha = await asyncio.to_thread(repo.commit, files, "apps")
    namespaces = s5._namespaces("p5", cfg)
    for ns in namespaces:
        await apps.namespace_with_secret(env.admin, ns, GIT_USER, env.password)
    objs = [
        apps.application(
            s5._app_name(i), namespaces[i // cfg.per_namespace], env.url(repo),
            f"apps/{s5._app_name(i)}", labels={s5.RUN_LABEL: "p5"},
        )
        for i in range(cfg.apps)
    ]  # fmt: skip
    tracker = apps.ReadyTracker(sha, cfg.apps)
    listed = asyncio.Event()
    selector = f"{s5.RUN_LABEL}=p5"
    consumer = Consumer(
        follow(env.admin, API_VERSION, KIND, label_selector=selector, listed=listed), tracker
    )
    await listed.wait()

    async def scenario() -> None:
        started = time.monotonic()
        await s5._create_all(env.admin, objs)
        await asyncio.wait_for(tracker.all_ready.wait(), 3600)
        print(
            f"S5 in-process: {cfg.apps} Ready in {time.monotonic() - started:.1f}s", file=sys.stderr
        )
        await consumer.aclose()

    return scenario


async def profile_s3(
    env: Environment, args: argparse.Namespace, running: RunningController
) -> Callable[[], Awaitable[None]]:
    objs = manifests.plain_objects("p3", args.size, s3.SPREAD)
    repo = env.repo("p3")
    await asyncio.to_thread(repo.commit, manifests.tree_files(s3.PATH, objs), "initial")
    await apps.namespace_with_secret(env.admin, s3.NAMESPACE, GIT_USER, env.password)
    probe = s3.Probe(env, repo, objs)
    await probe.open()
    sha = repo.head()
    await env.admin.create(apps.application("big", s3.NAMESPACE, env.url(repo), s3.PATH))
    await probe.ready(sha, 1800)

    async def scenario() -> None:
        for i in range(args.pushes):
            value = f"profile-{i}"
            sha, _, landed = await probe.push(value)
            await controller.push_hook(
                env.http, running.port, running.webhook_secret, env.url(repo), sha
            )
            seen = await probe.seen(value, 300)
            await probe.ready(sha, 900)
            print(f"S3 push {i}: seen after {seen - landed:.2f}s", file=sys.stderr)
        await probe.aclose()

    return scenario


async def profile_s7(env: Environment, args: argparse.Namespace) -> Callable[[], Awaitable[None]]:
    cfg = s7.Config(seconds=args.seconds, runs=1)
    repo = env.repo("p7")
    objs = manifests.configmaps(cfg.objects, s7.GIT_VALUE)
    sha = await asyncio.to_thread(repo.commit, manifests.tree_files("deploy", objs), "initial")
    await apps.namespace_with_secret(env.admin, s7.NAMESPACE, GIT_USER, env.password)
    await env.admin.create(apps.application("drift", s7.NAMESPACE, env.url(repo), "deploy"))
    await until(env.admin, API_VERSION, KIND, "drift", s7.NAMESPACE, apps.ready_at(sha), 300)

    async def scenario() -> None:
        result = await s7.churn(env.admin, s7.NAMESPACE, PART_OF, time.process_time, cfg, "p")
        print(
            f"S7 in-process: p50 {percentile(result.latencies, 50):.3f}s p99 "
            f"{percentile(result.latencies, 99):.3f}s, "
            f"{result.requests / max(1, result.reverts):.2f} req/correction, "
            f"{result.cpu_seconds / result.wall:.2f} cores (whole process)",
            file=sys.stderr,
        )

    return scenario


async def profile_s6(env: Environment, args: argparse.Namespace) -> Callable[[], Awaitable[None]]:
    cfg = s6.Config()
    repo = env.repo("p6")
    tree = manifests.tree_files(s6.PATH, s6.managed_objects(cfg))
    sha = await asyncio.to_thread(repo.commit, tree, "initial")
    await apps.namespace_with_secret(env.admin, s6.NAMESPACE, GIT_USER, env.password)
    app = apps.application("big", s6.NAMESPACE, env.url(repo), s6.PATH, interval=cfg.interval)
    await env.admin.create(app)
    await until(env.admin, API_VERSION, KIND, "big", s6.NAMESPACE, apps.ready_at(sha), 1800)
    churn = s7.Config(rate=cfg.drift_rate, seconds=args.seconds, quiet=5.0)
    namespace = manifests.namespaces("s6", s6.SPREAD)[0]

    async def scenario() -> None:
        result = await s7.churn(env.admin, namespace, PART_OF, time.process_time, churn, "p")
        print(
            f"S6 drift in-process: p50 {percentile(result.latencies, 50):.3f}s p99 "
            f"{percentile(result.latencies, 99):.3f}s, {result.reverts} reverts, "
            f"{result.cpu_seconds / max(1, result.reverts):.3f} CPU-s per revert "
            f"(whole process); {dict(sorted(result.by_resource.items()))}",
            file=sys.stderr,
        )

    return scenario


async def main_async(args: argparse.Namespace) -> str:
    timings = Timings()
    # CPU time, not wall time: on a busy machine wall time charges preemption to whatever ran.
    profiler = cProfile.Profile(time.process_time)
    async with environment(kcm_qps=args.kcm_qps) as env, in_process(env, args.workers) as running:
        if args.scenario == "s5":
            scenario = await profile_s5(env, args)
        elif args.scenario == "s3":
            scenario = await profile_s3(env, args, running)
        elif args.scenario == "s6":
            scenario = await profile_s6(env, args)
        else:
            scenario = await profile_s7(env, args)
        timings.samples.clear()
        with instrumented(timings, {id(running.controller.cluster)}):
            if args.cprofile:
                profiler.enable()
            await scenario()
            profiler.disable()
    out = [
        timings.table("Stages (seconds per reconcile)", "stage:"),
        "",
        timings.table("API requests of the controller", "api:"),
    ]
    if args.cprofile:
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
            out += ["", f"cProfile by {order}", text.getvalue()]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=("s3", "s5", "s6", "s7"))
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--pushes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kcm-qps", type=int, default=500)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    text = asyncio.run(main_async(args))
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
