"""wait: health of each object (kstatus rules) and watching until all are terminal.

- :func:`compute` — the health of one object, a pure function of it (rules in :mod:`.health`);
- :func:`worst` — the worst of many health results, to summarise a set;
- :func:`wait_for` — watch a set of objects on a cluster until they are healthy, one fails, or
  time runs out; returns a :class:`WaitResult`;
- :func:`read_tree` — managed objects with their live children (owner references), each with
  its health: the resource tree (:mod:`.tree` builds it, :mod:`.livetree` reads it).

Each name is imported from its module on first use: ``clew apply`` without ``--wait`` loads no
watcher or resource tree before its first request (start-up time, tests/unit/test_cli_start.py).
"""

from __future__ import annotations

import typing as _typing

from clew.model import lazy

if _typing.TYPE_CHECKING:
    from clew.wait.health import compute, worst
    from clew.wait.livetree import read_tree
    from clew.wait.tree import Node
    from clew.wait.watcher import OnChange, WaitResult, wait_for

_HOME = {
    "Node": "tree",
    "OnChange": "watcher",
    "WaitResult": "watcher",
    "compute": "health",
    "read_tree": "livetree",
    "wait_for": "watcher",
    "worst": "health",
}

__all__ = ["Node", "OnChange", "WaitResult", "compute", "read_tree", "wait_for", "worst"]


__getattr__ = lazy.exports(__name__, _HOME, globals())
