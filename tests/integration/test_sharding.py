"""Sharding on real processes: three ``clew controller --sharding`` replicas share 30
Applications, each reconciled by exactly one replica at any moment (every reconcile's start and
end, per replica, from the replicas' own logs: no two replicas' reconciles of one Application
overlap in time, ever); all three get work; a replica killed with SIGKILL has its Applications
taken over within 30 s; started again, it takes its share back, still never two at once; a
webhook sent to a replica that does not own the Application gets it reconciled by its owner;
and no Application waits more than 30 s between reconciles through it all."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.controller.runtime.shards import owner
from clew.testing.gitserver import GitHttpServer, create_repo
from clew.testing.operator import (
    ControllerProcess,
    git_credentials,
    install_crd,
    push_generic,
    ready_at,
    spawn_controller,
)
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until

pytestmark = pytest.mark.integration

APPS = 30
MEMBERS = ("s0", "s1", "s2")
TAKEOVER = 30.0


@dataclass
class Span:
    identity: str
    start: float
    end: float | None  # None: still running (or killed mid-way)


def spans(logs: dict[str, list[Path]]) -> dict[str, list[Span]]:
    """Every reconcile per Application, from each replica's JSON log lines (by reconcile id)."""
    out: dict[str, list[Span]] = defaultdict(list)
    for identity, paths in logs.items():
        for path in paths:
            open_: dict[str, Span] = {}
            for line in path.read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                rid, app, msg = entry.get("reconcile_id"), entry.get("application"), entry["msg"]
                at = datetime.fromisoformat(entry["time"]).timestamp()
                if msg.startswith("reconciling as "):
                    assert msg == f"reconciling as {identity}"
                    open_[rid] = Span(identity, at, None)
                    out[app].append(open_[rid])
                elif msg.startswith("reconciled: ") and rid in open_:
                    open_.pop(rid).end = at
    for items in out.values():
        items.sort(key=lambda s: s.start)
    return out


def assert_never_two_at_once(by_app: dict[str, list[Span]], killed: dict[Path, float]) -> None:
    for app, items in by_app.items():
        ordered = sorted(items, key=lambda s: s.start)
        for before, after in itertools.pairwise(ordered):
            if before.identity == after.identity:
                continue  # one replica's queue never runs a key twice at once
            end = before.end if before.end is not None else max(killed.values(), default=0.0)
            assert end <= after.start, f"{app}: {before} overlaps {after}"


async def poll(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Wait until ``check()`` holds (reading log files: nothing to watch); the time it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise TimeoutError(f"{what}: not within {seconds}s")
        await asyncio.sleep(0.2)  # a poll of files with a deadline, not a synchronisation
    return time.monotonic() - started


@pytest.mark.timeout(240)  # about 60 s; three controllers on a loaded 2-core machine take longer
async def test_three_replicas_share_applications_and_hand_over_safely(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_root: Path,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    ns = kube_namespace
    repo = create_repo(git_root, f"shards-{secrets.token_hex(4)}")
    files = {
        f"apps/app-{i:02d}/cm.yaml": yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:02d}"}}
        )
        for i in range(APPS)
    }
    files["apps/hooked/cm.yaml"] = files["apps/app-00/cm.yaml"].replace("cm-00", "cm-hooked")
    sha = repo.commit(files, "30 apps and one that moves only on a webhook")
    git = await git_credentials(kube_admin, ns, git_http)
    url = git_http.repo_url(repo.name)
    names = [f"app-{i:02d}" for i in range(APPS)]
    for name in [*names, "hooked"]:
        await kube_admin.create(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "source": {"repoURL": url, "path": f"apps/{name}", "secretRef": {"name": git}},
                    "destination": {"namespace": ns},
                    "interval": "1h" if name == "hooked" else "4s",
                },
            }
        )
    hook_secret = secrets.token_hex(16)
    # Only this test's namespace: Applications other tests left behind are not ours to time.
    args = ["--sharding", "--leader-elect", "--namespace", ns, "--lease-namespace", ns]
    args += ["--lease-duration", "3s"]
    args += ["--renew-deadline", "2s", "--retry-period", "500ms"]

    def start(identity: str) -> ControllerProcess:
        work = tmp_path / identity
        return spawn_controller(
            kube_cluster.admin_kubeconfig, work, *args, "--identity", identity, secret=hook_secret
        )

    procs = {identity: start(identity) for identity in MEMBERS}
    logs = {identity: [procs[identity].log] for identity in MEMBERS}
    killed: dict[Path, float] = {}
    try:
        for name in [*names, "hooked"]:
            await until(kube_admin, API_VERSION, KIND, name, ns, ready_at(sha), 90)
        keys = [f"{ns}/{name}" for name in [*names, "hooked"]]

        def settled() -> bool:  # the first replica up started alone: its share shrinks
            now = spans(logs)
            return all(now[key] and now[key][-1].identity == owner(key, MEMBERS) for key in keys)

        await poll(settled, 30, "every Application reconciled by its owner among three")
        owners = {key: spans(logs)[key][-1].identity for key in keys}
        assert set(owners.values()) == set(MEMBERS), "every replica gets a share"

        # SIGKILL one replica: the others take its Applications over within 30 s.
        victim = "s1"
        theirs = sorted(a for a, who in owners.items() if who == victim and "hooked" not in a)
        procs[victim].kill()
        killed_at = time.time()
        killed[procs[victim].log] = killed_at

        def taken_over() -> bool:
            now = spans(logs)
            return all(
                any(s.identity != victim and s.start > killed_at for s in now[app])
                for app in theirs
            )

        took = await poll(taken_over, TAKEOVER, "the dead replica's Applications taken over")
        assert took < TAKEOVER

        # Started again (same identity), it takes its share back.
        procs[victim] = start(victim)
        logs[victim].append(procs[victim].log)
        restarted_at = time.time()

        def back() -> bool:
            now = spans(logs)
            return all(
                any(s.identity == victim and s.start > restarted_at for s in now[app])
                for app in theirs
            )

        await poll(back, TAKEOVER, "the restarted replica's share back")

        # A webhook to a replica that does not own the Application (interval 1h: only a webhook
        # moves it): the receiver asks through the API, its owner reconciles it.
        who = owners[f"{ns}/hooked"]
        receiver = next(identity for identity in MEMBERS if identity != who)

        def hooked_idle() -> bool:  # taken back by its owner and done: only a webhook moves it
            last = spans(logs)[f"{ns}/hooked"][-1]
            return last.identity == who and last.end is not None

        await poll(hooked_idle, TAKEOVER, "hooked idle at its owner")
        changed = files["apps/hooked/cm.yaml"] + "data:\n  v: '2'\n"
        newer = repo.commit({"apps/hooked/cm.yaml": changed}, "hooked changes")
        pushed = time.time()
        answer = await push_generic(procs[receiver].port, hook_secret, url)
        assert answer.get("triggered") == APPS + 1
        await until(kube_admin, API_VERSION, KIND, "hooked", ns, ready_at(newer), 30)
        live = await kube_admin.get("v1", "ConfigMap", "cm-hooked", ns)
        assert live["data"] == {"v": "2"}
        after_push = [s for s in spans(logs)[f"{ns}/hooked"] if s.start > pushed]
        assert after_push
        assert {s.identity for s in after_push} == {who}
    finally:
        ended = time.time()  # every replica still runs: an Application idle since counts too
        for proc in procs.values():
            proc.stop()

    by_app = spans(logs)
    assert_never_two_at_once(by_app, killed)
    for app, items in by_app.items():
        if not app.startswith(f"{ns}/") or app.endswith("/hooked"):
            continue  # reconciled on a webhook or a move only
        starts = sorted(s.start for s in items)
        gaps = [b - a for a, b in itertools.pairwise([*starts, ended])]
        assert max(gaps) < TAKEOVER, (
            f"{app} waited {max(gaps):.1f}s between reconciles (reconciles began at "
            f"{[round(t - starts[0], 1) for t in starts]} s, the test ended at "
            f"{ended - starts[0]:.1f} s): {[(s.identity, s.start) for s in items]}"
        )
