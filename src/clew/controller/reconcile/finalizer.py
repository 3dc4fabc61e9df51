"""The Application's finalizer: added before anything is applied, and on deletion removed only
after its objects were pruned (and its delete hooks run), unless prune is off or it is suspended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clew import engine
from clew.cluster import Cluster, ClusterError, NotFound
from clew.controller.api.spec import (
    API_VERSION,
    FINALIZER,
    KIND,
    AppKey,
    AppSpec,
    InvalidSpec,
    parse,
)
from clew.controller.api.tenancy import destinations
from clew.controller.reconcile import outcomes
from clew.controller.reconcile.clients import DestinationUnavailable
from clew.controller.reconcile.outcomes import Outcome
from clew.model import Action, Reason

if TYPE_CHECKING:
    from clew.controller.reconcile.reconciler import Reconciler

__all__ = ["ensure", "finalize"]

_UNINSTALL_RETRY = 30.0


async def ensure(cluster: Cluster, key: AppKey, app: dict[str, Any]) -> None:
    """Add the finalizer unless it is there; ``app`` gets the updated metadata."""
    finalizers = list(app["metadata"].get("finalizers") or [])
    if FINALIZER in finalizers:
        return
    await _set(cluster, key, app, [*finalizers, FINALIZER])
    app["metadata"] = (await cluster.get(API_VERSION, KIND, key.name, key.namespace))["metadata"]


async def finalize(r: Reconciler, key: AppKey, app: dict[str, Any]) -> Outcome:
    """An Application being deleted: uninstall what it applied, then let it go."""
    finalizers = list(app["metadata"].get("finalizers") or [])
    if FINALIZER not in finalizers:
        return Outcome(None, True, Reason.DELETED)
    if r.drift is not None:
        r.drift.untrack(key)  # deleting its objects now is not drift to repair
    try:
        spec: AppSpec | None = parse(app, namespace=key.namespace)
    except InvalidSpec:
        spec = None  # never prune on a spec we cannot read
    if spec is not None and spec.prune and not spec.suspend:
        # Delete hooks are rendered from what was last applied, as helm uninstalls a release;
        # in a namespace being deleted they cannot run (nor can credentials be read).
        applied = str((app.get("status") or {}).get("lastAppliedRevision") or "")
        going = await _terminating(r.cluster, key.namespace, spec.destination_namespace)
        if going:
            note = f"namespace {going} is being deleted: delete hooks, if any, are not run"
            await r.event(app, "Warning", "HooksSkipped", note)
        # Prune on deletion is held to the allowed destinations as a sync's prune is: an
        # inventory naming objects outside them (written before the rules narrowed) keeps them.
        allowed = await destinations(r.cluster, key.namespace)
        try:
            target = await r.clients.resolve(key, spec)
        except DestinationUnavailable as exc:  # its objects wait with the finalizer
            await r.finish(app, ok=False, reason=exc.reason, message=exc.message)
            return Outcome(exc.after, False, exc.reason)
        result = await engine.uninstall(
            target,
            r.fetcher(key, spec, applied),
            r.options(key, spec, allowed),
            hooks=not going,
        )
        if not result.ok:
            await r.finish(app, ok=False, reason=result.reason, message=result.error)
            await r.event(app, "Warning", result.reason, result.error)
            return Outcome(_UNINSTALL_RETRY, False, result.reason)
        hooks = f", ran {len(result.hook_changes.changes)} hooks" if result.hooks else ""
        deleted = result.pruned.counts()[Action.DELETED]
        await r.event(app, "Normal", "Pruned", f"deleted {deleted} objects{hooks}")
        kept = outcomes.kept_event(result.pruned)
        if kept is not None:
            await r.event(app, kept.type, kept.reason, kept.note)
    finalizers.remove(FINALIZER)
    await r.clients.release(key)  # before it is gone: a closed client is never seen in use
    await _set(r.cluster, key, app, finalizers)
    r.forget(key)
    return Outcome(None, True, Reason.DELETED)


async def _set(cluster: Cluster, key: AppKey, app: dict[str, Any], finalizers: list[str]) -> None:
    meta = {"finalizers": finalizers, "resourceVersion": app["metadata"]["resourceVersion"]}
    await cluster.patch(API_VERSION, KIND, key.name, {"metadata": meta}, namespace=key.namespace)


async def _terminating(cluster: Cluster, *namespaces: str) -> str:
    """The first of ``namespaces`` that is being deleted (or is gone), else ""."""
    for name in dict.fromkeys(namespaces):
        try:
            namespace = await cluster.get("v1", "Namespace", name)
        except NotFound:
            return name
        except ClusterError:  # cannot tell (e.g. not allowed to read Namespaces): run them
            continue
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            return name
    return ""
