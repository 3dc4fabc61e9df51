"""What ``clew apply`` does once its flags are read, by Typer (:func:`clew.cli.sync.apply_command`)
or by the fast path (:mod:`clew.cli.quick`): fetch, render and sync once, print the result, and
return the exit code (0 synced; 1 the sync failed while changing the cluster; 2 nothing was
changed because of an error before apply)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from clew.cli.render_inputs import SourceArgs

__all__ = ["ApplyArgs", "run"]

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class ApplyArgs(SourceArgs):
    """The flags of ``clew apply``, by their parameter names, with the same defaults."""

    name: str | None = None
    prune: bool = False
    allow_empty: bool = False
    wait_: bool = False
    timeout: float = 300
    dry_run: bool = False
    force_conflicts: bool = False
    recreate: bool = False
    adopt: bool = False
    output: str = "text"
    kubeconfig: Path | None = None
    context: str | None = None


def run(args: ApplyArgs) -> int:
    """Sync what ``args`` name; errors are printed, and the exit code returned."""
    from clew import engine
    from clew.cli.local_source import default_name
    from clew.cli.render_run import print_error
    from clew.cli.sync_output import EARLY, err, result_json, summary_line, summary_table
    from clew.cli.sync_output import run as sync
    from clew.cluster import ClusterError
    from clew.model import Action, ClewError, Reason

    try:
        src, fetch, inputs = args.prepare()
    except (ClewError, OSError) as exc:
        print_error(exc)
        return EXIT_ERROR
    options = engine.SyncOptions(
        name=args.name or default_name(src, args.repo or args.chart),
        namespace=args.namespace,
        prune=args.prune,
        allow_empty=args.allow_empty,
        dry_run=args.dry_run,
        force=args.force_conflicts,
        recreate=args.recreate,
        adopt=args.adopt,
        wait=args.wait_,
        timeout=args.timeout,
        render=inputs,
    )
    try:
        result = sync(args.kubeconfig, args.context, fetch, options, quiet=args.output == "json")
    except ClusterError as exc:
        print_error(f"{exc}; check --kubeconfig/--context and that the cluster is reachable")
        return EXIT_ERROR
    if args.output == "json":
        import json

        sys.stdout.write(json.dumps(result_json(result), indent=2) + "\n")
    else:
        changes = result.changes()
        counts = ", ".join(f"{n} {a}" for a, n in engine.count(changes).items()) or "nothing"
        revision = result.snapshot.revision[:12] if result.snapshot else "?"
        if any(c.action is not Action.UNCHANGED for c in changes.changes):
            err().print(summary_table(changes, f"{options.name} @ {revision}"))
        err().print(summary_line(changes, counts, dry_run=args.dry_run, ok=result.ok))
        if not result.ok:
            err().print(f"[red]sync failed: {result.reason}[/]: {result.error}")
    if result.ok:
        return EXIT_OK
    # Exit 2 when nothing was applied: fetch, render, or the cluster unreachable before apply.
    nothing = result.reason == Reason.APPLY_FAILED and not result.changes().changes
    return EXIT_ERROR if result.reason in EARLY or nothing else EXIT_FAILED
