"""The controller as a cluster runs it, on the real control plane: with only the rights
``clew install`` grants, replicas that are all ready, and metrics that are not public.

It proves that a controller in a Pod campaigns for its Lease in the Pod's namespace
(``POD_NAMESPACE``) as the Pod (``POD_NAME``); that two ``clew controller --leader-elect``
processes are both ready, and that a webhook sent to the standby gets the commit applied (through
the reconcile-request annotation) though polling would not look for an hour; that an Application
with ``serviceAccountName`` is applied by a controller holding the installed least-privilege RBAC
(impersonating the user alone) and its drift is reverted (watched as that account), while one
whose account lacks rights, or one without an account, fails with a status naming the identity
that was refused; and that secure metrics answer 401 without a token, 403 to an account without
the reader role and 200 to one with it, over HTTPS, while the webhook port serves no metrics.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.installed import (
    install_rbac,
    service_account_token,
    token_kubeconfig,
    uninstall_rbac,
)
from clew.testing.operator import (
    install_crd,
    push_generic,
    ready_at,
    spawn_controller,
    start_controller,
    stop_controller,
)
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

RBAC = "rbac.authorization.k8s.io/v1"


def configmap(name: str, value: str) -> dict[str, str]:
    return {
        f"deploy/{name}.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '{value}'\n"
        )
    }


async def git_secret(admin: Cluster, namespace: str, git: GitHttpServer) -> None:
    """Secret ``git``: the test Git server's credentials, as every Application here names."""
    await admin.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": namespace},
            "stringData": {"username": "clew", "password": git.users["clew"]},
        }
    )


def application(name: str, namespace: str, url: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"repoURL": url, "path": "deploy", "secretRef": {"name": "git"}},
            "interval": "1h",  # only a trigger makes it look at Git again
            "retry": {"initialDelay": "1s", "maxDelay": "2s"},
            **spec,
        },
    }


def failed_with(*parts: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready") or {}
        return ready.get("status") == "False" and all(p in ready.get("message", "") for p in parts)

    return check


def http_status(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the controller's self-signed serving certificate
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:  # the error holds the response: close its socket
            return exc.code, exc.read().decode()


async def ready_within(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    url = f"http://127.0.0.1:{port}/readyz"
    while (await asyncio.to_thread(http_status, url))[0] != 200:
        assert time.monotonic() < deadline, f"port {port} not ready within {seconds}s"
        await asyncio.sleep(0.1)  # polling the probe, as a kubelet does


async def until_allowed(admin: Cluster, user: str, seconds: float = 30) -> None:
    """The authorizer follows RBAC objects through a watch: wait until it has seen a binding."""
    deadline = time.monotonic() + seconds
    while True:
        review = await admin.create(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts", "system:authenticated"],
                    "nonResourceAttributes": {"path": "/metrics", "verb": "get"},
                },
            }
        )
        if review["status"].get("allowed"):
            return
        assert time.monotonic() < deadline, f"{user} not allowed /metrics within {seconds}s"
        await asyncio.sleep(0.2)  # polling the authorizer, with a deadline


async def test_a_standby_is_ready_and_forwards_webhooks(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    secret = "standby-secret"
    args = ("--leader-elect", "--lease-namespace", kube_namespace, "--namespace", kube_namespace)
    a = spawn_controller(
        kube_cluster.admin_kubeconfig, tmp_path / "a", *args, "--identity", "a", secret=secret
    )
    b = spawn_controller(
        kube_cluster.admin_kubeconfig, tmp_path / "b", *args, "--identity", "b", secret=secret
    )
    try:
        lease = await until(
            kube_admin,
            "coordination.k8s.io/v1",
            "Lease",
            "clew-controller",
            kube_namespace,
            lambda lease: bool(lease and lease["spec"].get("holderIdentity") in ("a", "b")),
            30,
        )
        assert lease is not None
        standby = b if lease["spec"]["holderIdentity"] == "a" else a
        for process in (a, b):  # leader or not: a rollout and a drain wait for neither
            await ready_within(process.port, 10)

        first = git_repo.commit(configmap("web", "1"), "one")
        url = git_http.repo_url(git_repo.name)
        await git_secret(kube_admin, kube_namespace, git_http)
        await kube_admin.create(application("app", kube_namespace, url))
        await until(kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(first), 60)

        second = git_repo.commit(configmap("web", "2"), "two")
        answer = await push_generic(standby.port, secret, url)
        assert answer == {"triggered": 1}
        app = await until(
            kube_admin, API_VERSION, KIND, "app", kube_namespace, ready_at(second), 30
        )
        assert app is not None
        requested = app["metadata"]["annotations"][RECONCILE_ANNOTATION]
        assert app["status"]["lastHandledReconcileAt"] == requested
        live = await kube_admin.get("v1", "ConfigMap", "web", kube_namespace)
        assert live["data"] == {"v": "2"}
    finally:
        a.stop()
        b.stop()


async def test_the_lease_lives_in_the_pods_namespace(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    pod = {"POD_NAMESPACE": kube_namespace, "POD_NAME": "clew-controller-7d9f-x2x4q"}
    process = spawn_controller(
        kube_cluster.admin_kubeconfig,
        tmp_path,
        "--leader-elect",
        "--namespace",
        kube_namespace,
        env=pod,
    )
    try:
        lease = await until(
            kube_admin,
            "coordination.k8s.io/v1",
            "Lease",
            "clew-controller",
            kube_namespace,
            lambda lease: bool(lease and lease["spec"].get("holderIdentity")),
            30,
        )
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == pod["POD_NAME"]
    finally:
        process.stop()


async def test_service_account_apply_with_the_installed_rbac(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    ns = kube_namespace
    rbac = await install_rbac(kube_admin, ns)
    for account in ("deployer", "nobody"):
        await kube_admin.create(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": ns},
            }
        )
    await kube_admin.create(
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": "deployer-admin", "namespace": ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}],
        }
    )
    token = await service_account_token(kube_admin, ns)
    kubeconfig = token_kubeconfig(kube_cluster.admin_kubeconfig, token, tmp_path / "sa.kubeconfig")
    sha = git_repo.commit(configmap("web", "1"), "one")
    url = git_http.repo_url(git_repo.name)
    await git_secret(kube_admin, ns, git_http)
    try:
        async with Cluster.from_kubeconfig(kubeconfig) as as_controller:
            running = await start_controller(as_controller, tmp_path / "cache", namespace=ns)
            try:
                await kube_admin.create(
                    application("good", ns, url, serviceAccountName="deployer", wait=False)
                )
                await kube_admin.create(
                    application("bad", ns, url, serviceAccountName="nobody", wait=False)
                )
                await kube_admin.create(application("own", ns, url, wait=False))
                await until(kube_admin, API_VERSION, KIND, "good", ns, ready_at(sha), 60)
                live = await kube_admin.get("v1", "ConfigMap", "web", ns)
                assert live["data"] == {"v": "1"}
                # Drift is watched as the account too (the controller may not list ConfigMaps).
                await kube_admin.patch(
                    "v1", "ConfigMap", "web", {"data": {"v": "edited"}}, namespace=ns
                )
                await until(
                    kube_admin,
                    "v1",
                    "ConfigMap",
                    "web",
                    ns,
                    lambda cm: bool(cm and cm["data"] == {"v": "1"}),
                    30,
                )
                await until(
                    kube_admin,
                    API_VERSION,
                    KIND,
                    "bad",
                    ns,
                    failed_with("forbidden", f"system:serviceaccount:{ns}:nobody"),
                    60,
                )
                # Without an account it runs as the controller, which may apply nothing itself.
                await until(
                    kube_admin,
                    API_VERSION,
                    KIND,
                    "own",
                    ns,
                    failed_with("forbidden", f"system:serviceaccount:{ns}:clew-controller"),
                    60,
                )
            finally:
                await stop_controller(running)
    finally:
        await uninstall_rbac(kube_admin, rbac)


async def test_secure_metrics_need_a_token_with_the_reader_role(
    kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    await install_crd(kube_admin, kube_cluster.server)
    ns = kube_namespace
    rbac = await install_rbac(kube_admin, ns, metrics_secure=True)
    reader_binding = {
        "apiVersion": RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"scraper-{ns}"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"clew-metrics-reader-{ns}",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "scraper", "namespace": ns}],
    }
    for account in ("scraper", "nobody"):
        await kube_admin.create(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": ns},
            }
        )
    await kube_admin.create(reader_binding)
    await until_allowed(kube_admin, f"system:serviceaccount:{ns}:scraper")
    kubeconfig = token_kubeconfig(
        kube_cluster.admin_kubeconfig,
        await service_account_token(kube_admin, ns),
        tmp_path / "sa.kubeconfig",
    )
    scraper = await service_account_token(kube_admin, ns, "scraper")
    nobody = await service_account_token(kube_admin, ns, "nobody")
    try:
        async with Cluster.from_kubeconfig(kubeconfig) as as_controller:
            running = await start_controller(
                as_controller, tmp_path / "cache", namespace=ns, metrics_secure=True
            )
            try:
                server = running.controller.metrics_server
                assert server is not None
                assert server.url.startswith("https://127.0.0.1:")
                metrics = f"{server.url}/metrics"
                assert (await asyncio.to_thread(http_status, metrics))[0] == 401
                assert (await asyncio.to_thread(http_status, metrics, "not-a-token"))[0] == 401
                assert (await asyncio.to_thread(http_status, metrics, nobody))[0] == 403
                status, body = await asyncio.to_thread(http_status, metrics, scraper)
                assert status == 200
                assert "clew_leader" in body
                public = f"http://127.0.0.1:{running.port}/metrics"
                assert (await asyncio.to_thread(http_status, public, scraper))[0] == 404
            finally:
                await stop_controller(running)
    finally:
        await uninstall_rbac(kube_admin, [*rbac, reader_binding])
