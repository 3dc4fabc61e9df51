"""One controller, two real control planes: Applications on plane a deploy to plane b through a
kubeconfig Secret (``destination.kubeConfig.secretRef``, docs/multi-cluster.md).

It proves that an Application naming plane b's kubeconfig Secret applies its objects to b and
not to a, next to an Application applying to a; that with b's API server stopped, a's
Application still follows a new commit while b's says ``ClusterUnreachable``, naming b's
server and Secret and never the credentials, with its attempts failing within seconds; that
after b's API server is back, b's Application converges to the new commit; that `clew get
clusters` shows b's Secret, server and Application, Unreachable then Reachable; that deleting it
with ``prune`` removes its objects from b only, leaving a's Application's objects; and that a
kubeconfig Secret using a file path on the controller's disk is refused (``ClusterConfigInvalid``);
that Applications naming one Secret share one client, replaced when the Secret changes and
closed when they are gone; and that ``serviceAccountName`` is impersonated on the destination
(an account that exists only on b may write what its Role there allows, and is refused the rest);
that an object changed by hand on b is reverted within seconds (selfHeal: drift informers run on b,
through the Application's client there), and that those informers are let go, as
``clew_drift_informers{cluster}`` shows, once the last Application on b is deleted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.cli.main import _app
from clew.cluster import Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.controlplane import ControlPlane
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, git_credentials, ready_at
from clew.testing.processes import stop_pid
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

from .test_operator import application, configmap, reason_is

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plane_b() -> Iterator[ControlPlane]:
    """A second control plane, its own ports and data, for this module's tests."""
    plane = ControlPlane()
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


def kubeconfig_secret(name: str, namespace: str, text: str, key: str = "value") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(text.encode()).decode()},
    }


def remote_app(name: str, ns: str, url: str, path: str, secret: str) -> dict[str, Any]:
    app = application(name, ns, url, source={"path": path})
    app["spec"]["destination"]["kubeConfig"] = {"secretRef": {"name": secret}}
    return app


async def absent(cluster: Cluster, name: str, namespace: str) -> bool:
    try:
        await cluster.get("v1", "ConfigMap", name, namespace)
    except NotFound:
        return True
    return False


async def cli_json(kube: KubeCluster, argv: list[str]) -> dict[str, Any]:
    """A clew command's ``-o json`` as a user runs it against plane a."""
    argv = [*argv, "--kubeconfig", str(kube.admin_kubeconfig)]
    result = await asyncio.to_thread(CliRunner().invoke, _app(), argv)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


async def clusters_json(kube: KubeCluster, ns: str) -> list[dict[str, Any]]:
    """``clew get clusters -o json`` as a user runs it against plane a."""
    return list((await cli_json(kube, ["get", "clusters", "-o", "json", "-n", ns]))["clusters"])


async def test_two_planes_outage_recovery_and_prune(
    controller: RunningController,
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    plane_b: ControlPlane,
) -> None:
    ns = kube_namespace
    url = git_http.repo_url(git_repo.name)
    first = git_repo.commit(
        {
            "to-a/cm.yaml": configmap("on-a", color="blue"),
            "to-b/cm.yaml": configmap("on-b", color="blue"),
        },
        "blue",
    )
    kubeconfig_text = plane_b.admin_kubeconfig.read_text()
    user = yaml.safe_load(kubeconfig_text)["users"][0]["user"]
    async with Cluster.from_kubeconfig(plane_b.admin_kubeconfig) as b:
        await b.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        await git_credentials(kube_admin, ns, git_http)
        await kube_admin.create(kubeconfig_secret("plane-b", ns, kubeconfig_text))
        await kube_admin.create(application("local", ns, url, source={"path": "to-a"}))
        await kube_admin.create(remote_app("remote", ns, url, "to-b", "plane-b"))
        await until(kube_admin, API_VERSION, KIND, "local", ns, ready_at(first), 60)
        await until(kube_admin, API_VERSION, KIND, "remote", ns, ready_at(first), 60)
        assert (await b.get("v1", "ConfigMap", "on-b", ns))["data"] == {"color": "blue"}
        assert await absent(kube_admin, "on-b", ns)  # b's objects went to b only
        assert await absent(b, "on-a", ns)
        # `clew tree app` on plane a shows b's object, from the status the controller wrote.
        tree = await cli_json(kube_cluster, ["tree", "app", "remote", "-n", ns, "-o", "json"])
        assert tree["source"] == "status"
        assert [(o["kind"], o["name"], o["health"], o["sync"]) for o in tree["objects"]] == [
            ("ConfigMap", "on-b", "Current", "Synced")
        ]
        local = await cli_json(kube_cluster, ["tree", "app", "local", "-n", ns, "-o", "json"])
        assert (local["source"], [o["name"] for o in local["objects"]]) == ("live", ["on-a"])

        # b's API server stops: a's Application follows a new commit, b's says why it waits.
        stop_pid(plane_b.components["kube-apiserver"].pid)
        second = git_repo.commit(
            {
                "to-a/cm.yaml": configmap("on-a", color="green"),
                "to-b/cm.yaml": configmap("on-b", color="green"),
            },
            "green",
        )
        pushed = time.monotonic()
        await controller.push_hook(url)
        await until(kube_admin, API_VERSION, KIND, "local", ns, ready_at(second), 60)
        waiting = await until(
            kube_admin, API_VERSION, KIND, "remote", ns, reason_is("ClusterUnreachable"), 60
        )
        assert time.monotonic() - pushed < 30  # failed fast, not after a long network wait
        message = str((condition(waiting, "Ready") or {}).get("message"))
        assert plane_b.server in message, message
        assert "plane-b" in message, message
        seen = json.dumps(waiting)
        assert user["client-key-data"][:40] not in seen
        assert (await kube_admin.get("v1", "ConfigMap", "on-a", ns))["data"] == {"color": "green"}
        [row] = await clusters_json(kube_cluster, ns)
        assert (row["secret"], row["server"], row["applications"], row["health"]) == (
            "plane-b",
            plane_b.server,
            ["remote"],
            "Unreachable",
        )
        assert user["client-key-data"][:40] not in json.dumps(row)

        # b comes back: its Application converges (per-cluster backoff, then a retry).
        plane_b.restart("kube-apiserver")
        await until(kube_admin, API_VERSION, KIND, "remote", ns, ready_at(second), 180)
        assert (await b.get("v1", "ConfigMap", "on-b", ns))["data"] == {"color": "green"}
        assert [r["health"] for r in await clusters_json(kube_cluster, ns)] == ["Reachable"]

        # Deleting it with prune (the default) removes its objects from b, and only those.
        await kube_admin.delete(API_VERSION, KIND, "remote", ns)
        await until(kube_admin, API_VERSION, KIND, "remote", ns, lambda obj: obj is None, 60)
        assert await absent(b, "on-b", ns)
        assert (await kube_admin.get("v1", "ConfigMap", "on-a", ns))["data"] == {"color": "green"}
        await b.delete("v1", "Namespace", ns)


async def test_a_kubeconfig_reading_the_controllers_files_is_refused(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    url = git_http.repo_url(git_repo.name)
    git_repo.commit({"to-b/cm.yaml": configmap("on-b", color="blue")}, "blue")
    sneaky = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"tokenFile": "/var/run/secrets/token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    await git_credentials(kube_admin, ns, git_http)
    await kube_admin.create(kubeconfig_secret("sneaky", ns, yaml.safe_dump(sneaky)))
    refused = remote_app("remote", ns, url, "to-b", "sneaky")
    refused["spec"]["prune"] = False  # nothing of it to uninstall: it lets go when deleted
    await kube_admin.create(refused)
    app = await until(
        kube_admin, API_VERSION, KIND, "remote", ns, reason_is("ClusterConfigInvalid"), 60
    )
    message = str((condition(app, "Ready") or {}).get("message"))
    assert "tokenFile" in message, message
    assert "Secret sneaky" in message.replace(f"{ns}/", ""), message


async def test_one_client_per_secret_version_closed_when_unused(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    plane_b: ControlPlane,
) -> None:
    ns = kube_namespace
    url = git_http.repo_url(git_repo.name)
    clients = controller.controller.clients
    files = {f"{name}/cm.yaml": configmap(f"cm-{name}", color="blue") for name in ("x", "y")}
    first = git_repo.commit(files, "blue")
    async with Cluster.from_kubeconfig(plane_b.admin_kubeconfig) as b:
        await b.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        await git_credentials(kube_admin, ns, git_http)
        secret = await kube_admin.create(
            kubeconfig_secret("b", ns, plane_b.admin_kubeconfig.read_text())
        )
        for name in ("x", "y"):
            await kube_admin.create(remote_app(name, ns, url, name, "b"))
        for name in ("x", "y"):
            await until(kube_admin, API_VERSION, KIND, name, ns, ready_at(first), 60)
        meta = secret["metadata"]
        assert clients.connected().get((meta["uid"], meta["resourceVersion"])) == 2

        # A changed Secret: the next attempts use a new client, and the old one is closed.
        changed = await kube_admin.patch(
            "v1", "Secret", "b", {"metadata": {"labels": {"rotated": "yes"}}}, namespace=ns
        )
        second = git_repo.commit(
            {f"{name}/cm.yaml": configmap(f"cm-{name}", color="green") for name in ("x", "y")},
            "green",
        )
        await controller.push_hook(url)
        for name in ("x", "y"):
            await until(kube_admin, API_VERSION, KIND, name, ns, ready_at(second), 60)
        now = (meta["uid"], changed["metadata"]["resourceVersion"])
        assert {k: v for k, v in clients.connected().items() if k[0] == meta["uid"]} == {now: 2}

        for name in ("x", "y"):
            await kube_admin.delete(API_VERSION, KIND, name, ns)
            await until(kube_admin, API_VERSION, KIND, name, ns, lambda obj: obj is None, 60)
        assert not [k for k in clients.connected() if k[0] == meta["uid"]]
        assert await absent(b, "cm-x", ns)
        await b.delete("v1", "Namespace", ns)


async def test_impersonation_applies_on_the_destination_cluster(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    plane_b: ControlPlane,
) -> None:
    ns = kube_namespace
    url = git_http.repo_url(git_repo.name)
    secret_yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n"
    first = git_repo.commit(
        {"ok/cm.yaml": configmap("allowed", color="blue"), "no/secret.yaml": secret_yaml}, "b"
    )
    rbac = "rbac.authorization.k8s.io/v1"
    async with Cluster.from_kubeconfig(plane_b.admin_kubeconfig) as b:
        await b.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        # The account exists on b only, and may write ConfigMaps only.
        for obj in (
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer"}},
            {
                "apiVersion": rbac,
                "kind": "Role",
                "metadata": {"name": "configmaps"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
            },
            {
                "apiVersion": rbac,
                "kind": "RoleBinding",
                "metadata": {"name": "deployer"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "configmaps",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}],
            },
        ):
            await b.create(obj, namespace=ns)
        await git_credentials(kube_admin, ns, git_http)
        await kube_admin.create(kubeconfig_secret("b", ns, plane_b.admin_kubeconfig.read_text()))
        for name, path in (("ok", "ok"), ("no", "no")):
            app = remote_app(name, ns, url, path, "b")
            app["spec"]["serviceAccountName"] = "deployer"
            await kube_admin.create(app)
        await until(kube_admin, API_VERSION, KIND, "ok", ns, ready_at(first), 60)
        assert (await b.get("v1", "ConfigMap", "allowed", ns))["data"] == {"color": "blue"}
        refused = await until(kube_admin, API_VERSION, KIND, "no", ns, reason_is("ApplyFailed"), 60)
        message = str((condition(refused, "Ready") or {}).get("message"))
        assert "forbidden" in message.lower(), message
        assert f"system:serviceaccount:{ns}:deployer" in message, message
        with pytest.raises(NotFound):
            await b.get("v1", "Secret", "s", ns)
        for name in ("ok", "no"):  # nothing of this test left for the next one's controller
            await kube_admin.delete(API_VERSION, KIND, name, ns)
            await until(kube_admin, API_VERSION, KIND, name, ns, lambda obj: obj is None, 60)
        await b.delete("v1", "Namespace", ns)


async def test_drift_on_the_destination_is_reverted_and_its_informers_let_go(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    plane_b: ControlPlane,
) -> None:
    ns = kube_namespace
    url = git_http.repo_url(git_repo.name)
    registry = controller.controller.metrics.registry

    def informers_on_b() -> float | None:
        labels = {"cluster": plane_b.server.rstrip("/")}
        return registry.get_sample_value("clew_drift_informers", labels)

    first = git_repo.commit({"d/cm.yaml": configmap("drifty", color="blue")}, "blue")
    async with Cluster.from_kubeconfig(plane_b.admin_kubeconfig) as b:
        await b.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        await git_credentials(kube_admin, ns, git_http)
        await kube_admin.create(kubeconfig_secret("b", ns, plane_b.admin_kubeconfig.read_text()))
        healed = remote_app("healed", ns, url, "d", "b")
        healed["spec"]["selfHeal"] = True
        await kube_admin.create(healed)
        await until(kube_admin, API_VERSION, KIND, "healed", ns, ready_at(first), 60)
        assert informers_on_b() == 1  # ConfigMaps, on b

        # A hand edit on b: the informer on b sees it and self-heal reverts it there.
        await b.patch("v1", "ConfigMap", "drifty", {"data": {"color": "red"}}, namespace=ns)
        edited = time.monotonic()
        blue = {"color": "blue"}
        await until(b, "v1", "ConfigMap", "drifty", ns, lambda o: (o or {}).get("data") == blue, 20)
        assert time.monotonic() - edited < 10  # by the watch, not by the 10m interval
        assert await absent(kube_admin, "drifty", ns)  # reverted on b, nothing written on a

        # The last Application on b goes: no drift informer is left on b.
        await kube_admin.delete(API_VERSION, KIND, "healed", ns)
        await until(kube_admin, API_VERSION, KIND, "healed", ns, lambda obj: obj is None, 60)
        assert informers_on_b() is None
        assert plane_b.server.rstrip("/") not in controller.controller.drift_informers.counts()
        await b.delete("v1", "Namespace", ns)
