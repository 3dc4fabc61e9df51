"""The Helm chart in charts/clew, with the real helm: it lints clean under --strict; with its
defaults, and with each option `clew install` has, it renders exactly what `clew install
--export` prints (RBAC, Deployment, Service, budget), and its CRDs are the ones clew defines;
image, resources, extra arguments and webhook secrets follow the values; bad values are refused
by the schema with the value's name; and `helm install` on the control plane creates a
Deployment that becomes Available, which `helm uninstall` removes."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew import __version__
from clew.cluster import Cluster
from clew.controller.api.appset_crd import APPLICATION_SET_CRD
from clew.controller.api.crd import APPLICATION_CRD
from clew.controller.api.install import manifests
from clew.controller.api.notification_crd import NOTIFICATION_POLICY_CRD
from clew.testing import tools
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[2] / "charts" / "clew"
Key = tuple[str, str]


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return tools.binary("helm")
    except tools.ToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def template(helm: Path, namespace: str = "clew-system", *sets: str) -> dict[Key, Any]:
    argv = [str(helm), "template", "clew", str(CHART), "-n", namespace]
    for value in sets:
        argv += ["--set", value]
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    objects = [o for o in yaml.safe_load_all(proc.stdout) if o]
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def exported(**options: Any) -> dict[Key, Any]:
    crds = ("CustomResourceDefinition", "Namespace")  # crds/ of the chart; helm makes no namespace
    return {
        (o["kind"], o["metadata"]["name"]): o for o in manifests(**options) if o["kind"] not in crds
    }


def test_lints_clean(helm: Path) -> None:
    proc = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chart_version_is_clews() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


OPTIONS = [
    ("clew-system", {}, {}),
    ("gitops", {"replicaCount": "1"}, {"replicas": 1}),
    (
        "gitops",
        {"replicaCount": "3", "clusterAdmin": "true"},
        {"replicas": 3, "cluster_admin": True},
    ),
    ("clew-system", {"metrics.secure": "true"}, {"metrics_secure": True}),
    (
        "clew-system",
        {"tenancy.defaultServiceAccount": "deployer", "tenancy.noCrossNamespaceRefs": "true"},
        {"default_service_account": "deployer", "no_cross_namespace_refs": True},
    ),
    ("clew-system", {"webhook.secretName": "hooks"}, {"webhook_secret": "hooks"}),
]


@pytest.mark.parametrize(("namespace", "values", "options"), OPTIONS)
def test_renders_what_clew_install_exports(
    helm: Path, namespace: str, values: dict[str, str], options: dict[str, Any]
) -> None:
    rendered = template(helm, namespace, *(f"{k}={v}" for k, v in values.items()))
    expected = exported(namespace=namespace, **options)
    assert sorted(rendered) == sorted(expected)
    for key, obj in expected.items():
        assert rendered[key] == obj, key


def test_crds_are_clews() -> None:
    for name, crd in (
        ("applications", APPLICATION_CRD),
        ("notificationpolicies", NOTIFICATION_POLICY_CRD),
        ("applicationsets", APPLICATION_SET_CRD),
    ):
        assert yaml.safe_load((CHART / "crds" / f"{name}.yaml").read_text()) == crd


def _container(objects: dict[Key, Any]) -> dict[str, Any]:
    deployment = objects[("Deployment", "clew-controller")]
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def test_values_reach_the_deployment(helm: Path) -> None:
    objects = template(
        helm,
        "clew-system",
        "image.repository=registry.example/clew",
        "image.tag=1.2.3",
        "resources.limits.memory=3Gi",
        "controller.extraArgs={--workers=8,--log-level=debug}",
    )
    container = _container(objects)
    assert container["image"] == "registry.example/clew:1.2.3"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "3Gi"}
    assert container["args"] == ["controller", "--leader-elect", "--workers=8", "--log-level=debug"]


def _secret_refs(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        env["name"]: (
            env["valueFrom"]["secretKeyRef"]["name"],
            env["valueFrom"]["secretKeyRef"]["key"],
        )
        for env in container["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }


def test_webhook_secrets_the_chart_makes(helm: Path) -> None:
    assert ("Secret", "clew-webhooks") not in template(helm)  # yours to create, or none

    objects = template(helm, "clew-system", "webhook.github=s3cret", "webhook.generic=other")
    secret = objects[("Secret", "clew-webhooks")]
    assert base64.b64decode(secret["data"]["github"]).decode() == "s3cret"
    assert base64.b64decode(secret["data"]["generic"]).decode() == "other"
    assert "gitlab" not in secret["data"]
    refs = _secret_refs(_container(objects))
    assert refs["CLEW_WEBHOOK_GITHUB_SECRET"] == ("clew-webhooks", "github")
    assert refs["CLEW_WEBHOOK_GITLAB_TOKEN"] == ("clew-webhooks", "gitlab")  # optional
    pod = objects[("Deployment", "clew-controller")]["spec"]["template"]["metadata"]
    assert "checksum/webhook" in pod["annotations"]  # a new secret rolls the Pods
    assert "s3cret" not in yaml.safe_dump(objects[("Deployment", "clew-controller")])


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("replicaCount=0", "replicaCount"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("image.tag=a b", "tag"),
        ("tenancy.defaultServiceAccount=Not_A_Name", "defaultServiceAccount"),
    ],
)
def test_bad_values_are_refused(helm: Path, value: str, named: str) -> None:
    proc = subprocess.run(
        [str(helm), "template", "clew", str(CHART), "--set", value],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert named in proc.stderr


async def test_helm_install_gives_an_available_deployment(
    helm: Path, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str
) -> None:
    base = [str(helm), "--kubeconfig", str(kube_cluster.admin_kubeconfig), "-n", kube_namespace]
    release = [*base, "install", "clew", str(CHART), "--set", "replicaCount=2"]
    installed = await asyncio.to_thread(
        subprocess.run, release, capture_output=True, text=True, timeout=120, check=False
    )
    assert installed.returncode == 0, installed.stderr
    try:

        def available(obj: dict[str, Any] | None) -> bool:
            found = condition(obj, "Available")
            return found is not None and found.get("status") == "True"

        deployment = await until(
            kube_admin, "apps/v1", "Deployment", "clew-controller", kube_namespace, available
        )
        assert deployment is not None
        assert deployment["status"]["readyReplicas"] == 2
    finally:
        uninstall = [*base, "uninstall", "clew", "--wait"]
        uninstalled = await asyncio.to_thread(
            subprocess.run, uninstall, capture_output=True, text=True, timeout=120, check=False
        )
    assert uninstalled.returncode == 0, uninstalled.stderr
    gone = await until(
        kube_admin, "apps/v1", "Deployment", "clew-controller", kube_namespace, lambda o: o is None
    )
    assert gone is None


def test_the_ui_is_opt_in_and_least_privilege(helm: Path) -> None:
    """``ui.enabled``: a Deployment running `clew ui` as its own ServiceAccount, whose grants
    are the shared watch, the two reviews, Events and the audit trail; nothing to read objects
    or Secrets, nothing to patch (actions run with the user's own token)."""
    assert not [k for k in template(helm) if k[1].startswith("clew-ui")]
    objects = template(
        helm, "clew-system", "ui.enabled=true", "ui.readOnly=true", "ui.sessionKeySecret=ui-key"
    )
    rules = objects[("ClusterRole", "clew-ui")]["rules"]
    assert {(r["apiGroups"][0], r["resources"][0], tuple(r["verbs"])) for r in rules} == {
        ("clew.dev", "applications", ("get", "list", "watch")),
        ("authentication.k8s.io", "tokenreviews", ("create",)),
        ("authorization.k8s.io", "subjectaccessreviews", ("create",)),
        ("events.k8s.io", "events", ("create",)),
    }
    audit = objects[("ClusterRoleBinding", "clew-ui-audit")]
    assert audit["roleRef"]["name"] == "clew-controller-audit"
    deployment = objects[("Deployment", "clew-ui")]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "clew-ui"
    assert pod["containers"][0]["args"] == [
        "ui",
        "--host=0.0.0.0",
        "--port=8090",
        "--read-only",
        "--session-key-file=/etc/clew-ui/session.key",
    ]
    assert deployment["spec"]["replicas"] == 2
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert objects[("Service", "clew-ui")]["spec"]["selector"] == selector
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    one = template(helm, "clew-system", "ui.enabled=true")[("Deployment", "clew-ui")]
    assert one["spec"]["replicas"] == 1  # each process seals cookies with its own key
