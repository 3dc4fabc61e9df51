"""The sealed environment helm and kustomize run in holds nothing of the caller's (no KUBECONFIG,
no helm or kustomize settings, a fresh HOME), messages lose the machine's paths, and binaries are
found where the options, the environment, the venv or PATH put them, in that order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clew.render import ToolError
from clew.render.runner import find_binary, scrub, sealed_env


def test_sealed_env_keeps_only_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "HELM_CONFIG_HOME", "HELM_PLUGINS", "KUSTOMIZE_PLUGIN_HOME"):
        monkeypatch.setenv(name, "/from/the/caller")
    monkeypatch.setenv("PATH", "/caller/bin")
    env = sealed_env(tmp_path, {"HELM_CACHE_HOME": str(tmp_path / "c")})
    assert env["HOME"] == str(tmp_path)
    assert env["PATH"] == "/caller/bin"
    assert env["HELM_CACHE_HOME"] == str(tmp_path / "c")
    assert "/from/the/caller" not in env.values()
    assert set(env) == {
        "HOME",
        "PATH",
        "LANG",
        "TMPDIR",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "HELM_CACHE_HOME",
    }


def test_scrub_makes_paths_relative_and_trims() -> None:
    root = Path("/srv/snap")
    assert scrub("Error: at /srv/snap/app/x.yaml in /srv/snap\n", root) == "at app/x.yaml in ."
    assert scrub("error: no matches\n") == "no matches"
    long = scrub("x" * 10_000)
    assert len(long) <= 4001
    assert long.startswith("…")


def test_kubectl_next_to_python_comes_before_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEW_KUBECTL", raising=False)
    monkeypatch.setenv("PATH", "")
    found = find_binary("kubectl", None, "CLEW_KUBECTL", hint="h")
    assert found == str(Path(sys.executable).parent / "kubectl")


def test_explicit_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("CLEW_TOOL", str(tool))
    assert find_binary("tool", None, "CLEW_TOOL", hint="h") == str(tool)
    with pytest.raises(ToolError, match=r"tool is needed .*nope") as info:
        find_binary("tool", tmp_path / "nope", "CLEW_TOOL", hint="build it")
    assert info.value.hint == "build it"


def test_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEW_NOTOOL", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ToolError, match="no-such-tool on PATH"):
        find_binary("no-such-tool", None, "CLEW_NOTOOL", hint="h")
