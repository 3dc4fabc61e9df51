"""The tools cache is keyed by every pinned version, the Kubernetes builds carry version ldflags for
both version packages (so /version reports the release, not v0.0.0-master), and helm is built and
keyed on its own: pinning another helm never rebuilds the control plane."""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.testing import tools


def test_key_names_every_version() -> None:
    key = tools.tools_key()
    assert tools.K8S_VERSION in key
    assert tools.ETCD_VERSION in key


def test_k8s_ldflags_set_both_version_packages() -> None:
    apiserver = next(t for t in tools.TOOLS if t.name == "kube-apiserver")
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion={tools.K8S_VERSION}" in apiserver.ldflags
        assert f"-X {pkg}.gitMinor=36" in apiserver.ldflags


def test_gomod_pins_match_constants() -> None:
    k8s = (Path(tools.__file__).parent / "gomod" / "k8s" / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {tools.K8S_VERSION}" in k8s
    minor = tools.K8S_VERSION.replace("v1.", "v0.")
    assert f"k8s.io/api => k8s.io/api {minor}" in k8s
    assert "=> ./staging" not in k8s
    etcd = (Path(tools.__file__).parent / "gomod" / "etcd" / "go.mod").read_text()
    assert f"go.etcd.io/etcd/server/v3 {tools.ETCD_VERSION}" in etcd


def test_missing_binary_says_how_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path))
    with pytest.raises(tools.ToolsMissing, match=r"python -m clew.testing.tools build"):
        tools.binary("kube-apiserver")
    assert {t.name for t in tools.missing()} == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "helm",
    }
    assert [t.name for t in tools.missing(("helm",))] == ["helm"]
    assert [t.name for t in tools.missing(tools.CONTROL_PLANE)] == list(tools.CONTROL_PLANE)
    with pytest.raises(tools.ToolsMissing, match=r"python -m clew.testing.tools build helm"):
        tools.binary("helm")


def test_helm_has_its_own_key_and_directory() -> None:
    key = tools.module_key("helm")
    assert key.startswith(f"helm-{tools.HELM_VERSION}_")
    assert tools.HELM_VERSION not in tools.tools_key()  # the control plane's key ignores helm
    assert tools.bin_dir("helm") != tools.bin_dir()
    assert tools.bin_dir("etcd") == tools.bin_dir("k8s") == tools.bin_dir()


def test_helm_ldflags_match_its_makefile() -> None:
    helm = next(t for t in tools.TOOLS if t.name == "helm")
    assert helm.package == "helm.sh/helm/v3/cmd/helm"
    assert f"-X helm.sh/helm/v3/internal/version.version={tools.HELM_VERSION}" in helm.ldflags
    for pkg in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        assert f"-X {pkg}.k8sVersionMinor={tools.HELM_KUBE_MINOR}" in helm.ldflags


def test_helm_gomod_pins_match_constants() -> None:
    gomod = Path(tools.__file__).parent / "gomod" / "helm"
    assert f"require helm.sh/helm/v3 {tools.HELM_VERSION}" in (gomod / "go.mod").read_text()
    assert f"helm.sh/helm/v3 {tools.HELM_VERSION} h1:" in (gomod / "go.sum").read_text()
    # helm's default kube version follows the client-go it pins
    assert f"k8s.io/client-go v0.{tools.HELM_KUBE_MINOR}." in (gomod / "go.sum").read_text()


def test_unknown_tool() -> None:
    with pytest.raises(KeyError, match="unknown tool"):
        tools.binary("kustomize")


def test_path_command(capsys: pytest.CaptureFixture[str]) -> None:
    tools.main(["path", "helm"])
    assert capsys.readouterr().out.strip() == str(tools.bin_dir("helm") / "helm")
    assert tools.main(["path", "kustomize"]) == 2
    assert "unknown tool 'kustomize'" in capsys.readouterr().err


def test_production_finds_the_cached_helm_without_the_kit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from clew import tools as production

    monkeypatch.setenv("CLEW_CACHE_DIR", str(tmp_path))
    assert production.cached_helm() is None
    built = tools.bin_dir("helm") / "helm"
    built.parent.mkdir(parents=True)
    built.write_text("#!/bin/sh\n")
    assert production.cached_helm() == str(built)
    assert production.bin_dir("helm") == tools.bin_dir("helm")
