"""plan: default namespaces, order stages, and say what applying would change.

- :func:`prepare` defaults namespaces (discovery, or a CRD in the same set);
- :func:`make_plan` dry-runs server-side apply per object and diffs it against the live object;
- :func:`stages` / :func:`reverse_order` give the apply and prune order;
- :func:`unified_diff` prints a change with Secret values masked.
"""

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
from clew.plan.mask import mask
from clew.plan.normalize import normalize
from clew.plan.order import Stage, ordered, reverse_order, sort_key, stage_of, stages, waves
from clew.plan.planner import Plan, PlannedObject, conflict_reason, is_immutable, make_plan
from clew.plan.scope import Prepared, prepare

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
