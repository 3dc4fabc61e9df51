"""SOPS-encrypted Secrets, post-build variables and Jsonnet end to end, on the real control plane
with a real Git server and the real sops, through `clew apply` and through the operator.

Both paths apply a tree holding a Secret encrypted by sops for an age key, a ConfigMap with
``${VAR}`` references and a Jsonnet program: the Secret arrives decrypted, the variables
substituted, the Jsonnet objects rendered, and a README the render does not read is a warning
(in `-o json` and in the Application's Ready message). The cleartext shows nowhere else: not in
the CLI's output (a diff of a rotated password masks both values), the status, nor the Events.
Each failure (a tampered MAC, a missing key, an unset variable) fails the render naming the file
or object, and nothing in the cluster changes: same resourceVersions, nothing pruned.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.controller.reconcile.reconciler import RECONCILE_ANNOTATION
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, secret
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.sops import Sops
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-battery-staple"
SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
stringData:
  password: {PASSWORD}
"""
SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  region: ${REGION}
  tier: ${TIER:=standard}
  port: "${PORT}"
"""
JSONNET = """\
function(replicas='1') {
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-jsonnet' },
  data: { env: std.extVar('env'), replicas: replicas },
}
"""
K8S_ONLY = ("--encrypted-regex", "^(data|stringData)$")
OBJECTS = [("Secret", "db"), ("ConfigMap", "settings"), ("ConfigMap", "from-jsonnet")]


@pytest.fixture(scope="module")
def sops() -> Sops:
    return Sops()


def tree(sops: Sops) -> dict[str, str]:
    return {
        "secret.yaml": sops.encrypt(SECRET, "yaml", *K8S_ONLY),
        "settings.yaml": SETTINGS,
        "app.jsonnet": JSONNET,
        "README.md": "# the app\n",
    }


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def tampered(encrypted: str) -> str:
    """The encrypted Secret with a cleartext field changed: its MAC no longer matches."""
    changed = encrypted.replace("type: Opaque", "type: kubernetes.io/opaque-ish")
    assert changed != encrypted
    return changed


async def versions(cluster: Cluster, namespace: str) -> dict[tuple[str, str], str]:
    found = {}
    for kind, name in OBJECTS:
        obj = await cluster.get("v1", kind, name, namespace)
        found[kind, name] = obj["metadata"]["resourceVersion"]
    return found


async def check_applied(cluster: Cluster, namespace: str, region: str, env: str) -> None:
    secret = await cluster.get("v1", "Secret", "db", namespace)
    assert base64.b64decode(secret["data"]["password"]).decode() == PASSWORD
    assert "sops" not in secret
    settings = await cluster.get("v1", "ConfigMap", "settings", namespace)
    assert settings["data"] == {"region": region, "tier": "standard", "port": "5432"}
    jsonnet = await cluster.get("v1", "ConfigMap", "from-jsonnet", namespace)
    assert jsonnet["data"] == {"env": env, "replicas": "3"}


# -- clew apply -----------------------------------------------------------------------------------


async def clew(*argv: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(argv))


def flat(result: Result) -> str:
    return " ".join(result.output.split())


async def test_clew_apply_decrypts_substitutes_and_renders_jsonnet(
    sops: Sops, kube_cluster: KubeCluster, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "app", tree(sops))
    key_file = sops.key_file(tmp_path)
    common = [
        "--name", "app", "-n", kube_namespace, "--kubeconfig", str(kube_cluster.admin_kubeconfig),
        "--jsonnet-tla", "replicas=3", "--jsonnet-ext-var", "env=prod",
    ]  # fmt: skip
    inputs = ["--sops-age-key-file", str(key_file), "--substitute", "REGION=eu-west"]
    inputs += ["--substitute", "PORT=5432"]
    result = await clew("apply", str(source), *common, *inputs, "--prune", "-o", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["warnings"] == ["1 file not rendered (not YAML, JSON or Jsonnet): README.md"]
    assert PASSWORD not in result.output
    await check_applied(kube_admin, kube_namespace, "eu-west", "prod")
    diff = await clew("diff", str(source), *common, *inputs)
    assert diff.exit_code == 0, diff.output  # nothing to change, and nothing printed in clear
    assert PASSWORD not in diff.output

    # A new password: the diff shows the Secret changing, with neither value in it.
    rotated = write(tmp_path / "rotated", tree(sops))
    new_secret = SECRET.replace(PASSWORD, "rotated-password-4711")
    (rotated / "secret.yaml").write_text(sops.encrypt(new_secret, "yaml", *K8S_ONLY))
    changed = await clew("diff", str(rotated), *common, *inputs)
    assert changed.exit_code == 1, changed.output
    assert f"Secret/{kube_namespace}/db" in flat(changed)
    assert PASSWORD not in changed.output
    assert "rotated-password-4711" not in changed.output

    before = await versions(kube_admin, kube_namespace)
    encrypted = (source / "secret.yaml").read_text()
    failures = [
        ({"secret.yaml": tampered(encrypted)}, inputs, "secret.yaml: the SOPS MAC does not match"),
        ({}, ["--substitute", "REGION=x", "--substitute", "PORT=1"], "no decryption key"),
        ({}, ["--sops-age-key-file", str(key_file), "--substitute", "PORT=1"],
         "settings.yaml: ConfigMap/settings: variable REGION has no value"),
    ]  # fmt: skip
    for files, flags, message in failures:
        broken = write(tmp_path / f"broken-{len(message)}", {**tree(sops), **files})
        failed = await clew("apply", str(broken), *common, *flags, "--prune")
        assert failed.exit_code == 2, failed.output
        assert "RenderFailed" in flat(failed)
        assert message in flat(failed), flat(failed)
        assert PASSWORD not in failed.output
    assert await versions(kube_admin, kube_namespace) == before  # nothing applied or pruned


# -- the operator ---------------------------------------------------------------------------------


def application(name: str, namespace: str, url: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {
                "repoURL": url,
                "ref": "main",
                "path": "deploy",
                "secretRef": {"name": "git"},
            },
            "destination": {"namespace": namespace},
            "interval": "10m",
            "prune": True,
            "timeout": "60s",
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-keys"}},
            "postBuild": {
                "substitute": {"PORT": "5432"},
                "substituteFrom": [
                    {"kind": "ConfigMap", "name": "cluster-vars"},
                    {"kind": "Secret", "name": "absent", "optional": True},
                ],
            },
            "render": {"jsonnet": {"tlas": {"replicas": "3"}, "extVars": {"env": "staging"}}},
            **spec,
        },
    }


async def request_reconcile(cluster: Cluster, namespace: str, stamp: str) -> None:
    patch = {"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}}
    await cluster.patch(API_VERSION, KIND, "shop", patch, namespace=namespace)


def ready(revision: str, status: str = "True", message: str = "") -> Any:
    """Ready has ``status`` for ``revision``, and its message says ``message``: the attempted
    revision is written when an attempt starts, before its outcome."""

    def check(app_: dict[str, Any] | None) -> bool:
        cond = condition(app_, "Ready")
        attempted = ((app_ or {}).get("status") or {}).get("lastAttemptedRevision")
        return bool(
            cond
            and cond["status"] == status
            and attempted == revision
            and message in cond["message"]
            and condition(app_, "Reconciling") is None
        )

    return check


async def test_the_operator_decrypts_substitutes_and_renders_jsonnet(
    sops: Sops,
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    files = {f"deploy/{name}": text for name, text in tree(sops).items()}
    sha = git_repo.commit(files, "an app with a SOPS Secret, variables and Jsonnet")
    await secret(
        kube_admin, ns, "git", {"username": HTTP_USER, "password": git_http.users[HTTP_USER]}
    )
    await secret(kube_admin, ns, "sops-keys", {"age.agekey": sops.identity + "\n"})
    await kube_admin.apply(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "cluster-vars", "namespace": ns}, "data": {"REGION": "us-east"}}
    )  # fmt: skip
    await kube_admin.create(application("shop", ns, git_http.repo_url(git_repo.name)))
    app_ = await until(kube_admin, API_VERSION, KIND, "shop", ns, ready(sha), 60)
    await check_applied(kube_admin, ns, "us-east", "staging")
    message = condition(app_, "Ready")["message"]  # type: ignore[index]
    assert "warning: 1 file not rendered (not YAML, JSON or Jsonnet): deploy/README.md" in message
    before = await versions(kube_admin, ns)

    encrypted = files["deploy/secret.yaml"]
    broken = [
        ({"deploy/secret.yaml": tampered(encrypted)}, "deploy/secret.yaml: the SOPS MAC"),
        ({"deploy/settings.yaml": SETTINGS.replace("${TIER:=standard}", "${UNSET}")},
         "deploy/settings.yaml: ConfigMap/settings: variable UNSET has no value and no default"),
    ]  # fmt: skip
    for change, expected in broken:
        bad = git_repo.commit({**files, **change}, f"broken: {expected[:20]}")
        await request_reconcile(kube_admin, ns, bad)
        app_ = await until(
            kube_admin, API_VERSION, KIND, "shop", ns, ready(bad, "False", expected), 60
        )
        cond = condition(app_, "Ready")
        assert cond is not None
        assert cond["reason"] == "RenderFailed"
        assert expected in cond["message"], cond["message"]
        assert await versions(kube_admin, ns) == before  # nothing applied, nothing pruned

    # The keys Secret loses its key: a missing key is RenderFailed too, naming the file.
    fixed = git_repo.commit(files, "back to the good tree")
    await secret(kube_admin, ns, "sops-keys", {"other.txt": "no key here"})
    await request_reconcile(kube_admin, ns, fixed)
    no_key = "holds no *.agekey or *.asc key"
    app_ = await until(kube_admin, API_VERSION, KIND, "shop", ns, ready(fixed, "False", no_key), 60)
    assert await versions(kube_admin, ns) == before

    events, _ = await kube_admin.list_objects("v1", "Event", ns)
    text = json.dumps([app_, events])
    assert PASSWORD not in text
    assert sops.identity not in text
