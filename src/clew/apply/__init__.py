"""apply: staged server-side apply, the ApplySet inventory, and prune.

- :func:`apply_stages` applies planned objects stage by stage (CRDs established before their
  custom resources), concurrently within a stage;
- :mod:`clew.apply.applyset` keeps the inventory as a KEP-3659 ApplySet;
- :func:`prune` deletes inventory members no longer desired, without LIST calls, and only those
  whose live object is still the inventory's;
- :mod:`clew.apply.ownership` says who owns a live object (conflicts, prune verdicts).
"""

from clew.apply.applyset import (
    OWNER_ANNOTATION,
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
from clew.apply.ownership import (
    CONFLICT,
    PER_NAMESPACE_MAX,
    Owner,
    conflict,
    foreign_owner,
    foreign_owners,
    owner_of,
    prune_verdict,
)
from clew.apply.prune import PRUNE_DISABLED, candidates, prune
from clew.apply.staged import ApplyItem, ApplyOptions, apply_stages, wait_established

__all__ = [
    "CONFLICT",
    "OWNER_ANNOTATION",
    "PART_OF",
    "PER_NAMESPACE_MAX",
    "PRUNE_ANNOTATION",
    "PRUNE_DISABLED",
    "ApplyItem",
    "ApplyOptions",
    "Inventory",
    "Member",
    "Owner",
    "apply_stages",
    "applyset_id",
    "candidates",
    "conflict",
    "foreign_owner",
    "foreign_owners",
    "label",
    "load",
    "member_of",
    "owner_of",
    "prune",
    "prune_verdict",
    "save",
    "wait_established",
]
