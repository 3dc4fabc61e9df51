"""Helm hooks by their lifecycle, on the real control plane with the real helm and the charts in
tests/integration/charts/: pre-install hooks (a ConfigMap, then a Job that must complete) run
before the release's objects and post-install hooks after them; hooks are never inventory members;
a no-op sync creates, applies and deletes nothing; an upgrade re-runs the upgrade hooks
(before-hook-creation re-creates them) but not the install-only one; hook-succeeded deletes a Job
once it succeeded and hook-failed once it failed; a failing hook Job fails the sync with
HookFailed, names the hook in `clew apply` output, and nothing is applied or pruned after it;
pre-delete, post-delete, rollback and test hooks never run on a sync (the issue's reproduction
creates nothing).

Order is observed from watch events: one etcd numbers every write, so the resourceVersions of
events of different kinds in one namespace sort into the order the writes happened."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew import engine, render
from clew.apply import HOOK_OF, PART_OF, load
from clew.cli.main import app as cli
from clew.cluster import Cluster, NotFound
from clew.model import Action, Change
from clew.source.local import local
from clew.testing import tools

pytestmark = pytest.mark.integration

CHARTS = Path(__file__).parent / "charts"
HOOK_OBJECTS = {"ConfigMap/pre-config", "ConfigMap/post-config", "Job/pre-job", "Job/post-job"}
KINDS = [("v1", "ConfigMap"), ("batch/v1", "Job"), ("apps/v1", "Deployment")]


def chart(tmp_path: Path, name: str, **values: Any) -> Path:
    """A copy of a test chart, with ``values`` written into its values.yaml."""
    target = tmp_path / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(CHARTS / name, target)
    if values:
        defaults = yaml.safe_load((target / "values.yaml").read_text()) or {}
        (target / "values.yaml").write_text(yaml.safe_dump({**defaults, **values}))
    return target


async def clew_apply(
    kube_cluster: Any, namespace: str, directory: Path, *args: str
) -> tuple[int, str]:
    """The real `clew apply` in-process, as the restricted ServiceAccount."""
    argv = ["apply", str(directory), "--name", "app", "-n", namespace, *args]
    argv += ["--kubeconfig", str(kube_cluster.restricted_kubeconfig)]
    result = await asyncio.to_thread(CliRunner().invoke, cli, argv)
    return result.exit_code, result.output


class Changes(engine.Progress):
    def __init__(self) -> None:
        self.seen: list[Change] = []

    def change(self, change: Change) -> None:
        self.seen.append(change)


async def sync(
    cluster: Cluster, directory: Path, namespace: str, progress: engine.Progress | None = None
) -> engine.SyncResult:
    async def fetch() -> Any:
        return local(directory)

    options = engine.SyncOptions(
        name="app",
        namespace=namespace,
        prune=True,
        timeout=60,
        render=render.RenderOptions(namespace=namespace, helm_binary=tools.binary("helm")),
    )
    return await engine.sync(cluster, fetch, options, progress)


@contextlib.asynccontextmanager
async def recorded(cluster: Cluster, namespace: str) -> AsyncIterator[list[tuple[int, str, str]]]:
    """(resourceVersion, event, Kind/name) of every write to KINDS in ``namespace`` while inside,
    sorted on exit; a Job that completes shows as ``COMPLETE``."""
    events: list[tuple[int, str, str]] = []

    async def watch(api_version: str, kind: str, started: asyncio.Event) -> None:
        _, version = await cluster.list_objects(api_version, kind, namespace)
        started.set()
        async for event in cluster.watch(api_version, kind, namespace, resource_version=version):
            if event.type == "BOOKMARK":
                continue
            obj = event.object
            conditions = (obj.get("status") or {}).get("conditions") or []
            done = any(
                c.get("type") == "Complete" and c.get("status") == "True" for c in conditions
            )
            name = f"{kind}/{obj['metadata']['name']}"
            version_now = int(obj["metadata"]["resourceVersion"])
            kind_of_event = "COMPLETE" if done and event.type == "MODIFIED" else event.type
            events.append((version_now, kind_of_event, name))

    tasks = []
    for api_version, kind in KINDS:
        started = asyncio.Event()
        tasks.append(asyncio.create_task(watch(api_version, kind, started)))
        await started.wait()
    try:
        yield events
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        events.sort()


def first(events: list[tuple[int, str, str]], kind: str, name: str) -> int:
    return next(v for v, t, n in events if t == kind and n == name)


async def uid(cluster: Cluster, api_version: str, kind: str, name: str, ns: str) -> str:
    return str((await cluster.get(api_version, kind, name, ns))["metadata"]["uid"])


async def absent(cluster: Cluster, api_version: str, kind: str, name: str, ns: str) -> bool:
    try:
        obj = await cluster.get(api_version, kind, name, ns)
    except NotFound:
        return True
    return bool(obj["metadata"].get("deletionTimestamp"))


async def test_install_runs_each_hook_in_its_phase(
    kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    progress = Changes()
    async with recorded(kube_restricted, ns) as events:
        result = await sync(kube_restricted, chart(tmp_path, "hooked"), ns, progress)
    assert result.ok, result.error
    # pre-install: the ConfigMap (weight -5), then the Job, complete before any release object.
    pre_config = first(events, "ADDED", "ConfigMap/pre-config")
    pre_job = first(events, "ADDED", "Job/pre-job")
    pre_job_done = first(events, "COMPLETE", "Job/pre-job")
    release = [first(events, "ADDED", n) for n in ("ConfigMap/settings", "Deployment/web")]
    post = first(events, "ADDED", "ConfigMap/post-config")
    post_job_done = first(events, "COMPLETE", "Job/post-job")
    assert pre_config < pre_job < pre_job_done < min(release)
    assert max(release) < post < post_job_done
    # hook-succeeded: the post-install Job is gone once it succeeded; the others stay.
    assert first(events, "DELETED", "Job/post-job") > post_job_done
    assert await absent(kube_restricted, "batch/v1", "Job", "post-job", ns)
    await kube_restricted.get("batch/v1", "Job", "pre-job", ns)
    # Delete, rollback and test hooks never run on a sync.
    for name in ("pre-delete-config", "post-delete-config", "rollback-config"):
        assert not any(n == f"ConfigMap/{name}" for _, _, n in events), name
    # Hooks are reported as they run, and are not inventory members nor ApplySet members.
    hook_changes = {str(c.ref): c.action for c in result.hook_changes.changes}
    assert hook_changes == {
        f"ConfigMap/{ns}/pre-config": Action.CREATED,
        f"Job/{ns}/pre-job": Action.CREATED,
        f"ConfigMap/{ns}/post-config": Action.CREATED,
        f"Job/{ns}/post-job": Action.CREATED,
    }
    assert [str(c.ref) for c in progress.seen][:2] == [
        f"ConfigMap/{ns}/pre-config",
        f"Job/{ns}/pre-job",
    ]
    members = {m.ref.name for m in (await load(kube_restricted, "app", ns)).members}
    assert members == {"settings", "extra", "web"}
    labels = (await kube_restricted.get("v1", "ConfigMap", "pre-config", ns))["metadata"]["labels"]
    assert PART_OF not in labels
    assert HOOK_OF in labels


async def test_a_no_op_sync_runs_no_hook_and_an_upgrade_runs_upgrade_hooks(
    kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    directory = chart(tmp_path, "hooked")
    assert (await sync(kube_restricted, directory, ns)).ok
    before = {
        name: await uid(kube_restricted, "v1", "ConfigMap", name, ns)
        for name in ("pre-config", "post-config")
    }
    before["pre-job"] = await uid(kube_restricted, "batch/v1", "Job", "pre-job", ns)

    calls = dict(kube_restricted.calls)
    async with recorded(kube_restricted, ns) as events:
        again = await sync(kube_restricted, directory, ns)
    assert again.ok, again.error
    # Controllers may still update status, but nothing was created or deleted, no hook object
    # was written to, and no delete request was sent.
    assert not [e for e in events if e[1] in ("ADDED", "DELETED")], events
    assert not [e for e in events if e[2] in HOOK_OBJECTS], events
    assert kube_restricted.calls["delete"] == calls.get("delete", 0)
    assert {c.action for c in again.hook_changes.changes} == {Action.UNCHANGED}
    assert await uid(kube_restricted, "batch/v1", "Job", "pre-job", ns) == before["pre-job"]

    # A new release: the pre-upgrade Job and the post-upgrade hooks run again (re-created under
    # before-hook-creation); the pre-install ConfigMap is not an upgrade hook and stays as it was.
    upgraded = await sync(kube_restricted, chart(tmp_path, "hooked", version="2"), ns)
    assert upgraded.ok, upgraded.error
    actions = {c.ref.name: c.action for c in upgraded.hook_changes.changes}
    assert actions == {
        "pre-job": Action.CREATED,
        "post-config": Action.CREATED,
        "post-job": Action.CREATED,
    }
    assert await uid(kube_restricted, "batch/v1", "Job", "pre-job", ns) != before["pre-job"]
    assert await uid(kube_restricted, "v1", "ConfigMap", "post-config", ns) != before["post-config"]
    assert await uid(kube_restricted, "v1", "ConfigMap", "pre-config", ns) == before["pre-config"]
    post = await kube_restricted.get("v1", "ConfigMap", "post-config", ns)
    assert post["data"] == {"version": "2"}
    assert await absent(kube_restricted, "batch/v1", "Job", "post-job", ns)


async def test_a_failing_hook_fails_the_sync_and_nothing_is_applied_or_pruned(
    kube_cluster: Any, kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    assert (await sync(kube_restricted, chart(tmp_path, "hooked"), ns)).ok
    # The next release drops `extra` (a prune would delete it) and its pre-upgrade Job fails.
    failing = chart(tmp_path, "hooked", version="2", failPre=True, extra=False)
    code, output = await clew_apply(kube_cluster, ns, failing, "--prune", "-o", "json")
    assert code == 1, output
    out = json.loads(output)
    assert out["reason"] == "HookFailed"
    assert f"pre-upgrade hook Job/{ns}/pre-job failed: Job failed" in out["error"]
    assert {"object": f"Job/{ns}/pre-job", "action": "failed"}.items() <= next(
        c for c in out["changes"] if c["object"] == f"Job/{ns}/pre-job"
    ).items()
    # Nothing after the hook happened: `extra` is still there, `settings` still at version 1.
    await kube_restricted.get("v1", "ConfigMap", "extra", ns)
    settings = await kube_restricted.get("v1", "ConfigMap", "settings", ns)
    assert settings["data"] == {"version": "1"}
    failed = await kube_restricted.get("batch/v1", "Job", "pre-job", ns)  # kept to inspect
    assert failed["spec"]["template"]["metadata"]["annotations"]["version"] == "2"

    code, text = await clew_apply(kube_cluster, ns, failing, "--prune")
    assert code == 1
    assert "sync failed: HookFailed" in text
    assert "  hooks 1 pre-upgrade" in text  # progress names the phase
    assert "pre-job failed" in text


async def test_the_reproduction_a_pre_delete_hook_is_not_created_by_apply(
    kube_cluster: Any, kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    directory = chart(tmp_path, "uninstall-only")
    code, output = await clew_apply(kube_cluster, kube_namespace, directory, "-o", "json")
    assert code == 0, output
    assert json.loads(output)["changes"] == []
    assert await absent(kube_restricted, "v1", "ConfigMap", "goodbye", kube_namespace)


async def test_hook_failed_deletes_the_failed_hook_and_a_failed_install_applies_nothing(
    kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    failing = chart(tmp_path, "hooked", failPre=True, preJobPolicy="hook-failed")
    result = await sync(kube_restricted, failing, ns)
    assert result.reason == "HookFailed"
    assert result.error.startswith(f"pre-install hook Job/{ns}/pre-job failed: Job failed")
    assert await absent(kube_restricted, "batch/v1", "Job", "pre-job", ns)
    assert await absent(kube_restricted, "v1", "ConfigMap", "settings", ns)
    assert not (await load(kube_restricted, "app", ns)).members
    # The pre-install ConfigMap before it succeeded and stays; the post-install hooks never ran.
    await kube_restricted.get("v1", "ConfigMap", "pre-config", ns)
    assert await absent(kube_restricted, "v1", "ConfigMap", "post-config", ns)
