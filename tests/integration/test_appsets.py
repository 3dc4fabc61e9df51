"""ApplicationSets on the real control plane, with the real controller and Git HTTP server:
a list generator creates owned, labelled Applications and a template change updates them; an
element that disappears is deleted only under ``sync``; a Git directories generator follows
pushed commits (a new directory gives a new Application, a removed one is deleted only under
``sync``); a push webhook runs a set's generators (a matrix with Git) at once; a generator that
fails (an unreachable repository, a file that is not YAML, a template naming a missing
parameter) deletes nothing and says why in Ready=False; and ``clew diff appset`` shows what
would be created, changed and deleted while writing nothing.

Generated Applications are suspended: these tests are about the set, not about syncing."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clew.cli import apps, sync
from clew.cluster import Cluster, Invalid, NotFound
from clew.controller.api.spec import API_VERSION as APP_API_VERSION
from clew.controller.api.spec import KIND as APP_KIND
from clew.controller.api.spec import AppKey
from clew.controller.appsets import API_VERSION, KIND, SET_LABEL, AppSetReconciler
from clew.model import Reason
from clew.source import SnapshotCache
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

TEMPLATE_SPEC = {
    "source": {"repoURL": "https://git.example/apps.git", "path": "{{path}}"},
    "destination": {"namespace": "{{path.basename}}"},
    "suspend": True,
}


def appset(name: str, namespace: str, generators: list[Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "generators": generators,
            "template": spec.pop(
                "template", {"metadata": {"name": "{{path.basename}}"}, "spec": TEMPLATE_SPEC}
            ),
            "interval": "2s",
            **spec,
        },
    }


def listed(*names: str) -> list[dict[str, Any]]:
    return [{"list": {"elements": [{"path": f"apps/{n}", "path.basename": n} for n in names]}}]


def ready(reason: str = Reason.SUCCEEDED, count: int | None = None) -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        cond = condition(obj, "Ready")
        status = (obj or {}).get("status") or {}
        return bool(
            cond
            and cond["reason"] == reason
            and cond.get("observedGeneration") == obj["metadata"]["generation"]  # type: ignore[index]
            and (count is None or status.get("applicationCount") == count)
        )

    return check


async def app_names(cluster: Cluster, namespace: str, name: str) -> set[str]:
    items, _ = await cluster.list_objects(
        APP_API_VERSION, APP_KIND, namespace, label_selector=f"{SET_LABEL}={name}"
    )
    return {i["metadata"]["name"] for i in items}


def settled(*names: str) -> Any:
    """Ready at the set's generation, having generated exactly ``names`` (all written)."""
    done = ready()

    def check(obj: dict[str, Any] | None) -> bool:
        return done(obj) and (obj or {})["status"].get("applications") == sorted(names)

    return check


async def credentials_secret(cluster: Cluster, namespace: str, server: GitHttpServer) -> str:
    password = server.users[HTTP_USER]
    data = {"username": HTTP_USER, "password": password}
    await cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )
    return "git"


async def patch_spec(cluster: Cluster, namespace: str, name: str, spec: dict[str, Any]) -> None:
    await cluster.patch(API_VERSION, KIND, name, {"spec": spec}, namespace=namespace)


async def test_list_generator_template_change_and_policies(
    controller: RunningController, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    created = await kube_admin.create(appset("web", ns, listed("shop", "blog")))
    await until(kube_admin, API_VERSION, KIND, "web", ns, settled("shop", "blog"), 30)
    assert await app_names(kube_admin, ns, "web") == {"shop", "blog"}
    shop = await kube_admin.get(APP_API_VERSION, APP_KIND, "shop", ns)
    [owner] = shop["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (KIND, "web", created["metadata"]["uid"])
    assert shop["spec"]["source"]["path"] == "apps/shop"
    assert shop["spec"]["destination"]["namespace"] == "shop"

    # The template changes: every Application follows (server-side apply, the set's manager).
    template = {
        "metadata": {"name": "{{path.basename}}", "labels": {"tier": "web"}},
        "spec": {**TEMPLATE_SPEC, "source": {**TEMPLATE_SPEC["source"], "ref": "v2"}},
    }
    await patch_spec(kube_admin, ns, "web", {"template": template})
    for name in ("shop", "blog"):
        app = await until(
            kube_admin,
            APP_API_VERSION,
            APP_KIND,
            name,
            ns,
            lambda a: bool(a and a["spec"]["source"].get("ref") == "v2"),
            30,
        )
        assert app is not None
        assert app["metadata"]["labels"]["tier"] == "web"

    # create-update (the default): an element that disappears leaves its Application alone.
    await patch_spec(kube_admin, ns, "web", {"generators": listed("shop")})
    await until(kube_admin, API_VERSION, KIND, "web", ns, settled("shop"), 30)
    assert await app_names(kube_admin, ns, "web") == {"shop", "blog"}

    # sync: now it goes; an Application by the same name that the set does not own stays.
    await kube_admin.create(
        {
            "apiVersion": APP_API_VERSION,
            "kind": APP_KIND,
            "metadata": {"name": "mine", "namespace": ns},
            "spec": {"source": {"repoURL": "https://git.example/x.git"}, "suspend": True},
        }
    )
    await patch_spec(kube_admin, ns, "web", {"syncPolicy": "sync", "generators": listed("shop")})
    await until(kube_admin, API_VERSION, KIND, "web", ns, settled("shop"), 30)
    assert await app_names(kube_admin, ns, "web") == {"shop"}
    await patch_spec(kube_admin, ns, "web", {"generators": listed("shop", "mine")})
    web = await until(kube_admin, API_VERSION, KIND, "web", ns, ready(Reason.APPLY_FAILED), 30)
    assert "not owned by this set, left alone: mine" in condition(web, "Ready")["message"]  # type: ignore[index]
    mine = await kube_admin.get(APP_API_VERSION, APP_KIND, "mine", ns)
    assert "ownerReferences" not in mine["metadata"]


async def test_git_directories_follow_commits_and_delete_only_under_sync(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    git_repo.commit({"apps/one/a.yaml": "a: 1", "apps/two/a.yaml": "a: 1"}, "Two apps")
    secret = await credentials_secret(kube_admin, ns, git_http)
    git = {
        "repoURL": git_http.repo_url(git_repo.name),
        "revision": "main",
        "secretRef": {"name": secret},
        "directories": [{"path": "apps/*"}],
    }
    await kube_admin.create(appset("dirs", ns, [{"git": git}]))
    await until(kube_admin, API_VERSION, KIND, "dirs", ns, settled("one", "two"), 30)
    assert await app_names(kube_admin, ns, "dirs") == {"one", "two"}

    git_repo.commit({"apps/three/a.yaml": "a: 1"}, "A third app")
    await until(kube_admin, API_VERSION, KIND, "dirs", ns, settled("one", "two", "three"), 30)
    assert await app_names(kube_admin, ns, "dirs") == {"one", "two", "three"}

    git_repo.commit({"apps/one": None}, "Remove one")
    await until(kube_admin, API_VERSION, KIND, "dirs", ns, settled("two", "three"), 30)
    assert await app_names(kube_admin, ns, "dirs") == {"one", "two", "three"}  # create-update

    await patch_spec(kube_admin, ns, "dirs", {"syncPolicy": "sync"})
    await until(kube_admin, API_VERSION, KIND, "dirs", ns, settled("two", "three"), 30)
    assert await app_names(kube_admin, ns, "dirs") == {"two", "three"}


async def test_a_push_webhook_runs_a_matrix_of_git_at_once(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    git_repo.commit({"apps/one/a.yaml": "a: 1"}, "One app")
    secret = await credentials_secret(kube_admin, ns, git_http)
    url = git_http.repo_url(git_repo.name)
    git = {"repoURL": url, "secretRef": {"name": secret}, "directories": [{"path": "apps/*"}]}
    matrix = {"matrix": {"generators": [{"list": {"elements": [{"env": "dev"}]}}, {"git": git}]}}
    template = {"metadata": {"name": "{{path.basename}}-{{env}}"}, "spec": TEMPLATE_SPEC}
    # An hour between runs: only the webhook can make the next commit count in time.
    await kube_admin.create(appset("hooked", ns, [matrix], template=template, interval="1h"))
    await until(kube_admin, API_VERSION, KIND, "hooked", ns, settled("one-dev"), 30)

    git_repo.commit({"apps/two/a.yaml": "a: 1"}, "A second app")
    answer = await controller.push_hook(url)
    assert answer["triggered"] == 1  # the set; no Application reads this repository
    await until(kube_admin, API_VERSION, KIND, "hooked", ns, settled("one-dev", "two-dev"), 15)
    assert await app_names(kube_admin, ns, "hooked") == {"one-dev", "two-dev"}


async def test_a_failing_generator_deletes_nothing(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    git_repo.commit({"apps/one/a.yaml": "a: 1", "apps/two/a.yaml": "a: 1"}, "Two apps")
    secret = await credentials_secret(kube_admin, ns, git_http)
    url = git_http.repo_url(git_repo.name)
    git = {"repoURL": url, "secretRef": {"name": secret}, "directories": [{"path": "apps/*"}]}
    await kube_admin.create(appset("safe", ns, [{"git": git}], syncPolicy="sync"))
    await until(kube_admin, API_VERSION, KIND, "safe", ns, settled("one", "two"), 30)
    assert await app_names(kube_admin, ns, "safe") == {"one", "two"}

    # Unreachable Git: Ready=False FetchFailed, and both Applications stay.
    gone = {**git, "repoURL": "http://127.0.0.1:9/nobody.git"}
    await patch_spec(kube_admin, ns, "safe", {"generators": [{"git": gone}]})
    obj = await until(kube_admin, API_VERSION, KIND, "safe", ns, ready(Reason.FETCH_FAILED), 60)
    message = condition(obj, "Ready")["message"]  # type: ignore[index]
    assert "no Application was created, changed or deleted" in message
    assert obj is not None
    assert obj["status"]["applications"] == ["one", "two"]
    assert await app_names(kube_admin, ns, "safe") == {"one", "two"}

    # A files generator over a file that is not YAML: GeneratorFailed, nothing deleted.
    git_repo.commit({"config/bad.yaml": "name: [unclosed"}, "A broken file")
    files = {"repoURL": url, "secretRef": {"name": secret}, "files": [{"path": "config/*.yaml"}]}
    template = {"metadata": {"name": "{{name}}"}, "spec": TEMPLATE_SPEC}
    await patch_spec(kube_admin, ns, "safe", {"generators": [{"git": files}], "template": template})
    obj = await until(kube_admin, API_VERSION, KIND, "safe", ns, ready(Reason.GENERATOR_FAILED), 30)
    assert "config/bad.yaml" in condition(obj, "Ready")["message"]  # type: ignore[index]
    assert await app_names(kube_admin, ns, "safe") == {"one", "two"}

    # A template naming a parameter the generator lacks: TemplateFailed, nothing deleted.
    broken = {"metadata": {"name": "{{path.basename}}-{{nope}}"}, "spec": TEMPLATE_SPEC}
    await patch_spec(kube_admin, ns, "safe", {"generators": [{"git": git}], "template": broken})
    obj = await until(kube_admin, API_VERSION, KIND, "safe", ns, ready(Reason.TEMPLATE_FAILED), 30)
    assert "no parameter 'nope'" in condition(obj, "Ready")["message"]  # type: ignore[index]
    assert await app_names(kube_admin, ns, "safe") == {"one", "two"}


async def test_diff_appset_shows_and_writes_nothing(
    crd: None,
    kube_admin: Cluster,
    kube_cluster: KubeCluster,
    kube_namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = kube_namespace
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cli-cache"))
    root = typer.Typer()
    root.command("version")(lambda: None)
    root.command("diff")(sync.diff_command)
    apps.register(root)  # and `clew get appsets`
    argv = ["diff", "appset", "web", "--kubeconfig", str(kube_cluster.admin_kubeconfig), "-n", ns]

    async def diff() -> tuple[int, str]:
        result = await asyncio.to_thread(CliRunner().invoke, root, argv)
        return result.exit_code, result.stdout

    await kube_admin.create(appset("web", ns, listed("shop", "blog"), syncPolicy="sync"))
    code, out = await diff()
    assert code == 1, out
    assert out.splitlines() == [
        f"+ Application/{ns}/shop (created)",
        f"+ Application/{ns}/blog (created)",
    ]
    assert await app_names(kube_admin, ns, "web") == set()  # a dry run writes nothing

    # No controller runs here: one reconcile by hand, then the diff is empty.
    reconciler = AppSetReconciler(kube_admin, SnapshotCache(tmp_path / "cache"))
    assert (await reconciler.reconcile(AppKey(ns, "web"))).ok
    assert await diff() == (0, "")
    listing = await asyncio.to_thread(
        CliRunner().invoke, root, ["get", "appsets", *argv[3:]], env={"COLUMNS": "200"}
    )
    assert listing.exit_code == 0, listing.output
    assert listing.stdout.split("\n")[1].split()[:5] == ["web", "True", "Succeeded", "sync", "2"]

    template = {
        "metadata": {"name": "{{path.basename}}"},
        "spec": {**TEMPLATE_SPEC, "destination": {"namespace": "prod-{{path.basename}}"}},
    }
    await patch_spec(kube_admin, ns, "web", {"generators": listed("shop"), "template": template})
    code, out = await diff()
    assert code == 1, out
    assert f"~ Application/{ns}/shop (changed)" in out
    assert "-  destination:\n-    namespace: shop\n+  destination:\n+    namespace: prod-shop" in (
        out
    ) or ("-    namespace: shop" in out and "+    namespace: prod-shop" in out)
    assert out.rstrip().endswith(f"- Application/{ns}/blog (deleted)")
    shop = await kube_admin.get(APP_API_VERSION, APP_KIND, "shop", ns)
    assert shop["spec"]["destination"]["namespace"] == "shop"  # still: nothing was written
    assert await app_names(kube_admin, ns, "web") == {"shop", "blog"}

    # A generator error is an error (exit 2), with the promise that nothing would change.
    await patch_spec(
        kube_admin, ns, "web", {"template": {"metadata": {"name": "{{x}}"}, "spec": {}}}
    )
    result = await asyncio.to_thread(CliRunner().invoke, root, argv)
    assert result.exit_code == 2
    assert "no parameter 'x'" in result.output
    assert "would create, change and delete nothing" in result.output
    with pytest.raises(NotFound):
        await kube_admin.get(APP_API_VERSION, APP_KIND, "x", ns)


async def test_the_crd_refuses_what_it_can(
    crd: None, kube_admin: Cluster, kube_namespace: str
) -> None:
    bad = appset("x", kube_namespace, listed("a"), syncPolicy="delete-everything")
    with pytest.raises(Invalid, match="syncPolicy"):
        await kube_admin.create(bad)
    with pytest.raises(Invalid, match="at most 63 characters"):
        await kube_admin.create(appset("x" * 64, kube_namespace, listed("a")))
    with pytest.raises(Invalid, match="generators"):
        await kube_admin.create(appset("x", kube_namespace, []))
    stored = await kube_admin.create(appset("ok", kube_namespace, listed("a"), interval="5m"))
    assert stored["spec"]["syncPolicy"] == "create-update"  # the default, from the schema
