"""plan: default namespaces, order stages, and say what applying would change.

- :func:`prepare` defaults namespaces (discovery, or a CRD in the same set);
- :func:`make_plan` dry-runs server-side apply per object and diffs it against the live object;
- :func:`stages` / :func:`reverse_order` give the apply and prune order;
- :func:`unified_diff` prints a change with Secret values masked.

Each name is imported from its module on first use: ``clew render`` needs :func:`mask` and
:func:`to_yaml` alone, not the cluster client that ``fast``, ``planner`` and ``scope`` import,
nor difflib and the ordering (start-up time, tests/unit/test_cli_start.py).
"""

from __future__ import annotations

import typing as _typing

from clew.model import lazy

# Here, not on first use: each is its module's namesake, and importing the module would set the
# package's attribute to the module itself.
from clew.plan.mask import mask
from clew.plan.normalize import normalize

if _typing.TYPE_CHECKING:
    from clew.plan.diff import to_yaml, unified_diff
    from clew.plan.fast import (
        CachedObject,
        LiveCache,
        fingerprint,
        live_metadata,
        live_versions,
        needs_apply,
        only_status_changed,
        version_number,
    )
    from clew.plan.order import Stage, ordered, reverse_order, sort_key, stage_of, stages, waves
    from clew.plan.planner import Plan, PlannedObject, conflict_reason, is_immutable, make_plan
    from clew.plan.scope import Prepared, prepare

_HOME = {
    "Stage": "order",
    "ordered": "order",
    "reverse_order": "order",
    "sort_key": "order",
    "stage_of": "order",
    "stages": "order",
    "to_yaml": "diff",
    "unified_diff": "diff",
    "waves": "order",
    "CachedObject": "fast",
    "LiveCache": "fast",
    "only_status_changed": "fast",
    "version_number": "fast",
    "Plan": "planner",
    "PlannedObject": "planner",
    "Prepared": "scope",
    "conflict_reason": "planner",
    "fingerprint": "fast",
    "is_immutable": "planner",
    "live_metadata": "fast",
    "live_versions": "fast",
    "make_plan": "planner",
    "needs_apply": "fast",
    "prepare": "scope",
}

__all__ = [
    "CachedObject",
    "LiveCache",
    "Plan",
    "PlannedObject",
    "Prepared",
    "Stage",
    "conflict_reason",
    "fingerprint",
    "is_immutable",
    "live_metadata",
    "live_versions",
    "make_plan",
    "mask",
    "needs_apply",
    "normalize",
    "only_status_changed",
    "ordered",
    "prepare",
    "reverse_order",
    "sort_key",
    "stage_of",
    "stages",
    "to_yaml",
    "unified_diff",
    "version_number",
    "waves",
]


__getattr__ = lazy.exports(__name__, _HOME, globals())
