"""From parameter sets to Applications, and from Applications to what the policy allows: pure.

:func:`applications` fills the template once per set and validates each result as an
Application (:func:`clew.controller.api.spec.parse`); any failure fails the whole set, so a
bad template can never look like "generate nothing". :func:`decide` pairs the result with the
Applications that exist in the set's namespace and says which to create, update and delete.

Ownership is the owner reference with the set's UID, not the label (a label can be copied by
hand, a UID cannot): an Application of the same name that this set does not own is a conflict,
left alone and reported. Deletion happens only under ``sync``, and only of owned Applications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clew.controller.api.fields import InvalidSpec
from clew.controller.api.spec import API_VERSION as APP_API_VERSION
from clew.controller.api.spec import KIND as APP_KIND
from clew.controller.api.spec import parse as parse_application
from clew.controller.appsets.generators import GeneratorError, Params
from clew.controller.appsets.spec import API_VERSION, KIND, SET_LABEL, AppSetSpec, Policy
from clew.controller.appsets.templating import TemplateError, fill

__all__ = ["Plan", "applications", "decide", "owned"]


@dataclass(frozen=True, slots=True)
class Plan:
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)  # live objects (metadata)
    kept: list[str] = field(default_factory=list)  # exist, and create-only leaves them
    conflicts: list[str] = field(default_factory=list)  # exist, owned by someone else
    live: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name, as listed


def applications(spec: AppSetSpec, sets: list[Params]) -> list[dict[str, Any]]:
    """One Application per parameter set; raises :class:`TemplateError` or
    :class:`GeneratorError` (two sets giving the same name)."""
    out: dict[str, dict[str, Any]] = {}
    for params in sets:
        app = _application(spec, params)
        name = app["metadata"]["name"]
        if name in out:
            raise GeneratorError(
                f"two parameter sets give the Application name {name!r}",
                hint="make spec.template.metadata.name unique, e.g. with {{path.basename}}",
            )
        out[name] = app
    return list(out.values())


def _application(spec: AppSetSpec, params: Params) -> dict[str, Any]:
    filled = fill(spec.template, params)
    meta = filled.get("metadata") or {}
    name = str(meta.get("name") or "")
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": spec.key.namespace,
        "labels": {**(meta.get("labels") or {}), SET_LABEL: spec.key.name},
        # No blockOwnerDeletion: it would need update on the set's finalizers, and nothing
        # here depends on the order in which the garbage collector removes things.
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": spec.key.name,
                "uid": spec.uid,
                "controller": True,
            }
        ],
    }
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    app = {"apiVersion": APP_API_VERSION, "kind": APP_KIND, "metadata": metadata}
    app["spec"] = filled["spec"]
    try:
        parse_application(app, namespace=spec.key.namespace)
        if not isinstance(metadata["labels"], Mapping) or not all(
            isinstance(v, str) for v in metadata["labels"].values()
        ):
            raise InvalidSpec("must map names to strings", field="metadata.labels")
    except InvalidSpec as exc:
        raise TemplateError(
            f"Application {name!r} from parameters {_short(params)}: {exc.message}",
            hint="fix spec.template",
        ) from None
    return app


def _short(params: Params) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in list(params.items())[:4])
    return "{" + shown + (", …}" if len(params) > 4 else "}")


def owned(live: Mapping[str, Any], uid: str) -> bool:
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    return bool(uid) and any(r.get("uid") == uid for r in refs)


def decide(spec: AppSetSpec, desired: list[dict[str, Any]], live: list[dict[str, Any]]) -> Plan:
    """What ``spec.policy`` allows, given the Applications ``live`` in the set's namespace."""
    by_name = {str((m.get("metadata") or {}).get("name")): m for m in live}
    plan = Plan(live=by_name)
    for app in desired:
        name = app["metadata"]["name"]
        existing = by_name.get(name)
        if existing is None:
            plan.create.append(app)
        elif not owned(existing, spec.uid):
            plan.conflicts.append(name)
        elif spec.policy is Policy.CREATE_ONLY:
            plan.kept.append(name)
        else:
            plan.update.append(app)
    if spec.policy is Policy.SYNC:
        wanted = {app["metadata"]["name"] for app in desired}
        plan.delete.extend(
            m
            for name, m in sorted(by_name.items())
            if name not in wanted
            and owned(m, spec.uid)
            and not (m.get("metadata") or {}).get("deletionTimestamp")
        )
    return plan
