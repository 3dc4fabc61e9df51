"""wait: health of each object (kstatus rules) and watching until all are terminal.

- :func:`compute` — the health of one object, a pure function of it (rules in :mod:`.health`);
- :func:`worst` — the worst of many health results, to summarise a set;
- :func:`wait_for` — watch a set of objects on a cluster until they are healthy, one fails, or
  time runs out; returns a :class:`WaitResult`.
"""

from clew.wait.health import compute, worst
from clew.wait.watcher import OnChange, WaitResult, wait_for

__all__ = ["OnChange", "WaitResult", "compute", "wait_for", "worst"]
