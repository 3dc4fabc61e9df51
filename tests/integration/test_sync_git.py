"""`clew apply --repo` end to end: a real Git server over HTTP with authentication and over SSH,
the real control plane. A push is applied; a force-pushed branch applies its new content; wrong
credentials and a missing ref fail before anything changes, without the secret in any output;
--wait reports health; the snapshot cache is set by CLEW_CACHE_DIR."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, GitSshServer, Repo
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


async def run(
    args: list[str], env: dict[str, str] | None = None
) -> tuple[int, str, dict[str, Any] | None]:
    runner = CliRunner(env=env)
    result = await asyncio.to_thread(runner.invoke, app, args)
    out = result.stdout.strip()
    parsed = json.loads(out) if out.startswith("{") else None
    return result.exit_code, result.output, parsed


def base_args(cluster: KubeCluster, namespace: str, url: str, *extra: str) -> list[str]:
    return [
        "apply",
        "--repo",
        url,
        "--path",
        "deploy",
        "--name",
        "app",
        "-n",
        namespace,
        "-o",
        "json",
        "--kubeconfig",
        str(cluster.restricted_kubeconfig),
        *extra,
    ]


async def test_http_push_then_force_push(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    git_http: GitHttpServer,
    git_repo: Repo,
    cache_env: Path,
) -> None:
    first = git_repo.commit({"deploy/a.yaml": configmap("settings", color="blue")}, "blue")
    env = {"CLEW_GIT_PASSWORD": git_http.users[HTTP_USER]}
    args = base_args(
        kube_cluster, kube_namespace, git_http.repo_url(git_repo.name), "--username", HTTP_USER
    )
    code, _, result = await run(args, env)
    assert code == 0, result
    assert result is not None
    assert result["revision"] == first
    live = await kube_admin.get("v1", "ConfigMap", "settings", kube_namespace)
    assert live["data"] == {"color": "blue"}

    second = git_repo.commit({"deploy/a.yaml": configmap("settings", color="green")}, "green")
    code, _, result = await run(args, env)
    assert code == 0
    assert result is not None
    assert result["revision"] == second
    assert result["counts"] == {"configured": 1}

    rewritten = git_repo.orphan_commit(
        {"deploy/a.yaml": configmap("settings", color="red")}, "rewrite"
    )
    git_repo.force_push("main", rewritten)
    code, _, result = await run(args, env)
    assert code == 0
    assert result is not None
    assert result["revision"] == rewritten
    live = await kube_admin.get("v1", "ConfigMap", "settings", kube_namespace)
    assert live["data"] == {"color": "red"}
    assert cached(cache_env, rewritten)


def cached(cache: Path, sha: str) -> bool:
    """The snapshot of ``sha`` is in the cache that CLEW_CACHE_DIR names."""
    return any(cache.rglob(sha))


async def test_wrong_password_and_missing_ref_change_nothing(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    git_http: GitHttpServer,
    git_repo: Repo,
    cache_env: Path,
) -> None:
    git_repo.commit({"deploy/a.yaml": configmap("never", x="1")}, "never applied")
    url = git_http.repo_url(git_repo.name)
    wrong = "not-the-password-0123456789"
    code, output, result = await run(
        base_args(kube_cluster, kube_namespace, url, "--username", HTTP_USER),
        {"CLEW_GIT_PASSWORD": wrong},
    )
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "authentication" in result["error"].lower()
    assert wrong not in output

    env = {"CLEW_GIT_PASSWORD": git_http.users[HTTP_USER]}
    code, output, result = await run(
        base_args(
            kube_cluster, kube_namespace, url, "--username", HTTP_USER, "--ref", "no-such-branch"
        ),
        env,
    )
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "no-such-branch" in result["error"]
    items, _ = await kube_admin.list_objects("v1", "ConfigMap", kube_namespace)
    assert [i["metadata"]["name"] for i in items] == ["kube-root-ca.crt"]


async def test_ssh_with_known_hosts_and_wait(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    git_ssh: GitSshServer,
    git_repo: Repo,
    cache_env: Path,
) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    sha = git_repo.commit({"deploy/web.yaml": yaml.safe_dump(deployment)}, "web")
    args = base_args(
        kube_cluster,
        kube_namespace,
        git_ssh.repo_url(git_repo.name),
        "--ssh-key",
        str(git_ssh.client_key),
        "--known-hosts",
        str(git_ssh.known_hosts),
        "--wait",
        "--timeout",
        "60",
    )
    code, _, result = await run(args)
    assert code == 0, result
    assert result is not None
    assert result["revision"] == sha
    assert result["durations"]["wait"] > 0
