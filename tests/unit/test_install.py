"""The install manifests grant least privilege and run the controller locked down.

It proves that the objects come in apply order (CRD and Namespace first) and reference each
other consistently; that the controller's own ClusterRole names no wildcard, only ``get`` on
Secrets, impersonation of ServiceAccounts alone, no RBAC escalation, and leases only in its
namespace; that the wide apply role is separate, carries only apply/prune/watch verbs and is bound
only with ``--cluster-admin``; that the Deployment runs non-root on a read-only root filesystem
with every capability dropped and seccomp RuntimeDefault, takes its webhook secrets from an
optional Secret and its tenancy flags from the install options; that the Service exposes the
webhook port alone, and secure metrics bring their port, review rights and reader role; and that
``clew install --export`` prints exactly these objects while plain ``clew install`` refuses with
exit 2 and says what to run instead.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from clew import __version__
from clew.cli.install import install_command
from clew.controller import APPLICATION_CRD, manifests
from clew.model import ClewError

RBAC = "rbac.authorization.k8s.io"


def by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.fixture
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    return by_kind(manifests())


def test_apply_order_puts_definitions_first() -> None:
    kinds = [o["kind"] for o in manifests()]
    assert kinds[:2] == ["CustomResourceDefinition", "Namespace"]
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert manifests()[0] == APPLICATION_CRD


def test_every_namespaced_object_is_in_the_install_namespace() -> None:
    cluster_kinds = {"CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding"}
    for obj in manifests(namespace="gitops"):
        if obj["kind"] in cluster_kinds:
            assert "namespace" not in obj["metadata"], obj["kind"]
        else:
            assert obj["metadata"]["namespace"] == "gitops", obj["kind"]
    assert by_kind(manifests(namespace="gitops"))[("Namespace", "gitops")]


def test_manifests_are_fresh_copies() -> None:
    first = manifests()
    first[0]["metadata"]["name"] = "changed"
    assert manifests()[0]["metadata"]["name"] == "applications.clew.dev"
    assert "&id" not in yaml.safe_dump_all(manifests())


def test_controller_role_is_least_privilege(objects: dict[tuple[str, str], Any]) -> None:
    rules = objects[("ClusterRole", "clew-controller")]["rules"]
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert not {"escalate", "bind", "deletecollection"} & set(rule["verbs"]), rule
    grants = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert {("clew.dev", "applications", v) for v in ("get", "list", "watch", "patch")} <= grants
    assert ("clew.dev", "applications/status", "patch") in grants
    assert ("clew.dev", "applications/finalizers", "update") in grants
    # ApplicationSets create and delete the Applications they generate; the sets themselves
    # are only read, their status written.
    assert {("clew.dev", "applications", v) for v in ("create", "delete")} <= grants
    assert {v for g, r, v in grants if r == "applicationsets"} == {"get", "list", "watch"}
    assert {v for g, r, v in grants if r == "applicationsets/status"} == {"get", "patch"}
    assert {("", "events", "create"), ("events.k8s.io", "events", "create")} <= grants
    # list: the ApplicationSet clusters generator selects kubeconfig Secrets by label.
    assert {v for g, r, v in grants if r == "secrets"} == {"get", "list"}
    assert {v for g, r, v in grants if r == "namespaces"} == {"get"}
    assert {(g, r) for g, r, v in grants if v == "impersonate"} == {("", "serviceaccounts")}
    assert not {r for g, r, v in grants if r in ("tokenreviews", "subjectaccessreviews")}
    assert not {r for g, r, v in grants if r == "leases"}, "leases belong in the namespaced Role"


def test_leader_election_is_granted_in_the_own_namespace_only(
    objects: dict[tuple[str, str], Any],
) -> None:
    role = objects[("Role", "clew-controller")]
    assert role["metadata"]["namespace"] == "clew-system"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            # list: shard members; delete: the member Leases of replicas long gone
            "verbs": ["get", "list", "create", "update", "patch", "delete"],
        }
    ]
    binding = objects[("RoleBinding", "clew-controller")]
    assert binding["roleRef"] == {
        "apiGroup": RBAC,
        "kind": "Role",
        "name": role["metadata"]["name"],
    }


def test_apply_role_is_separate_wide_and_bound_only_on_request(
    objects: dict[tuple[str, str], Any],
) -> None:
    [rule] = objects[("ClusterRole", "clew-controller-apply")]["rules"]
    assert rule == {
        "apiGroups": ["*"],
        "resources": ["*"],
        "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"],
    }
    assert ("ClusterRoleBinding", "clew-controller-apply") not in objects
    admin = by_kind(manifests(cluster_admin=True))
    assert ("ClusterRole", "clew-controller-apply") in admin
    assert admin[("ClusterRoleBinding", "clew-controller-apply")]["roleRef"]["name"] == (
        "clew-controller-apply"
    )


def test_bindings_name_the_controller_service_account(objects: dict[tuple[str, str], Any]) -> None:
    subject = {"kind": "ServiceAccount", "name": "clew-controller", "namespace": "clew-system"}
    bindings = [o for o in objects.values() if o["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert len(bindings) == 2  # the wide apply role is not bound by default
    for binding in bindings:
        assert binding["subjects"] == [subject]
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in objects
    assert ("ServiceAccount", "clew-controller") in objects


def test_deployment_runs_locked_down(objects: dict[tuple[str, str], Any]) -> None:
    deployment = objects[("Deployment", "clew-controller")]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["serviceAccountName"] == "clew-controller"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    # Writable places are emptyDirs only.
    mounted = {m["name"] for m in container["volumeMounts"]}
    assert mounted == {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert set(container["resources"]) == {"requests", "limits"}


def test_deployment_runs_the_controller_with_probes(objects: dict[tuple[str, str], Any]) -> None:
    deployment = objects[("Deployment", "clew-controller")]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert container["image"] == f"ghcr.io/clew-dev/clew:{__version__}"
    assert container["args"] == ["controller", "--leader-elect"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    env = {e["name"]: e["valueFrom"] for e in container["env"] if "valueFrom" in e}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_service_sends_port_80_to_the_controller(objects: dict[tuple[str, str], Any]) -> None:
    service = objects[("Service", "clew-controller")]
    deployment = objects[("Deployment", "clew-controller")]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_webhook_secrets_come_from_an_optional_secret(
    objects: dict[tuple[str, str], Any],
) -> None:
    [container] = objects[("Deployment", "clew-controller")]["spec"]["template"]["spec"][
        "containers"
    ]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {
        "CLEW_WEBHOOK_GITHUB_SECRET": {"name": "clew-webhooks", "key": "github", "optional": True},
        "CLEW_WEBHOOK_GITLAB_TOKEN": {"name": "clew-webhooks", "key": "gitlab", "optional": True},
        "CLEW_WEBHOOK_GENERIC_SECRET": {
            "name": "clew-webhooks",
            "key": "generic",
            "optional": True,
        },
    }
    other = by_kind(manifests(webhook_secret="hooks"))
    [container] = other[("Deployment", "clew-controller")]["spec"]["template"]["spec"]["containers"]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"][2:5]} == {"hooks"}


def test_tenancy_flags_reach_the_controller() -> None:
    objects = by_kind(manifests(default_service_account="deployer", no_cross_namespace_refs=True))
    [container] = objects[("Deployment", "clew-controller")]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["args"] == [
        "controller",
        "--leader-elect",
        "--default-service-account=deployer",
        "--no-cross-namespace-refs",
    ]


def test_metrics_stay_private_unless_secure(objects: dict[tuple[str, str], Any]) -> None:
    service = objects[("Service", "clew-controller")]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert ("ClusterRole", "clew-metrics-reader") not in objects

    secure = by_kind(manifests(metrics_secure=True))
    [container] = secure[("Deployment", "clew-controller")]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["args"][-2:] == ["--metrics-bind-address=:8443", "--metrics-secure"]
    assert {"name": "metrics", "containerPort": 8443, "protocol": "TCP"} in container["ports"]
    # Prometheus scrapes the Pods; the Service still exposes the webhooks alone.
    ports = secure[("Service", "clew-controller")]["spec"]["ports"]
    assert [p["targetPort"] for p in ports] == ["http"]
    rules = secure[("ClusterRole", "clew-controller")]["rules"]
    reviews = {(r["apiGroups"][0], r["resources"][0]) for r in rules if r["verbs"] == ["create"]}
    assert {
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
    } <= reviews
    reader = secure[("ClusterRole", "clew-metrics-reader")]
    assert reader["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]


def test_disruption_budget_only_with_a_standby() -> None:
    two = by_kind(manifests(replicas=2))
    assert two[("PodDisruptionBudget", "clew-controller")]["spec"]["minAvailable"] == 1
    one = by_kind(manifests(replicas=1))
    assert ("PodDisruptionBudget", "clew-controller") not in one
    assert one[("Deployment", "clew-controller")]["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"namespace": "Clew_System"}, "not a DNS label"),
        ({"namespace": "x" * 64}, "not a DNS label"),
        ({"replicas": 0}, "at least 1"),
        ({"image": "ghcr.io/clew dev"}, "not an image reference"),
        ({"default_service_account": "Deploy_er"}, "not a DNS name"),
        ({"webhook_secret": "a b"}, "not a DNS name"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ClewError, match=message):
        manifests(**kwargs)


# -- the command ------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    """The command as clew.cli.main registers it: ``app.command("install")``."""
    app = typer.Typer()
    app.command("install")(install_command)

    @app.command()
    def version() -> None:  # a second command keeps "install" a subcommand
        """Unused."""

    return app


def test_export_prints_the_manifests_as_a_yaml_stream(cli: typer.Typer) -> None:
    result = CliRunner().invoke(
        cli, ["install", "--export", "-n", "gitops", "--image", "example/clew:1", "--replicas", "3"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# clew ")
    assert list(yaml.safe_load_all(result.stdout)) == manifests("gitops", "example/clew:1", 3)


def test_export_with_options(cli: typer.Typer) -> None:
    plain = CliRunner().invoke(cli, ["install", "--export"])
    names = {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(plain.stdout)}
    assert ("ClusterRoleBinding", "clew-controller-apply") not in names
    argv = [
        "install",
        "--export",
        "--cluster-admin",
        "--metrics-secure",
        "--default-service-account",
        "deployer",
        "--no-cross-namespace-refs",
        "--webhook-secret",
        "hooks",
    ]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.stdout)) == manifests(
        cluster_admin=True,
        metrics_secure=True,
        default_service_account="deployer",
        no_cross_namespace_refs=True,
        webhook_secret="hooks",
    )


def test_without_export_says_what_to_run_and_exits_2(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 2
    assert "not implemented" in result.output
    assert "clew install --export | kubectl apply --server-side -f -" in result.output
    assert result.stdout == ""


def test_bad_namespace_exits_2(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["install", "--export", "-n", "Bad_NS"])
    assert result.exit_code == 2
    assert "not a DNS label" in result.output


def test_the_flag_defaults_are_the_controller_apis() -> None:
    # clew.cli.install writes them out so that `clew --help` does not import the controller.
    from clew.cli import install as cli
    from clew.controller.api import install as api

    for name in ("DEFAULT_NAMESPACE", "DEFAULT_IMAGE", "APPLY_ROLE", "WEBHOOK_SECRET"):
        assert getattr(cli, name) == getattr(api, name), name
