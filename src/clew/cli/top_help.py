"""``clew --help`` without Typer: the top-level help, as Typer prints it (click's plain
formatter) on a terminal 80 columns wide or wider, or with no terminal. Importing Typer and
reading every command's signature to build this took most of the 0.15 s ``clew --help`` had
(docs/benchmarks.md "CLI start-up"); this prints the same text in the interpreter's start-up
time. Any other width, or any other argument, goes to Typer. tests/unit/test_cli_start.py keeps
:data:`HELP` equal to what Typer prints: add a command, and that test shows the new text."""

from __future__ import annotations

import os
import sys

__all__ = ["HELP", "WIDTH", "text"]

WIDTH = 78  # click's help width, min(columns, 80) - 2, on a terminal of 80 columns or more

HELP = """\
Usage: clew [OPTIONS] COMMAND [ARGS]...

  clew: a GitOps engine for Kubernetes.

Options:
  --install-completion  Install completion for the current shell.
  --show-completion     Show completion for the current shell, to copy it or
                        customize the installation.
  --help                Show this message and exit.

Commands:
  apply       Sync a directory or a Git repository to the cluster, once...
  diff        Show what `clew apply` would change, as a unified YAML diff...
  render      Print the objects the source renders to, as YAML (no...
  controller  Run the controller: watch Applications and keep the cluster...
  install     Print the manifests that install the Application CRD and...
  ui          Serve the web UI: Applications, resource trees, diffs,...
  version     Print clew's version.
  local       Run a real local Kubernetes control plane.
  app         Applications (pull-based GitOps): list, inspect, reconcile,...
  get         `clew get apps`: List Applications: ready, reason, applied...
  describe    `clew describe app`: Show an Application: source, options,...
  reconcile   `clew reconcile app`: Reconcile now: the controller looks...
  suspend     `clew suspend app`: Stop all changes to the Application's...
  resume      `clew resume app`: Resume a suspended Application, and...
  history     `clew history app`: Show the revisions an Application...
  events      `clew events app`: Show the Events about an Application...
  rollback    `clew rollback app`: Roll back to an earlier revision: a...
  tree        `clew tree app`: Show an Application's objects with their...
  audit       Export the audit trail: every sync with its commit, author,...
  push        Push artifacts to an OCI registry.
"""


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` (which click asks) reads it:
    ``$COLUMNS`` if a positive integer, else standard output's terminal, else 80. Written out:
    importing shutil costs more than the rest of this module."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80
    return columns or 80


def text(argv: list[str]) -> str | None:
    """The help ``clew ARGV`` prints when it is the top-level help at :data:`WIDTH`; None when
    Typer should answer (another command, flag or width)."""
    if argv != ["--help"] or min(_columns(), 80) - 2 != WIDTH:
        return None
    return HELP
