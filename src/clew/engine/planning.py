"""The plan stage of a sync: from the rendered objects and the inventory to a typed
:class:`~clew.apply.SyncPlan` (what to apply, what is unchanged, what is stale), or a refusal.

Planning reads the cluster and writes nothing. It refuses to prune everything when Git renders
nothing (unless allowed), refuses what the tenancy rules do not admit, and leaves out objects
another inventory owns (conflicts, unless adopting). A dry run instead asks the server what
applying would do, with diffs (:func:`dry_run`).
"""

from __future__ import annotations

from dataclasses import dataclass

from clew import apply, plan
from clew.cluster import Cluster
from clew.engine.result import SyncOptions, SyncResult
from clew.model import Action, Change, Manifest, ObjectRef, Reason
from clew.model.frozen import freeze, memo

__all__ = ["Draft", "Refusal", "compare", "draft", "dry_run"]


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    message: str


@dataclass
class Draft:
    """The desired set, labelled for the inventory, before the cluster's state is compared."""

    inventory: apply.Inventory
    prepared: plan.Prepared
    labelled: list[Manifest]
    stale: list[apply.Member]
    order: list[ObjectRef]


async def draft(cluster: Cluster, options: SyncOptions, result: SyncResult) -> Draft | Refusal:
    inventory = await apply.load(cluster, options.name, options.namespace)
    if options.prune and not result.manifests and inventory.members and not options.allow_empty:
        return Refusal(
            Reason.PRUNE_FAILED,
            f"Git renders no objects but the inventory '{options.name}' holds "
            f"{len(inventory.members)}; refusing to delete everything (pass --allow-empty if "
            "that is really intended)",
        )
    prepared = await plan.prepare(cluster, result.manifests, options.namespace)
    set_id, owner = inventory.id, inventory.owner  # a property that hashes: once, not per object
    labelled = [_labelled(m, set_id, owner) for m in prepared.manifests]
    result.desired = labelled
    stale = apply.candidates(inventory.members, {m.ref for m in labelled})
    if options.admit is not None:
        touched = [m.ref for m in labelled] + [m.ref for m in stale if options.prune]
        # Hooks are written too (as the inventory's namespace when they name none).
        touched += [await apply.hook_ref(cluster, h, inventory) for h in result.hooks.hooks]
        refused = options.admit(touched)
        if refused:
            return Refusal(Reason.DESTINATION_NOT_ALLOWED, refused)
    order = plan.reverse_order([m.ref for m in stale])
    return Draft(inventory, prepared, labelled, stale, order)


def _labelled(m: Manifest, set_id: str, owner: str) -> Manifest:
    """``m`` labelled as a member of the inventory. The labelled copy of a frozen object (from
    the parse cache, through ``plan.prepare``) is made once per inventory and kept in its memo,
    frozen too, so its fingerprint is computed once (issue 14, S3: 5,000 copies per push)."""
    known = memo(m.obj)
    if known is None:
        return Manifest(apply.label(m.obj, set_id, owner), m.origin)
    key = ("engine.labelled", set_id, owner, m.origin)
    hit = known.get(key)
    if hit is None:
        hit = known[key] = Manifest(freeze(apply.label(m.obj, set_id, owner)), m.origin)
    return hit


async def compare(
    cluster: Cluster, options: SyncOptions, result: SyncResult, d: Draft
) -> apply.SyncPlan:
    """The plan: live metadata per kind (from the controller's watch caches when they have
    seen clew's last apply, else one LIST); an object whose fingerprint, generation and
    resourceVersion match what the inventory recorded is unchanged and not applied."""
    inventory, labelled = d.inventory, d.labelled
    metas = await plan.live_metadata(
        cluster,
        labelled,
        label_selector=f"{apply.PART_OF}={inventory.id}",
        skip_kinds=d.prepared.pending_kinds,
        cache=options.live,
        floors=_floors(inventory.members) if options.live is not None else None,
    )
    live = {ref: str(meta.get("resourceVersion", "")) for ref, meta in metas.items()}
    if not options.adopt:  # another inventory's objects are conflicts, left untouched
        owners, known = _cached_owners(cluster, labelled, inventory.id, set(live), options.live)
        owners.update(
            await apply.foreign_owners(
                cluster, labelled, inventory.id, known=known, skip_kinds=d.prepared.pending_kinds
            )
        )
        d.prepared.failures.extend(apply.conflict(ref, o) for ref, o in owners.items())
        labelled = result.desired = [m for m in labelled if m.ref not in owners]
    recorded = {m.ref: (m.digest, m.version, m.generation, m.uid) for m in inventory.members}
    digests = {m.ref: plan.fingerprint(m.obj) for m in labelled}
    unchanged = [
        Change(
            m.ref,
            Action.UNCHANGED,
            version=recorded[m.ref][1],
            uid=metas[m.ref]["uid"],
            generation=recorded[m.ref][2],
        )
        for m in labelled
        if not plan.needs_apply(m, digests[m.ref], metas, recorded, options.correct_drift)
    ]
    skip = {c.ref for c in unchanged}
    waves = [
        [apply.ApplyItem(m.obj, m.origin, live.get(m.ref)) for m in wave if m.ref not in skip]
        for wave in plan.waves(labelled)
    ]
    return apply.SyncPlan(
        inventory=inventory,
        desired=labelled,
        waves=waves,
        unchanged=unchanged,
        stale=d.stale,
        prune_order=d.order,
        digests=digests,
        live=metas,
        failures=list(d.prepared.failures),
    )


def _cached_owners(
    cluster: Cluster,
    labelled: list[Manifest],
    set_id: str,
    mine: set[ObjectRef],
    cache: plan.LiveCache | None,
) -> tuple[dict[ObjectRef, apply.Owner], set[ObjectRef]]:
    """Other inventories' claims on desired objects that are not ours, from the watch caches
    (they hold every object carrying a part-of label), and the objects they answered for: the
    rest are looked up with LISTs. As with a LIST, a claim made a moment ago may not show yet."""
    kinds: dict[tuple[str, str], list[Manifest]] = {}
    for m in labelled:
        if m.ref not in mine:
            kinds.setdefault((str(m.obj["apiVersion"]), m.ref.kind), []).append(m)
    owners: dict[ObjectRef, apply.Owner] = {}
    known = set(mine)
    if cache is None:
        return owners, known
    for (api_version, kind), manifests in kinds.items():
        namespaces = {m.ref.namespace for m in manifests}
        get = cache.reader(cluster, api_version, kind, namespaces, 0)
        if get is None:
            continue
        for m in manifests:
            known.add(m.ref)
            obj = get(m.ref.namespace, m.ref.name)
            owner = apply.foreign_owner(obj.get("metadata") or {}, set_id) if obj else None
            if owner is not None:
                owners[m.ref] = owner
    return owners, known


def _floors(members: list[apply.Member]) -> dict[tuple[str, str], int]:
    """Per (group, kind), the newest resourceVersion clew's applies produced: a watch cache
    that has not seen it yet lags clew's own last sync, and the plan lists instead."""
    floors: dict[tuple[str, str], int] = {}
    for m in members:
        key = (m.ref.group, m.ref.kind)
        number = plan.version_number(m.version) if m.version else 0
        # A version that is not a number cannot be compared: no cache can be shown to hold it.
        floors[key] = max(floors.get(key, 0), number if number is not None else 1 << 62)
    return floors


async def dry_run(
    cluster: Cluster, options: SyncOptions, result: SyncResult, d: Draft
) -> list[Change]:
    """Plan with a server-side dry run of every object, and diffs; change nothing. Returns the
    objects that would fail."""
    the_plan = await plan.make_plan(
        cluster,
        d.labelled,
        force=options.force,
        concurrency=options.concurrency,
        pending_kinds=d.prepared.pending_kinds,
    )
    the_plan.failures.extend(d.prepared.failures)
    if not options.adopt:
        set_id = d.inventory.id
        owners = {
            i.manifest.ref: owner
            for i in the_plan.items
            if i.live and (owner := apply.foreign_owner(i.live["metadata"], set_id))
        }
        the_plan.items = [i for i in the_plan.items if i.manifest.ref not in owners]
        the_plan.failures.extend(apply.conflict(ref, o) for ref, o in owners.items())
    result.plan = the_plan
    if options.prune:
        result.pruned = await apply.prune(
            cluster, d.stale, d.order, set_id=d.inventory.id, dry_run=True
        )
    return the_plan.changeset().failed
