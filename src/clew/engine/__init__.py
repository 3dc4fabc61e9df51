"""The orchestrator: source → render → plan → apply → prune → wait → report, in that order."""

from clew.engine.orchestrator import (
    Action,
    FetchSnapshot,
    Progress,
    SyncOptions,
    SyncResult,
    count,
    delete_all,
    sync,
    uninstall,
)

__all__ = [
    "Action",
    "FetchSnapshot",
    "Progress",
    "SyncOptions",
    "SyncResult",
    "count",
    "delete_all",
    "sync",
    "uninstall",
]
