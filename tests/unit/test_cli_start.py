"""`clew apply|diff|render` start without importing the controller, the notifier or the other
nouns (start-up time is most of a small apply), and `clew --help` still lists every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
sys.argv = ["clew", "render", sys.argv[1]]
from clew.cli import main
try:
    main.main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = ("clew.controller", "clew.notify", "clew.cli.apps")
print("HEAVY", sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)
"""


def test_render_imports_no_controller(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "name: a" in done.stdout
    assert "HEAVY []" in done.stderr, done.stderr


def test_help_lists_every_command() -> None:
    from typer.testing import CliRunner

    from clew.cli.main import app

    out = CliRunner().invoke(app, ["--help"]).output
    for command in ("apply", "diff", "render", "controller", "install", "local", "app", "audit"):
        assert f" {command} " in out, command
