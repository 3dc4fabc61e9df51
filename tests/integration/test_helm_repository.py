"""Charts from a real Helm repository (packaged by the real `helm package`, indexed by `helm repo
index`, served over HTTPS with Basic auth) end to end on the real control plane, through
`clew apply` and through the operator:

- a version range picks the highest matching chart version, its archive verified by digest;
  `clew render` prints the chart's objects;
- a chart's dependency that is not vendored is downloaded from the repository;
- the operator renders with releaseName, valuesFrom (ConfigMap, Secret) and inline values, and
  downloads a Git chart's dependency from a repository of render.helm.repositories;
- wrong credentials, an untrusted certificate and a missing version fail before anything
  changes: nothing applied, nothing pruned, no password in the output;
- Applications on one repository download its index once per interval (shared through the
  disk by other processes), and again once the interval has passed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.source.helmrepo import ChartSource, HelmRepoCache
from clew.source.http import HttpAuth
from clew.testing import tools
from clew.testing.artifact_fixtures import HELM_USER
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.helmrepo import HelmRepoServer
from clew.testing.objects import user_configmaps
from clew.testing.operator import (
    RunningController,
    secret,
    start_controller,
    status_is,
    stop_controller,
)
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import until

pytestmark = pytest.mark.integration

CM = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n"
    "data:\n  version: {{ .Chart.Version | quote }}\n"
    "  color: {{ .Values.color | quote }}\n  size: {{ .Values.size | quote }}\n"
    '  token: {{ .Values.token | default "none" | quote }}\n'
)


def chart_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def publish(repo: HelmRepoServer, name: str, *versions: str) -> None:
    for version in versions:
        repo.add_chart(
            name, version, templates={"cm.yaml": CM}, values={"color": "blue", "size": "s"}
        )


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # CLEW_CACHE_DIR points away from the tools cache: name the built helm first.
    monkeypatch.setenv("CLEW_HELM", str(tools.binary("helm")))
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


async def run(args: list[str], env: dict[str, str]) -> tuple[int, str, dict[str, Any] | None]:
    result = await asyncio.to_thread(CliRunner(env=env).invoke, app, args)
    out = result.stdout.strip()
    return result.exit_code, result.output, json.loads(out) if out.startswith("{") else None


def apply_args(cluster: KubeCluster, ns: str, repo: HelmRepoServer, *extra: str) -> list[str]:
    return [
        "apply",
        "--helm-repo",
        repo.url,
        "--ca-file",
        str(repo.ca_file),
        "--username",
        HELM_USER,
        "--name",
        "charts",
        "-n",
        ns,
        "--prune",
        "-o",
        "json",
        "--kubeconfig",
        str(cluster.restricted_kubeconfig),
        *extra,
    ]


async def test_cli_applies_the_highest_version_in_range_and_failures_change_nothing(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    helm_repo: HelmRepoServer,
    cache_env: Path,
) -> None:
    ns, name = kube_namespace, chart_name("web")
    publish(helm_repo, name, "1.0.0", "1.4.2", "2.0.0")
    env = {"CLEW_GIT_PASSWORD": helm_repo.users[HELM_USER]}
    code, output, result = await run(
        apply_args(kube_cluster, ns, helm_repo, "--chart", name, "--version", "^1.0"), env
    )
    assert code == 0, output
    assert result is not None
    assert result["revision"].startswith("1.4.2@sha256:")
    assert (await user_configmaps(kube_admin, ns)) == {
        f"{name}-{name}": {"version": "1.4.2", "color": "blue", "size": "s", "token": "none"}
    }
    before = await user_configmaps(kube_admin, ns)
    render = ["render", "--helm-repo", helm_repo.url, "--chart", name, "--version", "1.0.0"]
    render += ["--ca-file", str(helm_repo.ca_file), "--username", HELM_USER]
    code, output, _ = await run(render, env)
    assert code == 0, output
    assert "  version: 1.0.0\n" in output
    assert "# Source: templates/cm.yaml" in output

    wrong = "not-the-password-" + secrets.token_hex(8)
    code, output, result = await run(
        apply_args(kube_cluster, ns, helm_repo, "--chart", name), {"CLEW_GIT_PASSWORD": wrong}
    )
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "HTTP 401" in result["error"]
    assert wrong not in output

    code, output, result = await run(
        apply_args(kube_cluster, ns, helm_repo, "--chart", name, "--version", "3.x"), env
    )
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "no version" in result["error"]
    assert "2.0.0" in result["error"]

    args = apply_args(kube_cluster, ns, helm_repo, "--chart", name)
    untrusted = args[: args.index("--ca-file")] + args[args.index("--ca-file") + 2 :]
    code, output, result = await run(untrusted, env)
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "certificate" in result["error"]
    assert await user_configmaps(kube_admin, ns) == before  # nothing applied, nothing pruned


async def test_cli_downloads_a_dependency_that_is_not_vendored(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    helm_repo: HelmRepoServer,
    cache_env: Path,
    tmp_path: Path,
) -> None:
    ns, dep = kube_namespace, chart_name("lib")
    publish(helm_repo, dep, "0.9.0", "1.1.0")
    chart = tmp_path / "umbrella"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "umbrella",
                "version": "0.1.0",
                "dependencies": [{"name": dep, "version": "~1.1", "repository": helm_repo.url}],
            }
        )
    )
    (chart / "values.yaml").write_text(yaml.safe_dump({dep: {"color": "red"}}))
    env = {"CLEW_GIT_PASSWORD": helm_repo.users[HELM_USER]}
    code, output, _ = await run([*apply_args(kube_cluster, ns, helm_repo), str(chart)], env)
    assert code == 0, output
    assert (await user_configmaps(kube_admin, ns))[f"umbrella-{dep}"]["version"] == "1.1.0"
    assert (await user_configmaps(kube_admin, ns))[f"umbrella-{dep}"]["color"] == "red"
    assert not (chart / "charts").exists()  # the user's directory is left as it was


# -- the operator ---------------------------------------------------------------------------------


@pytest.fixture
async def helm_controller(crd: None, kube_cluster: KubeCluster, tmp_path: Path) -> Any:
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        running = await start_controller(
            cluster, tmp_path / "cache", helm_binary=str(tools.binary("helm"))
        )
        try:
            yield running
        finally:
            await stop_controller(running)


def application(
    name: str, ns: str, repo: HelmRepoServer, chart: str, version: str
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "source": {
                "repoURL": repo.url,
                "chart": chart,
                "version": version,
                "secretRef": {"name": "charts"},
            },
            "render": {
                "helm": {
                    "releaseName": "rel",
                    "valuesFrom": [
                        {"kind": "ConfigMap", "name": "overrides"},
                        {"kind": "Secret", "name": "secret-values", "valuesKey": "v.yaml"},
                    ],
                    "values": {"size": "xl"},
                }
            },
            "interval": "10m",
            "prune": True,
            "timeout": "60s",
        },
    }


async def test_operator_renders_a_repository_chart_with_values_from(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    helm_repo: HelmRepoServer,
) -> None:
    ns, name = kube_namespace, chart_name("shop")
    publish(helm_repo, name, "1.0.0", "1.2.0")
    password = helm_repo.users[HELM_USER]
    await secret(
        kube_admin,
        ns,
        "charts",
        {"username": HELM_USER, "password": password, "ca.crt": helm_repo.ca_pem},
    )
    await secret(kube_admin, ns, "secret-values", {"v.yaml": "token: s3cr3t\n"})
    await kube_admin.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "overrides", "namespace": ns},
            "data": {"values.yaml": "color: green\nsize: m\n"},
        }
    )
    await kube_admin.create(application("shop", ns, helm_repo, name, "1.x"))
    await until(
        kube_admin, API_VERSION, KIND, "shop", ns, status_is("Succeeded", "1.2.0@sha256:"), 60
    )
    data = (await kube_admin.get("v1", "ConfigMap", f"rel-{name}", ns))["data"]
    # values.yaml < valuesFrom ConfigMap < valuesFrom Secret < inline values.
    assert data == {"version": "1.2.0", "color": "green", "size": "xl", "token": "s3cr3t"}

    # A version that does not exist: FetchFailed, and the chart's objects stay.
    await kube_admin.patch(
        API_VERSION, KIND, "shop", {"spec": {"source": {"version": "7.0.0"}}}, namespace=ns
    )
    await until(
        kube_admin,
        API_VERSION,
        KIND,
        "shop",
        ns,
        status_is("FetchFailed", "1.2.0@", "no version"),
        60,
    )
    assert (await kube_admin.get("v1", "ConfigMap", f"rel-{name}", ns))["data"] == data

    # Wrong credentials: FetchFailed, the password nowhere in the status, nothing pruned.
    wrong = "wrong-" + secrets.token_hex(8)
    await secret(
        kube_admin,
        ns,
        "charts",
        {"username": HELM_USER, "password": wrong, "ca.crt": helm_repo.ca_pem},
    )
    await kube_admin.patch(
        API_VERSION, KIND, "shop", {"spec": {"source": {"version": "1.0.0"}}}, namespace=ns
    )
    await until(
        kube_admin,
        API_VERSION,
        KIND,
        "shop",
        ns,
        status_is("FetchFailed", "1.2.0@", "HTTP 401"),
        60,
    )
    app_obj = await kube_admin.get(API_VERSION, KIND, "shop", ns)
    assert wrong not in json.dumps(app_obj)
    assert (await kube_admin.get("v1", "ConfigMap", f"rel-{name}", ns))["data"] == data


async def test_one_index_download_per_interval_for_many_applications(
    helm_repo: HelmRepoServer,
    tmp_path: Path,
) -> None:
    first, second = chart_name("one"), chart_name("two")
    publish(helm_repo, first, "1.0.0")
    publish(helm_repo, second, "1.0.0")
    auth = HttpAuth(HELM_USER, helm_repo.users[HELM_USER], ca_pem=helm_repo.ca_pem)
    charts = HelmRepoCache(tmp_path / "helm", interval=600)
    before = helm_repo.count("/index.yaml")
    await asyncio.gather(
        *(charts.fetch(ChartSource(helm_repo.url, c, "1.0.0", auth)) for c in (first, second) * 3)
    )
    assert helm_repo.count("/index.yaml") - before == 1
    # Another process with the same cache directory reads the index from the disk.
    skew = 0.0
    other = HelmRepoCache(tmp_path / "helm", interval=600, clock=lambda: time.time() + skew)
    snapshot = await other.fetch(ChartSource(helm_repo.url, second, "*", auth))
    assert helm_repo.count("/index.yaml") - before == 1
    assert (snapshot.root / "Chart.yaml").is_file()
    # Once the interval has passed, the next fetch downloads it again (and sees a new release).
    publish(helm_repo, second, "1.1.0")
    assert (await other.resolve(ChartSource(helm_repo.url, second, "*", auth))).version == "1.0.0"
    skew = 601.0
    assert (await other.resolve(ChartSource(helm_repo.url, second, "*", auth))).version == "1.1.0"
    assert helm_repo.count("/index.yaml") - before == 2


async def test_operator_downloads_a_git_chart_s_dependency(
    helm_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    helm_repo: HelmRepoServer,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns, dep = kube_namespace, chart_name("base")
    publish(helm_repo, dep, "2.0.0", "2.1.0")
    chart = {
        "apiVersion": "v2",
        "name": "umbrella",
        "version": "0.1.0",
        "dependencies": [{"name": dep, "version": "~2.0", "repository": helm_repo.url}],
    }
    sha = git_repo.commit({"deploy/Chart.yaml": yaml.safe_dump(chart)}, "an umbrella chart")
    password = helm_repo.users[HELM_USER]
    await secret(
        kube_admin,
        ns,
        "charts",
        {"username": HELM_USER, "password": password, "ca.crt": helm_repo.ca_pem},
    )
    await secret(
        kube_admin, ns, "git", {"username": HTTP_USER, "password": git_http.users[HTTP_USER]}
    )
    app_obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "umbrella", "namespace": ns},
        "spec": {
            "source": {
                "repoURL": git_http.repo_url(git_repo.name),
                "path": "deploy",
                "secretRef": {"name": "git"},
            },
            "render": {
                "helm": {"repositories": [{"url": helm_repo.url, "secretRef": {"name": "charts"}}]}
            },
            "interval": "10m",
            "timeout": "60s",
        },
    }
    await kube_admin.create(app_obj)
    await until(kube_admin, API_VERSION, KIND, "umbrella", ns, status_is("Succeeded", sha), 60)
    data = (await kube_admin.get("v1", "ConfigMap", f"umbrella-{dep}", ns))["data"]
    assert data["version"] == "2.0.0"
