"""The Application commands against the real controller, control plane and Git HTTP server:
`get apps` lists an Application Ready; `reconcile --wait` returns once the controller handled it
and picked up a new commit without any webhook; `history`, `events` and `describe` show it;
`suspend` stops changes and `resume` brings them back; `rollback --to` pins an earlier commit
until `resume`; `rollback --revert` pushes revert commits (one, or a range) with the
Application's own credentials and the controller applies them; a tag cannot take a revert;
`diff app` exits 1 after a hand edit of an Application without self-heal and 0 in sync."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from click.testing import Result
from typer.testing import CliRunner

from clew.cli import apps
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, ready_at
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


def blue() -> dict[str, str]:
    return {"deploy/cm.yaml": configmap("settings", color="blue")}


def colored(color: str) -> dict[str, str]:
    return {"deploy/cm.yaml": configmap("settings", color=color)}


class Clew:
    """The `clew` commands in-process, on a root app set up as main.py registers them."""

    def __init__(self, cluster: KubeCluster, namespace: str) -> None:
        self.root = typer.Typer()
        self.root.command("version")(lambda: None)
        apps.register(self.root)
        self.kubeconfig = str(cluster.admin_kubeconfig)
        self.namespace = namespace

    async def __call__(self, *args: str) -> Result:
        argv = [*args, "--kubeconfig", self.kubeconfig, "-n", self.namespace]
        # The CLI runs its own event loop (asyncio.run), so it gets a thread of its own.
        return await asyncio.to_thread(CliRunner().invoke, self.root, argv)


@pytest.fixture
def clew(kube_cluster: KubeCluster, kube_namespace: str) -> Clew:
    return Clew(kube_cluster, kube_namespace)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cli-cache"))
    return tmp_path / "cli-cache"


async def create_app(
    cluster: Cluster, namespace: str, server: GitHttpServer, repo: Repo, name: str, **spec: Any
) -> None:
    await cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": namespace},
            "data": {
                "username": base64.b64encode(HTTP_USER.encode()).decode(),
                "password": base64.b64encode(server.users[HTTP_USER].encode()).decode(),
            },
        }
    )
    source = {"repoURL": server.repo_url(repo.name), "ref": "main", "path": "deploy"}
    source.update(spec.pop("source", {}), secretRef={"name": "git"})
    await cluster.create(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"source": source, "interval": "10m", **spec},
        }
    )


def reason_is(reason: str) -> Any:
    return lambda app: (condition(app, "Ready") or {}).get("reason") == reason


async def color(cluster: Cluster, namespace: str) -> str:
    return str((await cluster.get("v1", "ConfigMap", "settings", namespace))["data"]["color"])


def row(result: Result, name: str) -> list[str]:
    """The cells of the table row whose NAME is ``name``."""
    return next(ln.split() for ln in result.stdout.splitlines() if ln.split()[:1] == [name])


async def test_get_reconcile_history_events_describe(
    controller: RunningController,
    clew: Clew,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    first = git_repo.commit(blue(), "Add settings")
    await create_app(kube_admin, ns, git_http, git_repo, "shop")
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 60)

    listed = await clew("get", "apps")
    assert listed.exit_code == 0, listed.output
    assert row(listed, "shop")[:6] == ["shop", "True", "Succeeded", first[:12], "1/1", "false"]

    # A new commit and no webhook: the controller cached `main` for the 10m interval, so only
    # the reconcile request makes it look again.
    second = git_repo.commit(colored("green"), "Go green")
    handled = await clew("reconcile", "app", "shop", "--wait", "--timeout", "60")
    assert handled.exit_code == 0, handled.output
    assert "Ready=True Succeeded" in handled.stdout
    app = await kube_admin.get(API_VERSION, KIND, "shop", ns)  # no waiting: --wait did
    assert app["status"]["lastAppliedRevision"] == second
    assert (
        app["status"]["lastHandledReconcileAt"]
        == (app["metadata"]["annotations"][RECONCILE_ANNOTATION])
    )
    assert await color(kube_admin, ns) == "green"

    history = await clew("history", "app", "shop", "-o", "json")
    assert history.exit_code == 0, history.output
    entries = json.loads(history.stdout)
    assert [(e["revision"], e["subject"], e["result"]) for e in entries] == [
        (second, "Go green", "Succeeded"),
        (first, "Add settings", "Succeeded"),
    ]
    assert (entries[0]["configured"], entries[1]["created"]) == (1, 1)
    as_csv = await clew("history", "app", "shop", "-o", "csv")
    assert as_csv.stdout.splitlines()[1].startswith(f"{second},Go green,")

    described = await clew("describe", "app", "shop")
    assert described.exit_code == 0, described.output
    for expected in (git_http.repo_url(git_repo.name), second, "Go green", "Succeeded"):
        assert expected in described.stdout

    everywhere = await clew("get", "apps", "-A", "-o", "json")
    items = json.loads(everywhere.stdout)["items"]
    assert (ns, "shop") in {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items}

    missing = await clew("describe", "app", "nope")
    assert missing.exit_code == 2
    assert f"clew get apps -n {ns}" in missing.output


async def test_events_show_what_the_controller_did(
    controller: RunningController,
    clew: Clew,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    first = git_repo.commit(blue(), "blue")
    await create_app(kube_admin, ns, git_http, git_repo, "shop")
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 60)
    second = git_repo.commit(colored("green"), "green")
    handled = await clew("reconcile", "app", "shop", "--wait", "--timeout", "60")
    assert handled.exit_code == 0, handled.output

    events = await clew("events", "app", "shop")
    assert events.exit_code == 0, events.output
    synced = [ln for ln in events.stdout.splitlines() if " Synced " in ln]
    assert len(synced) == 2  # one per sync that changed something
    assert f"applied revision {second[:12]}" in synced[-1]  # newest last
    described = await clew("describe", "app", "shop")
    assert f"applied revision {second[:12]}" in described.stdout


async def test_suspend_resume_and_rollback_pin(
    controller: RunningController,
    clew: Clew,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    first = git_repo.commit(blue(), "blue")
    await create_app(kube_admin, ns, git_http, git_repo, "pinme")
    await until(kube_admin, API_VERSION, KIND, "pinme", ns, ready_at(first), 60)

    suspended = await clew("suspend", "app", "pinme")
    assert suspended.exit_code == 0, suspended.output
    await until(kube_admin, API_VERSION, KIND, "pinme", ns, reason_is("Suspended"), 30)
    second = git_repo.commit(colored("green"), "green")
    handled = await clew("reconcile", "app", "pinme", "--wait", "--timeout", "60")
    assert handled.exit_code == 1  # handled, and not Ready: it is suspended
    assert "Ready=False Suspended" in handled.stdout
    assert await color(kube_admin, ns) == "blue"
    listed = await clew("get", "apps")
    assert row(listed, "pinme")[1:3] == ["False", "Suspended"]
    assert row(listed, "pinme")[5] == "true"

    resumed = await clew("resume", "app", "pinme")
    assert resumed.exit_code == 0, resumed.output
    assert "rollback pin" not in resumed.stdout  # there was none to remove
    await until(kube_admin, API_VERSION, KIND, "pinme", ns, ready_at(second), 60)
    assert await color(kube_admin, ns) == "green"

    pinned = await clew("rollback", "app", "pinme", "--to", first[:8])
    assert pinned.exit_code == 0, pinned.output
    assert f"pinned {ns}/pinme to {first[:12]} (blue)" in pinned.stdout
    app = await until(kube_admin, API_VERSION, KIND, "pinme", ns, ready_at(first), 60)
    assert app is not None
    assert app["spec"]["pin"] == {"revision": first}
    assert await color(kube_admin, ns) == "blue"

    not_in_history = await clew("rollback", "app", "pinme", "--to", "0123456789")
    assert not_in_history.exit_code == 2
    assert "not in the Application's history" in not_in_history.output

    unpinned = await clew("resume", "app", "pinme")
    assert unpinned.exit_code == 0, unpinned.output
    assert f"removed the rollback pin to {first[:12]}: following main again" in unpinned.stdout
    app = await until(kube_admin, API_VERSION, KIND, "pinme", ns, ready_at(second), 60)
    assert app is not None
    assert "pin" not in app["spec"]
    assert await color(kube_admin, ns) == "green"


async def test_rollback_revert_pushes_commits_the_controller_applies(
    controller: RunningController,
    clew: Clew,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    first = git_repo.commit(blue(), "blue")
    second = git_repo.commit(colored("green"), "Go green")
    await create_app(kube_admin, ns, git_http, git_repo, "rev")
    await until(kube_admin, API_VERSION, KIND, "rev", ns, ready_at(second), 60)

    # One commit, with the Application's own credentials from its Secret.
    reverted = await clew("rollback", "app", "rev", "--revert")
    assert reverted.exit_code == 0, reverted.output
    head = git_repo.head()
    assert head not in (first, second)
    assert f"pushed {head} to main, reverting {second[:12]}" in reverted.stdout
    app = await until(kube_admin, API_VERSION, KIND, "rev", ns, ready_at(head), 60)
    assert app is not None
    entry = app["status"]["history"][0]
    assert (entry["subject"], entry["author"]) == ('Revert "Go green"', "clew <clew@localhost>")
    assert await color(kube_admin, ns) == "blue"

    # A range back to a commit never applied (so not in the history): one commit undoing all.
    third = git_repo.commit(colored("red"), "Go red")
    await clew("reconcile", "app", "rev", "--wait", "--timeout", "60")
    await until(kube_admin, API_VERSION, KIND, "rev", ns, ready_at(third), 30)
    ranged = await clew(
        "rollback", "app", "rev", "--revert", "--to", first[:10], "--author", "Ada <ada@x.org>"
    )
    assert ranged.exit_code == 0, ranged.output
    range_head = git_repo.head()
    assert range_head not in (head, third)
    app = await until(kube_admin, API_VERSION, KIND, "rev", ns, ready_at(range_head), 60)
    assert app is not None
    entry = app["status"]["history"][0]
    assert (entry["subject"], entry["author"]) == (f"Revert to {first[:12]}", "Ada <ada@x.org>")
    assert await color(kube_admin, ns) == "blue"

    # A tag cannot take a commit: refused before anything is pushed.
    tagged = git_repo.tag("v1.0.0")
    # It renders rev's objects: taking them over needs adopt (docs/ownership.md).
    await create_app(
        kube_admin, ns, git_http, git_repo, "tagged", source={"ref": "v1.0.0"}, adopt=True
    )
    await until(kube_admin, API_VERSION, KIND, "tagged", ns, ready_at(tagged), 60)
    refused = await clew("rollback", "app", "tagged", "--revert")
    assert refused.exit_code == 2
    assert "is not a branch" in refused.output
    assert git_repo.head() == range_head


async def test_diff_app_after_a_hand_edit(
    controller: RunningController,
    clew: Clew,
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    capfd: pytest.CaptureFixture[str],
) -> None:
    ns = kube_namespace
    sha = git_repo.commit(blue(), "blue")
    await create_app(kube_admin, ns, git_http, git_repo, "watch", selfHeal=False)
    await until(kube_admin, API_VERSION, KIND, "watch", ns, ready_at(sha), 60)

    in_sync = await clew("app", "diff", "watch")
    assert in_sync.exit_code == 0, in_sync.output
    assert in_sync.stdout == ""

    live = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    live["data"]["color"] = "red"
    await kube_admin.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/settings", body=live)
    drifted = await clew("app", "diff", "watch")
    assert drifted.exit_code == 1, drifted.output
    lines = drifted.stdout.splitlines()
    assert "-  color: red" in lines
    assert "+  color: blue" in lines
    assert await color(kube_admin, ns) == "red"  # a dry run changes nothing

    # The function `clew diff app NAME` dispatches to, as main.py will call it.
    capfd.readouterr()
    code = await asyncio.to_thread(
        apps.diff_app, "watch", ns, Path(kube_cluster.admin_kubeconfig), None
    )
    assert code == 1
    assert "+  color: blue" in capfd.readouterr().out
