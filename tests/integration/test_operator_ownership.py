"""Two Applications rendering one object, through the operator on the real control plane: the
second is ApplyFailed naming the first's inventory and leaves the object alone; deleting it
deletes nothing of the first. With ``spec.adopt: true`` a third takes the object over (the first's
drift watcher does not take it back), and deleting the first then keeps it, reporting why."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from clew.apply import PART_OF, applyset_id
from clew.cluster import Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


def application(name: str, ns: str, url: str, path: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "source": {"repoURL": url, "ref": "main", "path": path, "secretRef": {"name": "git"}},
            "interval": "10m",
            **spec,
        },
    }


def ready(reason: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        cond = condition(app, "Ready")
        return bool(cond and cond["reason"] == reason)

    return check


async def gone(cluster: Cluster, name: str, ns: str) -> bool:
    try:
        await cluster.get("v1", "ConfigMap", name, ns)
    except NotFound:
        return True
    return False


async def delete_app(cluster: Cluster, name: str, ns: str) -> None:
    await cluster.delete(API_VERSION, KIND, name, ns)
    await until(cluster, API_VERSION, KIND, name, ns, lambda a: a is None, 30)


async def test_two_applications_one_object(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    git_repo.commit(
        {
            "a/shared.yaml": configmap("shared", owner="first"),
            "a/only.yaml": configmap("only-first", k="1"),
            "b/shared.yaml": configmap("shared", owner="second"),
            "b/only.yaml": configmap("only-second", k="1"),
        },
        "two apps, one object",
    )
    await kube_admin.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": ns},
            "stringData": {"username": HTTP_USER, "password": git_http.users[HTTP_USER]},
        }
    )
    url = git_http.repo_url(git_repo.name)
    await kube_admin.create(application("first", ns, url, "a"))
    await until(kube_admin, API_VERSION, KIND, "first", ns, ready("Succeeded"), 60)
    shared = await kube_admin.get("v1", "ConfigMap", "shared", ns)
    first_id = applyset_id(f"clew-{ns}.first", ns)
    assert shared["metadata"]["labels"][PART_OF] == first_id

    # The second: a conflict naming the first; the object untouched, the rest applied.
    await kube_admin.create(application("second", ns, url, "b"))
    app = await until(kube_admin, API_VERSION, KIND, "second", ns, ready("ApplyFailed"), 60)
    message = (condition(app, "Ready") or {})["message"]
    assert f"owned by another inventory ConfigMap {ns}/clew-{ns}.first" in message
    assert "spec.adopt" in message
    await kube_admin.get("v1", "ConfigMap", "only-second", ns)
    live = await kube_admin.get("v1", "ConfigMap", "shared", ns)
    assert live["data"] == {"owner": "first"}
    assert live["metadata"]["uid"] == shared["metadata"]["uid"]

    # Deleting the second deletes its own object and nothing of the first.
    await delete_app(kube_admin, "second", ns)
    assert await gone(kube_admin, "only-second", ns)
    assert (await kube_admin.get("v1", "ConfigMap", "shared", ns))["data"] == {"owner": "first"}
    await kube_admin.get("v1", "ConfigMap", "only-first", ns)

    # A third adopts it on purpose; the first's self-heal must not take it back.
    await kube_admin.create(application("third", ns, url, "b", adopt=True))
    await until(kube_admin, API_VERSION, KIND, "third", ns, ready("Succeeded"), 60)
    third_id = applyset_id(f"clew-{ns}.third", ns)
    await until(
        kube_admin,
        "v1",
        "ConfigMap",
        "shared",
        ns,
        lambda cm: bool(cm and cm["metadata"]["labels"][PART_OF] == third_id),
        10,
    )

    # Deleting the first keeps the object the third owns by now, and says so.
    await delete_app(kube_admin, "first", ns)
    assert await gone(kube_admin, "only-first", ns)
    live = await kube_admin.get("v1", "ConfigMap", "shared", ns)
    assert live["data"] == {"owner": "second"}
    assert live["metadata"]["labels"][PART_OF] == third_id
    events, _ = await kube_admin.list_objects("events.k8s.io/v1", "Event", ns)
    skipped = [e for e in events if e.get("reason") == "PruneSkipped"]
    assert any(
        e["regarding"]["name"] == "first" and f"ConfigMap/{ns}/shared" in e.get("note", "")
        for e in skipped
    ), skipped
