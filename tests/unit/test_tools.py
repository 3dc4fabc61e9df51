"""The tools cache is keyed by every pinned version, and the Kubernetes builds carry version
ldflags for both version packages (so /version reports the release, not v0.0.0-master)."""

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
    }
