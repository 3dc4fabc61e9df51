"""The render limits are flags of `clew apply/diff/render`: sizes as plain bytes or Kubernetes
quantities (64Mi), and what they set is what the render enforces."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clew.cli.main import app
from clew.cli.render_flags import byte_size

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
