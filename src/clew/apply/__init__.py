"""apply: staged server-side apply, the ApplySet inventory, and prune.

- :func:`apply_stages` applies planned objects stage by stage (CRDs established before their
  custom resources), concurrently within a stage;
- :mod:`clew.apply.applyset` keeps the inventory as a KEP-3659 ApplySet;
- :func:`prune` deletes inventory members no longer desired, without LIST calls.
"""

from clew.apply.applyset import (
    PART_OF,
    PRUNE_ANNOTATION,
    Inventory,
    Member,
    applyset_id,
    label,
    load,
    member_of,
    save,
)
from clew.apply.prune import candidates, prune
from clew.apply.staged import ApplyItem, ApplyOptions, apply_stages, wait_established

__all__ = [
    "PART_OF",
    "PRUNE_ANNOTATION",
    "ApplyItem",
    "ApplyOptions",
    "Inventory",
    "Member",
    "apply_stages",
    "applyset_id",
    "candidates",
    "label",
    "load",
    "member_of",
    "prune",
    "save",
    "wait_established",
]
