"""OCI sources end to end on the real control plane and a real registry (distribution v3 built
from its Go module, htpasswd auth, TLS), through `clew apply` and through the operator:

- `clew push artifact` writes Flux's format (config and layer media types, annotations), and a
  semver range over the tags applies the highest match, a Kustomize tree rendered from it;
- a chart pushed by the real `helm push` is applied from oci:// with a version range, and a
  local chart's oci:// dependency is pulled from the registry;
- an Application reads the registry's credentials from a dockerconfigjson Secret, for an
  artifact and for a chart;
- wrong credentials and a missing tag fail before anything changes: nothing applied, nothing
  pruned, no password in the output or the status.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.source.http import HttpAuth
from clew.source.ociclient import RegistryClient
from clew.testing import tools
from clew.testing.artifact_fixtures import REGISTRY_USER
from clew.testing.helmrepo import package_chart
from clew.testing.objects import user_configmaps
from clew.testing.operator import RunningController, start_controller, status_is, stop_controller
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.registry import Registry
from clew.testing.waiting import until

pytestmark = pytest.mark.integration

KUSTOMIZATION = "resources: [cm.yaml]\nnamePrefix: app-\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  release: {release}\n"
CHART_CM = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-chart\n"
    "data:\n  version: {{ .Chart.Version | quote }}\n"
)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return tools.binary("helm")
    except tools.ToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helm: Path) -> Path:
    monkeypatch.setenv("CLEW_HELM", str(helm))
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


async def run(args: list[str], env: dict[str, str]) -> tuple[int, str, dict[str, Any] | None]:
    result = await asyncio.to_thread(CliRunner(env=env).invoke, app, args)
    out = result.stdout.strip()
    return result.exit_code, result.output, json.loads(out) if out.startswith("{") else None


def login(reg: Registry) -> list[str]:
    return ["--username", REGISTRY_USER, "--ca-file", str(reg.ca_file)]


def password(reg: Registry) -> dict[str, str]:
    return {"CLEW_GIT_PASSWORD": reg.users[REGISTRY_USER]}


async def push_release(reg: Registry, repository: str, tag: str, work: Path) -> str:
    tree = work / tag
    tree.mkdir(parents=True)
    (tree / "kustomization.yaml").write_text(KUSTOMIZATION)
    (tree / "cm.yaml").write_text(CM.format(release=f'"{tag}"'))
    code, output, _ = await run(
        [
            "push",
            "artifact",
            f"{reg.oci(repository)}:{tag}",
            "--path",
            str(tree),
            "--source",
            "https://git.example/app",
            "--revision",
            f"main@sha1:{'a' * 40}",
            *login(reg),
        ],
        password(reg),
    )
    assert code == 0, output
    return output


def apply_args(cluster: KubeCluster, ns: str, *extra: str) -> list[str]:
    return [
        "apply",
        "--name",
        "oci",
        "-n",
        ns,
        "--prune",
        "-o",
        "json",
        "--kubeconfig",
        str(cluster.restricted_kubeconfig),
        *extra,
    ]


async def test_pushed_artifact_is_flux_format_and_applies_by_semver_range(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    oci_registry: Registry,
    cache_env: Path,
    tmp_path: Path,
) -> None:
    ns, repository = kube_namespace, f"team/{unique('app')}"
    for tag in ("1.0.0", "1.3.0", "2.0.0"):
        output = await push_release(oci_registry, repository, tag, tmp_path)
    assert f"{oci_registry.oci(repository)}@sha256:" in output

    client = RegistryClient(
        oci_registry.host,
        HttpAuth(REGISTRY_USER, oci_registry.users[REGISTRY_USER], ca_pem=oci_registry.ca_pem),
    )
    _, manifest = await asyncio.to_thread(client.manifest, repository, "1.3.0")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.flux.config.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.cncf.flux.content.v1.tar+gzip"
    ]
    assert manifest["annotations"]["org.opencontainers.image.source"] == "https://git.example/app"
    assert manifest["annotations"]["org.opencontainers.image.revision"] == f"main@sha1:{'a' * 40}"
    assert "org.opencontainers.image.created" in manifest["annotations"]

    repo_args = ["--repo", oci_registry.oci(repository), *login(oci_registry)]
    code, output, result = await run(
        apply_args(kube_cluster, ns, *repo_args, "--version", "^1.0"), password(oci_registry)
    )
    assert code == 0, output
    assert result is not None
    assert result["revision"].startswith("1.3.0@sha256:")
    assert await user_configmaps(kube_admin, ns) == {"app-settings": {"release": "1.3.0"}}

    wrong = "wrong-" + secrets.token_hex(8)
    code, output, result = await run(
        apply_args(kube_cluster, ns, *repo_args, "--version", "2.0.0"), {"CLEW_GIT_PASSWORD": wrong}
    )
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "HTTP 401" in result["error"]
    assert wrong not in output

    code, output, result = await run(
        apply_args(kube_cluster, ns, *repo_args, "--version", "9.9.9"), password(oci_registry)
    )
    assert code == 2
    assert result is not None
    assert result["reason"] == "FetchFailed"
    assert "no tag matches '9.9.9'" in result["error"]
    assert "2.0.0" in result["error"]  # what is there
    assert await user_configmaps(kube_admin, ns) == {"app-settings": {"release": "1.3.0"}}


def helm_push(
    helm: Path, reg: Registry, work: Path, repository: str, name: str, version: str
) -> None:
    archive = package_chart(helm, work, name, version, templates={"cm.yaml": CHART_CM})
    home = work / "helm-home"
    subprocess.run(
        [
            *(str(helm), "push", str(archive), reg.oci(repository)),
            *("--ca-file", str(reg.ca_file), "--username", REGISTRY_USER),
            *("--password", reg.users[REGISTRY_USER]),
        ],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "HELM_CONFIG_HOME": str(home / "c")},
    )


async def test_chart_pushed_by_helm_applies_from_oci(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    oci_registry: Registry,
    cache_env: Path,
    tmp_path: Path,
    helm: Path,
) -> None:
    ns, repository, name = kube_namespace, f"team/{unique('charts')}", unique("podinfo")
    for version in ("6.0.0", "6.2.1", "7.0.0"):
        await asyncio.to_thread(helm_push, helm, oci_registry, tmp_path, repository, name, version)
    chart_args = ["--helm-repo", oci_registry.oci(repository), "--chart", name]
    code, output, result = await run(
        apply_args(kube_cluster, ns, *chart_args, "--version", "6.x", *login(oci_registry)),
        password(oci_registry),
    )
    assert code == 0, output
    assert result is not None
    assert result["revision"].startswith("6.2.1@sha256:")
    assert (await user_configmaps(kube_admin, ns)) == {f"{name}-chart": {"version": "6.2.1"}}


async def test_an_oci_dependency_is_pulled_from_the_registry(
    kube_cluster: KubeCluster,
    kube_namespace: str,
    kube_admin: Cluster,
    oci_registry: Registry,
    cache_env: Path,
    tmp_path: Path,
    helm: Path,
) -> None:
    ns, repository, dep = kube_namespace, f"team/{unique('deps')}", unique("lib")
    for version in ("1.0.0", "1.4.0", "2.0.0"):
        await asyncio.to_thread(helm_push, helm, oci_registry, tmp_path, repository, dep, version)
    chart = tmp_path / "umbrella"
    (chart / "templates").mkdir(parents=True)
    dependency = {"name": dep, "version": "^1.0", "repository": oci_registry.oci(repository)}
    (chart / "Chart.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "v2",
                "name": "umbrella",
                "version": "0.1.0",
                "dependencies": [dependency],
            }
        )
    )
    args = apply_args(kube_cluster, ns, "--helm-repo", oci_registry.oci(repository))
    code, output, _ = await run([*args, *login(oci_registry), str(chart)], password(oci_registry))
    assert code == 0, output
    assert await user_configmaps(kube_admin, ns) == {"umbrella-chart": {"version": "1.4.0"}}
    assert not (chart / "charts").exists()


# -- the operator ---------------------------------------------------------------------------------


@pytest.fixture
async def oci_controller(crd: None, kube_cluster: KubeCluster, tmp_path: Path, helm: Path) -> Any:
    async with Cluster.from_kubeconfig(kube_cluster.admin_kubeconfig) as cluster:
        running = await start_controller(cluster, tmp_path / "cache", helm_binary=str(helm))
        try:
            yield running
        finally:
            await stop_controller(running)


async def docker_secret(cluster: Cluster, ns: str, reg: Registry, password: str) -> None:
    pair = base64.b64encode(f"{REGISTRY_USER}:{password}".encode()).decode()
    config = json.dumps({"auths": {reg.host: {"auth": pair}}})
    await cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "registry", "namespace": ns},
            "data": {
                ".dockerconfigjson": base64.b64encode(config.encode()).decode(),
                "ca.crt": base64.b64encode(reg.ca_pem.encode()).decode(),
            },
        }
    )


def application(name: str, ns: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "source": {**source, "secretRef": {"name": "registry"}},
            "interval": "10m",
            "prune": True,
            "timeout": "60s",
        },
    }


async def test_operator_applies_an_artifact_and_an_oci_chart(
    oci_controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    oci_registry: Registry,
    tmp_path: Path,
    helm: Path,
) -> None:
    ns, repository = kube_namespace, f"team/{unique('ops')}"
    charts, name = f"team/{unique('opcharts')}", unique("web")
    for tag in ("1.0.0", "1.1.0"):
        await push_release(oci_registry, repository, tag, tmp_path)
    await asyncio.to_thread(helm_push, helm, oci_registry, tmp_path, charts, name, "0.3.0")
    await docker_secret(kube_admin, ns, oci_registry, oci_registry.users[REGISTRY_USER])
    artifact = {"repoURL": oci_registry.oci(repository), "version": "1.x"}
    chart = {"repoURL": oci_registry.oci(charts), "chart": name, "version": "0.3.0"}
    await kube_admin.create(application("manifests", ns, artifact))
    await kube_admin.create(application("chart", ns, chart))
    await until(
        kube_admin, API_VERSION, KIND, "manifests", ns, status_is("Succeeded", "1.1.0@sha256:"), 60
    )
    await until(
        kube_admin, API_VERSION, KIND, "chart", ns, status_is("Succeeded", "0.3.0@sha256:"), 60
    )
    expected = {"app-settings": {"release": "1.1.0"}, f"chart-{name}": {"version": "0.3.0"}}
    assert (
        await user_configmaps(kube_admin, ns)
        == {
            "app-settings": {"release": "1.1.0"},
            "chart-chart": {"version": "0.3.0"},
        }
        or await user_configmaps(kube_admin, ns) == expected
    )

    # A missing tag, then wrong credentials: FetchFailed each time, and nothing is pruned.
    before = await user_configmaps(kube_admin, ns)
    await kube_admin.patch(
        API_VERSION, KIND, "manifests", {"spec": {"source": {"version": "5.0.0"}}}, namespace=ns
    )
    await until(
        kube_admin,
        API_VERSION,
        KIND,
        "manifests",
        ns,
        status_is("FetchFailed", "1.1.0@", "no tag matches"),
        60,
    )
    wrong = "wrong-" + secrets.token_hex(8)
    await docker_secret(kube_admin, ns, oci_registry, wrong)
    await kube_admin.patch(
        API_VERSION, KIND, "manifests", {"spec": {"source": {"version": "1.0.0"}}}, namespace=ns
    )
    await until(
        kube_admin,
        API_VERSION,
        KIND,
        "manifests",
        ns,
        status_is("FetchFailed", "1.1.0@", "HTTP 401"),
        60,
    )
    assert wrong not in json.dumps(await kube_admin.get(API_VERSION, KIND, "manifests", ns))
    assert await user_configmaps(kube_admin, ns) == before
