"""Hostile input on the real control plane ends in a clear error and loses nothing: a YAML alias
bomb, an object over the API server's request limit, a Helm chart printing more than the render
limit and a file name that is not UTF-8 each make `clew apply --prune` exit 2 naming the file
(and object), with the cluster unchanged and nothing pruned; an object the server's storage
refuses is a permanent, worded error rather than a retryable 500; in the operator a non-UTF-8
file name or an alias bomb is RenderFailed on the Application, with the last good revision
kept, and the failed reconcile is logged as a warning."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster, RequestTooLarge
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION
from clew.render import MAX_OBJECT_BYTES
from clew.report.logs import JsonFormatter
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def bomb(levels: int = 9) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: lol", "data:"]
    lines.append('  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


async def clew_apply(
    cluster: KubeCluster, namespace: str, directory: Path, *extra: str
) -> tuple[int, Any]:
    """`clew apply DIR --prune -o json` in-process, as the restricted ServiceAccount."""
    argv = ["apply", str(directory), "--name", "app", "--prune", "-o", "json", *extra]
    argv += ["--kubeconfig", str(cluster.restricted_kubeconfig), "-n", namespace]
    result = await asyncio.to_thread(CliRunner().invoke, app, argv)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
async def applied(kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path) -> Path:
    """A directory already applied once: ConfigMap `kept` exists and is in the inventory."""
    (tmp_path / "kept.yaml").write_text(yaml.safe_dump(configmap("kept", v="1")))
    code, result = await clew_apply(kube_cluster, kube_namespace, tmp_path)
    assert (code, result["ok"]) == (0, True), result
    (tmp_path / "kept.yaml").unlink()  # a successful --prune would now delete it
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(configmap("new", v="1")))
    return tmp_path


async def assert_unchanged(cluster: Cluster, namespace: str) -> None:
    """`kept` was not pruned and `new` was not applied."""
    await cluster.get("v1", "ConfigMap", "kept", namespace)
    names = [
        c["metadata"]["name"] for c in (await cluster.list_objects("v1", "ConfigMap", namespace))[0]
    ]
    assert "new" not in names


async def test_alias_bomb_fails_fast_and_changes_nothing(
    applied: Path, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    (applied / "bomb.yaml").write_text(bomb(9))
    code, result = await clew_apply(kube_cluster, kube_namespace, applied)
    assert (code, result["reason"]) == (2, "RenderFailed")
    assert result["error"].startswith("bomb.yaml:9: excessive aliasing: alias *l2")
    await assert_unchanged(kube_admin, kube_namespace)


async def test_object_over_the_request_limit_is_named_before_any_request(
    applied: Path, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    # 9.5 MB: under the 10 MiB file limit, three times the API server's request limit.
    big = configmap("huge", blob="x" * 9_500_000)
    (applied / "huge.yaml").write_text(yaml.safe_dump(big, width=10**8))
    code, result = await clew_apply(kube_cluster, kube_namespace, applied)
    assert (code, result["reason"]) == (2, "RenderFailed")
    assert result["error"].startswith(
        "huge.yaml#1: ConfigMap/huge is 9500"  # 9,500,0xx bytes of JSON
    )
    assert f"over the API server's {MAX_OBJECT_BYTES} byte request limit" in result["error"]
    await assert_unchanged(kube_admin, kube_namespace)


async def test_request_and_storage_limits_are_permanent_errors(
    kube_admin: Cluster, kube_namespace: str
) -> None:
    big = configmap("huge", blob="x" * 9_500_000)
    big["metadata"]["namespace"] = kube_namespace
    with pytest.raises(RequestTooLarge, match="over the API server's 3145728 byte limit"):
        await kube_admin.apply(big)  # once "cannot reach the API server": the server hung up
    # Under the request limit but over what the server may store (etcd's request size): the
    # server's 500 becomes a permanent error that says why.
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{kube_namespace}-too-large"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["get"],
                "resourceNames": [f"name-{i:08d}" for i in range(170_000)],
            }
        ],
    }
    assert len(json.dumps(role)) < MAX_OBJECT_BYTES
    with pytest.raises(RequestTooLarge, match="the object is too large for the API server"):
        await kube_admin.apply(role)


async def test_helm_output_over_the_render_limit_is_cut_off(
    applied: Path, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    chart = applied  # the directory becomes a chart: rendered by helm, not as plain files
    (chart / "new.yaml").unlink()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: loud\nversion: 0.1.0\n")
    (chart / "templates").mkdir()
    (chart / "templates" / "loud.yaml").write_text(  # prints 4 MiB of comments
        '{{- range until 4 }}\n# {{ repeat 1048576 "x" }}\n{{- end }}\n'
    )
    # The default limit (32 MiB) works the same way; a lower one keeps the test cheap.
    code, result = await clew_apply(
        kube_cluster, kube_namespace, chart, "--max-render-bytes", "1Mi"
    )
    assert (code, result["reason"]) == (2, "RenderFailed")
    assert result["error"].startswith(
        f"helm template printed more than {2**20} bytes, the render limit"
    )
    await assert_unchanged(kube_admin, kube_namespace)


async def test_non_utf8_file_name_is_named_escaped(
    applied: Path, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    # "\udcff" is how Python spells the byte 0xff in a str path (surrogateescape).
    (applied / "bad\udcff.yaml").write_text(yaml.safe_dump(configmap("bad")))
    code, result = await clew_apply(kube_cluster, kube_namespace, applied)
    assert (code, result["reason"]) == (2, "RenderFailed")
    assert result["error"].startswith("bad\\xff.yaml: the file name is not UTF-8")
    await assert_unchanged(kube_admin, kube_namespace)


def _application(name: str, namespace: str, url: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {
                "repoURL": url,
                "ref": "main",
                "path": "deploy",
                "secretRef": {"name": secret},
            },
            "destination": {"namespace": namespace},
            "interval": "10m",
        },
    }


async def test_operator_reports_a_non_utf8_file_name_as_render_failed(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ns = kube_namespace
    warned = asyncio.Event()

    def on_record(record: logging.LogRecord) -> bool:
        # The controller is shared: only this Application's failure counts.
        line = json.loads(JsonFormatter().format(record))  # with the reconcile's context
        if line["msg"] == "reconciled: RenderFailed" and ns in str(line.get("application")):
            warned.set()  # the controller logs on this event loop
        return True

    caplog.handler.addFilter(on_record)
    caplog.set_level(logging.INFO, logger="clew.controller")
    await kube_admin.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": ns},
            "data": {
                "username": base64.b64encode(HTTP_USER.encode()).decode(),
                "password": base64.b64encode(git_http.users[HTTP_USER].encode()).decode(),
            },
        }
    )
    good = git_repo.commit({"deploy/kept.yaml": yaml.safe_dump(configmap("kept"))}, "good")
    url = git_http.repo_url(git_repo.name)
    await kube_admin.create(_application("app", ns, url, "git"))

    def ready_at(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready") or {}
        return bool(app and ready.get("status") == "True") and (
            (app or {}).get("status", {}).get("lastAppliedRevision") == good
        )

    await until(kube_admin, API_VERSION, KIND, "app", ns, ready_at, 60)
    # Git stores names as bytes; "\udcff" is how Python spells the byte 0xff in a str path.
    bad = git_repo.commit(
        {"deploy/bad\udcff.yaml": yaml.safe_dump(configmap("bad")), "deploy/kept.yaml": None},
        "a name that is not UTF-8",
    )
    await controller.push_hook(url)

    def render_failed(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready") or {}
        attempted = ((app or {}).get("status") or {}).get("lastAttemptedRevision")
        # Reconciling gone: the attempt ended (while it runs, Ready still holds the last outcome).
        ended = condition(app, "Reconciling") is None
        return ready.get("reason") == "RenderFailed" and attempted == bad and ended

    app = await until(kube_admin, API_VERSION, KIND, "app", ns, render_failed, 30)
    assert app is not None
    message = (condition(app, "Ready") or {})["message"]
    assert "deploy/bad\\xff.yaml: the file name is not UTF-8" in message
    assert app["status"]["lastAppliedRevision"] == good
    await kube_admin.get("v1", "ConfigMap", "kept", ns)  # not pruned
    # The failed reconcile is logged as a warning (a successful one at info); the line comes
    # right after the status write, so wait for it.
    await asyncio.wait_for(warned.wait(), 15)
    levels = {r.getMessage(): r.levelname for r in caplog.records if r.name == "clew.controller"}
    assert levels["reconciled: RenderFailed"] == "WARNING", levels
    assert levels["reconciled: Succeeded"] == "INFO", levels

    # An alias bomb is RenderFailed too, at once, naming the line (the controller once died).
    bombed = git_repo.commit(
        {"deploy/bad\udcff.yaml": None, "deploy/bomb.yaml": bomb(9)}, "billion laughs"
    )
    # As `clew reconcile` asks (a second webhook within the same second would be a replay).
    requested = {"metadata": {"annotations": {RECONCILE_ANNOTATION: str(time.time())}}}
    await kube_admin.patch(API_VERSION, KIND, "app", requested, namespace=ns)
    attempted = f"RenderFailed at {bombed}"

    def bomb_failed(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready") or {}
        status = (app or {}).get("status") or {}
        ended = condition(app, "Reconciling") is None
        return (
            ended and f"{ready.get('reason')} at {status.get('lastAttemptedRevision')}" == attempted
        )

    app = await until(kube_admin, API_VERSION, KIND, "app", ns, bomb_failed, 30)
    message = (condition(app, "Ready") or {})["message"]
    assert message.startswith("deploy/bomb.yaml:9: excessive aliasing: alias *l2"), message
    assert app is not None
    assert app["status"]["lastAppliedRevision"] == good
    await kube_admin.get("v1", "ConfigMap", "kept", ns)  # still not pruned
