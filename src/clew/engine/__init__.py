"""The orchestrator: source → render → plan → apply → prune → wait → report, in that order.

- :mod:`clew.engine.orchestrator`: :func:`sync`, the one place the order of the stages lives;
- :mod:`clew.engine.result`: its inputs and outputs, and the :class:`Progress` sink;
- :mod:`clew.engine.stages`: fetch and render (also ``clew render``);
- :mod:`clew.engine.planning`: from rendered objects to a typed :class:`clew.apply.SyncPlan`;
- :mod:`clew.engine.hooks` and :mod:`clew.engine.uninstall`: Helm hooks, deleting an application.

Each name is imported from its module on first use: ``clew render`` runs
:func:`fetch_and_render` alone and must not pay for the cluster client, the apply stage and
the metrics that :func:`sync` needs (start-up time, tests/unit/test_cli_start.py).
"""

from __future__ import annotations

import typing as _typing

from clew.model import lazy

if _typing.TYPE_CHECKING:
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

_HOME = {
    "Action": "clew.model",
    "FetchSnapshot": "clew.engine.result",
    "PlannedHook": "clew.engine.result",
    "Progress": "clew.engine.result",
    "RenderInputs": "clew.engine.result",
    "SyncOptions": "clew.engine.result",
    "SyncResult": "clew.engine.result",
    "ValuesFrom": "clew.engine.result",
    "count": "clew.engine.result",
    "delete_all": "clew.engine.uninstall",
    "fetch_and_render": "clew.engine.stages",
    "sync": "clew.engine.orchestrator",
    "uninstall": "clew.engine.uninstall",
}

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


__getattr__ = lazy.exports(__name__, _HOME, globals())
