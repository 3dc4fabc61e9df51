"""What ``clew apply`` and ``clew diff`` print, and how they run the engine: imported by the
commands when they run, not at start-up (:mod:`clew.cli.sync` holds the flags)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from clew import engine
from clew.cli.paths import cache_dir
from clew.cluster import Cluster, DiscoveryCache
from clew.model import Action, Change, ChangeSet, Reason
from clew.report import tracing

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["EARLY", "err", "result_json", "run", "summary_line", "summary_table", "write_diff"]

EARLY = {Reason.FETCH_FAILED, Reason.RENDER_FAILED}


@functools.cache
def err() -> Console:
    return Console(stderr=True, highlight=False)


class _Printer(engine.Progress):
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def stage(self, name: str, message: str) -> None:
        if not self.quiet:
            err().print(f"[bold cyan]{name:>7}[/] {message}")

    def change(self, change: Change) -> None:
        if not self.quiet and change.action is not Action.UNCHANGED:
            err().print(f"        {_styled(change.action)} {change.ref}")


def _styled(action: Action) -> str:
    color = {
        Action.CREATED: "green",
        Action.CONFIGURED: "yellow",
        Action.DELETED: "magenta",
        Action.FAILED: "red",
        Action.SKIPPED: "dim",
    }.get(action, "dim")
    return f"[{color}]{action.value:<10}[/]"


def summary_table(changes: ChangeSet, title: str) -> Table:
    from rich.table import Table  # here: a run that changed nothing prints no table

    table = Table(title=title, show_edge=False)
    table.add_column("object")
    table.add_column("action")
    table.add_column("detail", overflow="fold")
    for change in changes.changes:
        if change.action is Action.UNCHANGED:
            continue
        table.add_row(str(change.ref), _styled(change.action), change.error or change.reason)
    return table


def result_json(result: engine.SyncResult) -> dict[str, Any]:
    snap = result.snapshot
    return {
        "ok": result.ok,
        "reason": result.reason,
        "error": result.error,
        "revision": snap.revision if snap else None,
        "counts": engine.count(result.changes()),
        "changes": [
            {"object": str(c.ref), "action": c.action.value, "reason": c.reason, "error": c.error}
            for c in result.changes().changes
        ],
        "hooks": [
            {"event": h.event.value, "object": str(h.ref), "already_ran": h.already_ran}
            for h in result.planned_hooks
        ],
        "warnings": result.warnings,
        "durations": {k: round(v, 3) for k, v in result.durations.items()},
        "requests": result.requests,
    }


def write_diff(result: engine.SyncResult, out: Callable[[str], object]) -> bool:
    """``clew diff``'s output of a dry run: unified diffs of what would change, a line per
    object created or deleted, then the Helm hooks the sync would run; True when it differs."""
    changed = False
    for change in result.changes().changes:
        if change.action in (Action.CREATED, Action.CONFIGURED) and change.diff:
            out(change.diff)
        elif change.action is Action.CREATED:
            out(f"+++ {change.ref} (created: {change.reason})\n")
        elif change.action is Action.DELETED:
            out(f"--- {change.ref} (deleted: {change.reason})\n")
        else:
            continue
        changed = True
    for hook in result.planned_hooks:
        if hook.already_ran:
            out(f"hook {hook.event.value} {hook.ref} (already ran for this release: skipped)\n")
        else:
            out(f"hook {hook.event.value} {hook.ref} (would run)\n")
            changed = True
    return changed


def run(
    kubeconfig: Path | None,
    context: str | None,
    fetch: engine.FetchSnapshot,
    options: engine.SyncOptions,
    quiet: bool,
) -> engine.SyncResult:
    async def go() -> engine.SyncResult:
        # Discovery kept on disk between runs, as kubectl keeps it (clew.cluster.discocache).
        disk = DiscoveryCache(cache_dir() / "discovery")
        async with disk.attach(Cluster.from_kubeconfig(kubeconfig, context=context)) as cluster:
            result = await engine.sync(cluster, fetch, options, _Printer(quiet))
            result.requests = dict(cluster.requests)
            return result

    # OTEL_* variables; nothing happens unless they ask for traces
    with tracing.from_env(), _without_trio():
        return asyncio.run(go())


@contextlib.contextmanager
def _without_trio() -> Iterator[None]:
    """The HTTP client's first connection imports its pool, which imports trio when it is
    installed (selenium, a test dependency, brings it), only to support trio event loops; clew
    runs on asyncio. Importing trio took 70 ms, more than a no-op apply's requests: blocked for
    the run when nothing imported it yet, and unblocked after it, so that a later ``import
    trio`` in the same process (the UI tests) still works."""
    if "trio" in sys.modules:
        yield
        return
    sys.modules["trio"] = None  # type: ignore[assignment]  # `import trio` raises ImportError
    try:
        yield
    finally:
        if sys.modules.get("trio", ...) is None:
            del sys.modules["trio"]


def summary_line(changes: ChangeSet, counts: str, *, dry_run: bool, ok: bool) -> str:
    if any(c.action is not Action.UNCHANGED for c in changes.changes):
        verb = "would be" if dry_run else "were"
        return (
            f"[bold]{counts}[/] ({'dry run; ' if dry_run else ''}objects {verb} changed as shown)"
        )
    if changes.changes:
        return f"[bold]{counts}[/] (nothing {'would change' if dry_run else 'changed'})"
    return "[bold]nothing to do[/]" if ok else "[bold]nothing was changed[/]"
