"""apply: staged server-side apply, the ApplySet inventory, and prune.

- :func:`apply_stages` applies planned objects stage by stage (CRDs established before their
  custom resources), concurrently within a stage;
- :mod:`clew.apply.applyset` keeps the inventory as a KEP-3659 ApplySet;
- :func:`prune` deletes inventory members no longer desired, without LIST calls, and only those
  whose live object is still the inventory's;
- :mod:`clew.apply.ownership` says who owns a live object (conflicts, prune verdicts);
- :func:`run_hooks` runs one phase of Helm hooks (:mod:`clew.apply.hooks`), and
  :mod:`clew.apply.hookrecord` remembers which already succeeded.
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
from clew.apply.hookrecord import HookRecord, load_record, release_digest, save_record
from clew.apply.hooks import HOOK_OF, HookRun, hook_ref
from clew.apply.hooks import prepare as prepare_hooks
from clew.apply.hooks import run_phase as run_hooks
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
from clew.apply.staged import ApplyItem, ApplyOptions, apply_one, apply_stages, wait_established
from clew.apply.transaction import InventoryTransaction, SyncPlan, apply_plan

__all__ = [
    "CONFLICT",
    "HOOK_OF",
    "OWNER_ANNOTATION",
    "PART_OF",
    "PER_NAMESPACE_MAX",
    "PRUNE_ANNOTATION",
    "PRUNE_DISABLED",
    "ApplyItem",
    "ApplyOptions",
    "HookRecord",
    "HookRun",
    "Inventory",
    "InventoryTransaction",
    "Member",
    "Owner",
    "SyncPlan",
    "apply_one",
    "apply_plan",
    "apply_stages",
    "applyset_id",
    "candidates",
    "conflict",
    "foreign_owner",
    "foreign_owners",
    "hook_ref",
    "label",
    "load",
    "load_record",
    "member_of",
    "owner_of",
    "prepare_hooks",
    "prune",
    "prune_verdict",
    "release_digest",
    "run_hooks",
    "save",
    "save_record",
    "wait_established",
]
