"""`clew local` without a running control plane says what to run, and exits non-zero where a
script needs to know."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clew.cli.main import app


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return CliRunner()


def test_status_without_cluster_fails_with_hint(runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "status", "--name", "nothing"])
    assert result.exit_code == 1
    assert "clew local up" in result.output


def test_kubeconfig_without_cluster_fails(runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "kubeconfig"])
    assert result.exit_code == 1


def test_down_without_cluster_is_harmless(runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "down"])
    assert result.exit_code == 0
    assert "no local control plane" in result.output


def test_version(runner: CliRunner) -> None:
    from clew import __version__

    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__
