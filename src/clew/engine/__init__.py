"""The orchestrator: source → render → plan → apply → prune → wait → report, in that order.

- :mod:`clew.engine.orchestrator`: :func:`sync`, the one place the order of the stages lives;
- :mod:`clew.engine.result`: its inputs and outputs, and the :class:`Progress` sink;
- :mod:`clew.engine.stages`: fetch and render (also ``clew render``);
- :mod:`clew.engine.planning`: from rendered objects to a typed :class:`clew.apply.SyncPlan`;
- :mod:`clew.engine.hooks` and :mod:`clew.engine.uninstall`: Helm hooks, deleting an application.
"""

from clew.engine.orchestrator import sync
from clew.engine.result import (
    FetchSnapshot,
    PlannedHook,
    Progress,
    RenderInputs,
    SyncOptions,
    SyncResult,
    ValuesFrom,
    count,
)
from clew.engine.stages import fetch_and_render
from clew.engine.uninstall import delete_all, uninstall
from clew.model import Action

__all__ = [
    "Action",
    "FetchSnapshot",
    "PlannedHook",
    "Progress",
    "RenderInputs",
    "SyncOptions",
    "SyncResult",
    "ValuesFrom",
    "count",
    "delete_all",
    "fetch_and_render",
    "sync",
    "uninstall",
]
