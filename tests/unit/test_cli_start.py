"""`clew apply|diff|render` start without importing the controller, the notifier or the other
nouns (start-up time is most of a small apply); `clew render` of a local directory imports no
Typer, click, pydantic, rich, asyncio, cluster client, apply stage or orchestrator (it is
compared with `kubectl kustomize`); `clew --help` imports none of clew's stages, the engine,
the cluster client or the controller (every command imports them when it runs), nor rich's
console, still lists every command, and the defaults the flags write out equal the render limits."""

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
heavy = ("clew.controller", "clew.notify", "clew.cli.apps", "typer", "click", "pydantic",
         "rich", "asyncio", "lightkube", "httpx2", "clew.cluster", "clew.apply", "clew.wait",
         "clew.report", "clew.engine.orchestrator", "clew.engine.result", "clew.plan.fast",
         "opentelemetry", "cryptography", "pyrage")
print("HEAVY", sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)
"""


def test_render_imports_only_what_a_render_needs(tmp_path: Path) -> None:
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


HELP_PROBE = """
import sys
sys.argv = ["clew", "--help"]
from clew.cli import main
try:
    main.main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = ("clew.engine", "clew.cluster", "clew.controller", "clew.render", "clew.source",
         "clew.plan", "clew.apply", "clew.report", "clew.notify", "clew.model", "lightkube",
         "httpx2", "yaml", "asyncio", "opentelemetry", "rich.console", "rich.markdown",
         "typer.rich_utils", "pydantic")
# clew.cli.lazy registers a module it has not run yet: that one is not imported.
loaded = [m for m, mod in sys.modules.items() if type(mod).__name__ != "_LazyModule"]
print("HEAVY", sorted(m for m in loaded if m.startswith(heavy)), file=sys.stderr)
"""


def test_help_imports_only_the_commands_signatures() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, check=True
    )
    assert " apply " in done.stdout
    assert "HEAVY []" in done.stderr, done.stderr


def test_flag_defaults_are_the_render_limits() -> None:
    from clew import render
    from clew.cli import options

    assert options.MAX_RENDER_BYTES == render.MAX_RENDER_BYTES
    assert options.MAX_OBJECTS == render.MAX_OBJECTS
