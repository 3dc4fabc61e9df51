"""The render limits are flags of `clew apply/diff/render`: sizes as plain bytes or Kubernetes
quantities (64Mi), and what they set is what the render enforces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cli.options import byte_size

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.mark.parametrize(
    ("text", "size"),
    [("1000", 1000), ("64Mi", 64 * 2**20), ("1Gi", 2**30), ("500k", 500_000), ("2M", 2_000_000)],
)
def test_sizes(text: str, size: int) -> None:
    assert byte_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5Mi", "64MB", "lots"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="is not a size"):
        byte_size(text)


def test_flags_reach_the_render(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(CM.format(name=name))
    runner = CliRunner()
    assert runner.invoke(app, ["render", str(tmp_path), "--max-objects", "2"]).exit_code == 0
    few = runner.invoke(app, ["render", str(tmp_path), "--max-objects", "1"])
    assert few.exit_code == 2
    assert "renders more than 1 objects" in " ".join(few.output.split())
    small = runner.invoke(app, ["render", str(tmp_path), "--max-render-bytes", "80"])
    assert small.exit_code == 2
    assert "b.yaml: the manifests up to this file hold more than 80 bytes" in " ".join(
        small.output.split()
    )


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf commands by path (typer carries its own click: duck-typed)."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_shared_flags_are_declared_once() -> None:
    """Every command that takes a shared flag takes the same one (help, env var, default): they
    come from clew.cli.options. `clew controller`'s --kubeconfig (a Pod leaves it unset) is its
    own on purpose."""
    root = typer.main.get_command(app)
    seen: dict[str, dict[tuple[object, ...], list[str]]] = {}
    for path, command in _commands(root).items():
        for param in command.params:
            if param.name not in {
                "kubeconfig",
                "context",
                "username",
                "password_env",
                "ssh_key",
                "known_hosts",
                "all_namespaces",
            }:
                continue
            if path == "controller":
                continue
            key = (tuple(param.opts), param.help, param.envvar, param.default)
            seen.setdefault(param.name, {}).setdefault(key, []).append(path)
    assert {"kubeconfig", "context", "username", "all_namespaces"} <= seen.keys()
    for name, variants in seen.items():
        assert len(variants) == 1, f"--{name} is declared differently: {variants}"
    assert len(next(iter(seen["kubeconfig"].values()))) > 5  # apply, diff, get, audit, ...
