"""The audit trail on the real controller, control plane and Git HTTP server: three commits with
changes (the last one prunes) leave three records, oldest first, in the Application's
``clew-audit-<name>`` ConfigMap — labelled, owned by the Application, never holding a Secret's
value; ``clew audit app NAME -o json`` returns them with commit subjects, authors and the objects
created, configured and deleted, ``--since`` after the first sync leaves it out, ``-n NS -o csv``
has one line per changed object; a no-op reconcile adds nothing; deleting the Application lets
the garbage collector delete its trail; and a trail the API server refuses to write is logged
while the sync still succeeds."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from typing import Any

import pytest
import typer
import yaml
from click.testing import Result
from typer.testing import CliRunner

from clew.cli import audit as audit_cli
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION
from clew.report import audit
from clew.report.notices import SyncNotice
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, ready_at
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until

pytestmark = pytest.mark.integration

SECRET_VALUE = "s3cr3t-do-not-record"  # must never reach the audit trail
ADA = ("Ada Lovelace", "ada@example.com")
GRACE = ("Grace Hopper", "grace@example.com")
CHANGES = {"created", "configured", "deleted"}


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


def secret(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
    )


async def create_app(cluster: Cluster, ns: str, server: GitHttpServer, repo: Repo) -> None:
    await cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": ns},
            "data": {
                "username": base64.b64encode(HTTP_USER.encode()).decode(),
                "password": base64.b64encode(server.users[HTTP_USER].encode()).decode(),
            },
        }
    )
    await cluster.create(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "shop", "namespace": ns},
            "spec": {
                "source": {
                    "repoURL": server.repo_url(repo.name),
                    "ref": "main",
                    "path": "deploy",
                    "secretRef": {"name": "git"},
                },
                "destination": {"namespace": ns},
                "interval": "10m",
                "prune": True,
            },
        }
    )


async def request_reconcile(cluster: Cluster, ns: str, stamp: str) -> None:
    patch = {"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}}
    await cluster.patch(API_VERSION, KIND, "shop", patch, namespace=ns)


def records_of(cm: dict[str, Any] | None) -> list[dict[str, Any]]:
    return audit.AuditTrail.of(cm).records if cm else []


class Notices:
    """An observer on the in-process controller. The reconciler tells observers after it has
    written (or skipped) the audit record, so a notice means the trail is final for that sync."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[SyncNotice] = asyncio.Queue()

    async def notify(self, notice: SyncNotice) -> None:
        await self.queue.put(notice)

    async def next_for(
        self, namespace: str, name: str, *, changed: bool | None = None
    ) -> SyncNotice:
        """The next notice about ``namespace/name`` (with ``changed``: of a sync that did, or
        did not, change objects)."""
        async with asyncio.timeout(30):
            while True:
                notice = await self.queue.get()
                if (notice.namespace, notice.name) != (namespace, name):
                    continue
                if changed is None or changed == bool(set(notice.counts) & CHANGES):
                    return notice


class Clew:
    """``clew audit`` in-process, registered on a root app as main.py does."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.root = typer.Typer()
        self.root.command("version")(lambda: None)
        self.root.add_typer(audit_cli.app, name="audit")
        self.kubeconfig = str(cluster.admin_kubeconfig)

    async def __call__(self, *args: str) -> Result:
        argv = ["audit", *args, "--kubeconfig", self.kubeconfig]
        # The CLI runs its own event loop (asyncio.run), so it gets a thread of its own.
        result = await asyncio.to_thread(CliRunner().invoke, self.root, argv)
        assert result.exit_code == 0, result.output
        return result


@pytest.mark.timeout(180)  # the garbage collector's discovery period, see the end
async def test_audit_trail_of_three_syncs_exported_and_collected_with_the_application(
    controller: RunningController,
    kube_admin: Cluster,
    kube_cluster: KubeCluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns, clew = kube_namespace, Clew(kube_cluster)
    name = audit.configmap_name("shop")
    first = git_repo.commit(
        {
            "deploy/a.yaml": configmap("a", k="1"),
            "deploy/b.yaml": configmap("b", k="1"),
            "deploy/db.yaml": secret("db", password=SECRET_VALUE),
        },
        "Add a, b and the db password",
        author=ADA,
    )
    await create_app(kube_admin, ns, git_http, git_repo)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 60)
    url = git_http.repo_url(git_repo.name)

    second = git_repo.commit({"deploy/a.yaml": configmap("a", k="2")}, "Change a", author=GRACE)
    await controller.push_hook(url)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(second), 30)

    third = git_repo.commit(
        {"deploy/b.yaml": None, "deploy/c.yaml": configmap("c", k="1")},
        "Replace b with c",
        author=ADA,
    )
    # `clew reconcile`'s annotation: a second webhook within the same second would carry the
    # same signature and be refused as a replay.
    await request_reconcile(kube_admin, ns, "2030-01-01T00:00:00.000000Z")
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(third), 30)
    cm = await until(kube_admin, "v1", "ConfigMap", name, ns, lambda c: len(records_of(c)) >= 3, 10)
    assert cm is not None

    # The ConfigMap: labelled, owned by the Application, and no Secret value anywhere in it.
    app = await kube_admin.get(API_VERSION, KIND, "shop", ns)
    meta = cm["metadata"]
    assert meta["labels"][audit.AUDIT_LABEL] == "true"
    assert meta["labels"][audit.APPLICATION_LABEL] == "shop"
    [owner] = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "Application",
        "shop",
        app["metadata"]["uid"],
    )
    assert SECRET_VALUE not in json.dumps(records_of(cm))

    # `clew audit app shop -o json`: the three syncs, oldest first.
    result = await clew("app", "shop", "-n", ns, "-o", "json")
    records = json.loads(result.stdout)
    assert [(r["revision"], r["subject"], r["author"], r["result"]) for r in records] == [
        (first, "Add a, b and the db password", "Ada Lovelace <ada@example.com>", "Succeeded"),
        (second, "Change a", "Grace Hopper <grace@example.com>", "Succeeded"),
        (third, "Replace b with c", "Ada Lovelace <ada@example.com>", "Succeeded"),
    ]
    assert all((r["namespace"], r["application"]) == (ns, "shop") for r in records)
    changed = [sorted((o["action"], o["object"]) for o in r["objects"]) for r in records]
    assert changed == [
        [
            ("created", f"ConfigMap/{ns}/a"),
            ("created", f"ConfigMap/{ns}/b"),
            ("created", f"Secret/{ns}/db"),
        ],
        [("configured", f"ConfigMap/{ns}/a")],
        [("created", f"ConfigMap/{ns}/c"), ("deleted", f"ConfigMap/{ns}/b")],
    ]
    assert records[2]["counts"]["deleted"] == 1
    assert SECRET_VALUE not in result.stdout

    # --since just after the first sync leaves it out (times carry milliseconds).
    result = await clew("app", "shop", "-n", ns, "-o", "json", "--since", records[1]["time"])
    assert [r["revision"] for r in json.loads(result.stdout)] == [second, third]
    # Options given before `app` apply to it too.
    result = await clew("-n", ns, "-o", "json", "--until", records[1]["time"], "app", "shop")
    assert [r["revision"] for r in json.loads(result.stdout)] == [first]

    # Every namespace: this Application's syncs among whatever else the cluster holds.
    result = await clew("-A", "-o", "json")
    mine = [r["revision"] for r in json.loads(result.stdout) if r["namespace"] == ns]
    assert mine == [first, second, third]

    # Every Application in the namespace, as CSV: one line per changed object.
    result = await clew("-n", ns, "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (r["revision"], r["action"], r["object"]) for r in rows if r["action"] == "deleted"
    ] == [(third, "deleted", f"ConfigMap/{ns}/b")]
    assert len(rows) == 6

    # A reconcile that changes nothing adds no record.
    notices = Notices()
    controller.controller.reconciler.observers.append(notices)
    await request_reconcile(kube_admin, ns, "2030-01-01T00:00:01.000000Z")
    notice = await notices.next_for(ns, "shop", changed=False)  # not the third sync's, if late
    assert (notice.revision, notice.reason) == (third, "Succeeded")
    assert len(records_of(await kube_admin.get("v1", "ConfigMap", name, ns))) == 3

    # Deleting the Application lets the garbage collector delete its trail. The collector
    # looks for new resource types every 30 s, so soon after the CRD was installed it may
    # take that long to know Applications at all.
    await kube_admin.delete(API_VERSION, KIND, "shop", ns)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, lambda a: a is None, 30)
    await until(kube_admin, "v1", "ConfigMap", name, ns, lambda c: c is None, 90)


async def test_a_failing_audit_write_does_not_fail_the_sync(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ns = kube_namespace
    name = audit.configmap_name("shop")
    # An immutable ConfigMap in the trail's place: the API server refuses every write to it.
    await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns},
            "data": {"note": "not clew's"},
            "immutable": True,
        }
    )
    sha = git_repo.commit({"deploy/a.yaml": configmap("a", k="1")}, "Add a", author=ADA)
    notices = Notices()
    controller.controller.reconciler.observers.append(notices)
    await create_app(kube_admin, ns, git_http, git_repo)
    notice = await notices.next_for(ns, "shop")  # after the audit write was tried
    assert (notice.revision, notice.reason) == (sha, "Succeeded")
    assert f"audit record for {ns}/shop not written" in caplog.text
    assert "immutable" in caplog.text
    app = await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 30)
    assert app is not None
    assert app["status"]["history"][0]["subject"] == "Add a"
    cm = await kube_admin.get("v1", "ConfigMap", name, ns)
    assert (cm["data"], cm.get("binaryData")) == ({"note": "not clew's"}, None)
