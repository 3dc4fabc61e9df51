"""The web UI in a real browser (Debian's Chromium through chromium-driver) against the local
control plane, a real controller and the test Git server. It proves: a user signed in with a
ServiceAccount token sees the Application with its resource tree (Deployment → ReplicaSet → Pod),
the same as ``clew tree app`` draws (kinds, names, health), history and a masked live-vs-Git
diff; a pushed commit appears on the open list page without a reload; reconcile and revert from
the page change the cluster and record the user in Events and the audit trail; a token without
RBAC sees nothing and cannot act; a forged CSRF token is refused; and axe-core finds no serious
or critical accessibility violation on the pages.

Screenshots of each main page are kept in ``$CLEW_TEST_ARTIFACTS/ui`` (default: the test's
temporary directory); docs/ui.md shows them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.cli.apps_ops import app_events
from clew.cli.main import _app
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION
from clew.report.audit import read_trail
from clew.testing.browser import Browser
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, git_credentials, ready_at
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until
from clew.ui import UiServer, build, serve

from .test_operator import application

pytestmark = pytest.mark.integration

AXE = Path(__file__).parent / "assets" / "axe-core" / "axe.min.js"
SECRET_VALUE = "hunter2-very-secret"


def manifests(color: str, password: str) -> dict[str, str]:
    labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"color": color},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"password": password},
    }
    return {
        "deploy/deployment.yaml": yaml.safe_dump(deployment),
        "deploy/configmap.yaml": yaml.safe_dump(configmap),
        "deploy/secret.yaml": yaml.safe_dump(secret),
    }


async def account_token(admin: Cluster, ns: str, name: str) -> str:
    await admin.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
    )
    answer = await admin.request(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    return str(answer["status"]["token"])


async def grant_operator(admin: Cluster, ns: str, account: str) -> None:
    """What a team's operator has in its namespace: the built-in ``admin`` role, plus
    Applications and events.k8s.io Events (not in ``admin``)."""
    await admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "clew-apps", "namespace": ns},
            "rules": [
                {
                    "apiGroups": ["clew.dev"],
                    "resources": ["applications"],
                    "verbs": ["get", "list", "watch", "patch"],
                },
                {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list"]},
            ],
        }
    )
    subject = [{"kind": "ServiceAccount", "name": account, "namespace": ns}]
    for name, kind, role in (("apps", "Role", "clew-apps"), ("admin", "ClusterRole", "admin")):
        await admin.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{account}-{name}", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                "subjects": subject,
            }
        )


async def cli_tree(kube: KubeCluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    """(kind, name, health) of every node `clew tree app NAME -o json` prints, sorted."""
    argv = ["tree", "app", name, "-o", "json", "-n", ns]
    result = await asyncio.to_thread(
        CliRunner().invoke, _app(), [*argv, "--kubeconfig", str(kube.admin_kubeconfig)]
    )
    assert result.exit_code == 0, result.output

    def walk(nodes: list[dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
        for node in nodes:
            yield node["kind"], node["name"], node["health"]
            yield from walk(node["children"])

    return sorted(walk(json.loads(result.stdout)["objects"]))


async def sign_in(browser: Browser, token: str) -> None:
    await browser.call(browser.driver.delete_all_cookies)
    await browser.get("/login")
    await browser.js("document.getElementById('token').value = arguments[0];", token)
    await browser.click("#signin")
    await browser.wait_text("#user", "system:serviceaccount:")


async def assert_accessible(browser: Browser, page: str) -> None:
    violations = await browser.axe(AXE.read_text())
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n.get('target') for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]
    assert not serious, f"axe on {page}: " + "; ".join(serious)


async def test_list_tree_diff_live_update_and_actions(
    controller: RunningController,
    ui: UiServer,
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    browser: Browser,
    artifacts: Path,
) -> None:
    ns = kube_namespace
    first = git_repo.commit(manifests("blue", SECRET_VALUE), "Add web, settings and db")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 90)
    await grant_operator(kube_admin, ns, "alice")
    user = f"system:serviceaccount:{ns}:alice"

    await sign_in(browser, await account_token(kube_admin, ns, "alice"))
    await browser.get(f"/?namespace={ns}")
    row = await browser.wait_text(f"[id='app-{ns}.shop']", first[:12])
    assert "ready" in row
    await browser.screenshot(artifacts / "list.png")
    await assert_accessible(browser, "the list")

    # A commit pushed without a webhook: the diff shows what the next sync would change,
    # with the Secret's values masked.
    second = git_repo.commit(manifests("green", "rotated-" + SECRET_VALUE), "Go green")
    await browser.get(f"/apps/{ns}/shop")
    tree = await browser.wait_text("#tree", "Pod")
    assert "Deployment web" in tree
    assert "ReplicaSet web-" in tree
    assert "ConfigMap settings" in tree
    nested = await browser.js(
        "return [...document.querySelectorAll('#tree li li li .kind')].map(e => e.textContent)"
    )
    assert nested == ["Pod"], nested  # Deployment → ReplicaSet → Pod
    # The same tree as `clew tree app` draws (one reader, clew.wait.read_tree), health included.
    shown = await browser.js(
        "return [...document.querySelectorAll('#tree .node')].map(li =>"
        " [li.querySelector('.kind').textContent, li.querySelector('.name').textContent,"
        " li.querySelector('.pill').textContent])"
    )
    assert sorted(map(tuple, shown)) == await cli_tree(kube_cluster, ns, "shop")
    assert "Add web, settings and db" in await browser.text("#history")
    await browser.click("#load-diff")
    diff = await browser.wait_text("#diff", "ConfigMap")
    assert "green" in diff
    assert "Secret" in diff
    for leaked in (SECRET_VALUE, base64.b64encode(("rotated-" + SECRET_VALUE).encode()).decode()):
        assert leaked not in diff
    await browser.screenshot(artifacts / "application.png")
    await assert_accessible(browser, "the application page")

    # The list page, left open, shows the pushed revision without a reload.
    await browser.get(f"/?namespace={ns}")
    await browser.wait(lambda d: d.execute_script("return document.body.dataset.live === 'on'"))
    await browser.js("window.notReloaded = true;")
    answer = await controller.push_hook(git_http.repo_url(git_repo.name))
    assert answer["triggered"] == 1
    await browser.wait_text(f"[id='app-{ns}.shop']", second[:12], 30)
    assert await browser.js("return window.notReloaded === true")
    # Every page opened so far was fed by the UI server's one list and one watch.
    assert (ui.ui.cluster.calls["list"], ui.ui.cluster.calls["watch"]) == (1, 1)
    cm = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    assert cm["data"]["color"] == "green"

    # Reconcile now, from the page: confirmed, then handled by the controller.
    await browser.get(f"/apps/{ns}/shop")
    await browser.click("#act-reconcile")
    assert "Reconcile shop now?" in await browser.accept_confirm()
    await browser.wait_text("#live", "reconcile requested")

    def handled(app: dict[str, Any] | None) -> bool:
        meta = (app or {}).get("metadata") or {}
        stamp = (meta.get("annotations") or {}).get(RECONCILE_ANNOTATION)
        return bool(stamp and (app or {}).get("status", {}).get("lastHandledReconcileAt") == stamp)

    await until(kube_admin, API_VERSION, KIND, "shop", ns, handled, 30)
    events = await app_events(kube_admin, ns, "shop")
    assert any(e["reason"] == "ReconcileRequested" and user in e["note"] for e in events), [
        e.get("note") for e in events
    ]

    # Roll back by a revert commit, from the page: Git gets the commit, the cluster goes blue.
    await browser.click("#act-revert")
    assert "reverts" in await browser.accept_confirm()
    await browser.wait_text("#live", "pushed", 30)
    await until(
        kube_admin,
        "v1",
        "ConfigMap",
        "settings",
        ns,
        lambda obj: bool(obj and obj["data"]["color"] == "blue"),
        30,
    )
    head = git_repo.head()
    assert head != second
    trail = await read_trail(kube_admin, ns, "shop")
    assert trail is not None
    assert {(r.get("request"), r.get("requestedBy")) for r in trail.records} >= {
        ("reconcile", user),
        ("revert", user),
    }
    await browser.wait_text("#history", "Revert", 30)
    await browser.screenshot(artifacts / "application-after-revert.png")

    # Roll back to the first revision from its history row (a pin), then resume: unpinned.
    await browser.click("#history tbody tr:last-child button")
    assert f"Pin shop to {first[:12]}?" in await browser.accept_confirm()
    await browser.wait_text("#live", "pinned to")
    await until(kube_admin, API_VERSION, KIND, "shop", ns, pinned_to(first), 30)
    await browser.click("#act-resume")
    assert "remove the pin" in await browser.accept_confirm()
    await browser.wait_text("#live", "resumed")
    await until(kube_admin, API_VERSION, KIND, "shop", ns, pinned_to(None), 30)


def pinned_to(revision: str | None) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        return bool(app and ((app["spec"].get("pin") or {}).get("revision")) == revision)

    return check


async def test_no_rbac_sees_nothing_and_forged_csrf_is_refused(
    controller: RunningController,
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    browser: Browser,
    artifacts: Path,
) -> None:
    ns = kube_namespace
    first = git_repo.commit(manifests("blue", SECRET_VALUE), "Add web")
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 90)
    before = await kube_admin.get(API_VERSION, KIND, "shop", ns)

    async def post(action: str, csrf_js: str, via: Browser = browser) -> Any:
        return await via.async_js(
            "const done = arguments[arguments.length - 1];"
            f"const csrf = {csrf_js};"
            "fetch(arguments[0], {method: 'POST', headers: {'X-CSRF-Token': csrf},"
            " credentials: 'same-origin'})"
            ".then(r => r.json().then(b => done([r.status, b])))",
            f"/apps/{ns}/shop/actions/{action}",
        )

    # A token the API server accepts, without any RBAC: signed in, sees and changes nothing.
    await sign_in(browser, await account_token(kube_admin, ns, "nobody"))
    await browser.get("/")
    assert "No Applications you may see" in await browser.text("#main")
    await browser.screenshot(artifacts / "no-rbac.png")
    await browser.get(f"/apps/{ns}/shop")
    assert "does not exist, or your RBAC" in await browser.text("#main")
    status, body = await post("reconcile", "document.querySelector('input[name=csrf]').value")
    assert status == 403
    assert "may not patch" in body["error"]

    # A user who may act, with a forged CSRF token: refused before anything is done.
    await grant_operator(kube_admin, ns, "alice")
    await sign_in(browser, await account_token(kube_admin, ns, "alice"))
    await browser.get(f"/apps/{ns}/shop")
    status, body = await post("suspend", "'forged-' + Math.random()")
    assert status == 403
    assert "CSRF" in body["error"]
    status, _ = await post("suspend", "''")
    assert status == 403
    after = await kube_admin.get(API_VERSION, KIND, "shop", ns)
    assert not (after["spec"].get("suspend"))
    assert not (before["spec"].get("suspend"))
    assert RECONCILE_ANNOTATION not in (after["metadata"].get("annotations") or {})

    # A read-only UI shows no action and refuses one with a valid CSRF token.
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        read_only = await serve(build(cluster, read_only=True))
        try:
            viewer = Browser(browser.driver, f"http://127.0.0.1:{read_only.port}")
            await sign_in(viewer, await account_token(kube_admin, ns, "alice"))
            await viewer.get(f"/apps/{ns}/shop")
            assert "read-only" in await viewer.text("header")
            assert not await viewer.js("return document.querySelector('.actions') !== null")
            csrf = "document.querySelector('input[name=csrf]').value"
            status, body = await post("reconcile", csrf, viewer)
            assert status == 403
            assert "read-only" in body["error"]
        finally:
            await read_only.stop()

    # The login page is accessible too.
    await browser.call(browser.driver.delete_all_cookies)
    await browser.get("/login")
    await browser.screenshot(artifacts / "login.png")
    await assert_accessible(browser, "the login page")
