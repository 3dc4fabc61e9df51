"""What reconciling an ApplicationSet now would do, without writing: ``clew diff appset``.

The same generation and plan as the controller's (:func:`clew.controller.appsets.reconciler
.generate`); an Application to update is compared after a server-side dry-run apply with the
set's field manager, so server defaults do not show as changes. A generation that fails raises,
as in the controller: nothing would be written then, and the error says why.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION as APP_API_VERSION
from clew.controller.api.spec import KIND as APP_KIND
from clew.controller.appsets.reconciler import generate
from clew.controller.appsets.spec import FIELD_MANAGER
from clew.source import SnapshotCache

__all__ = ["Preview", "preview"]


@dataclass(slots=True)
class Preview:
    created: list[str] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)  # name -> unified diff
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # create-only leaves them as they are
    conflicts: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.created or self.changed or self.deleted)


async def preview(cluster: Cluster, obj: dict[str, Any], snapshots: SnapshotCache) -> Preview:
    generated = await generate(cluster, obj, snapshots)
    decided = generated.plan
    out = Preview(
        created=[a["metadata"]["name"] for a in decided.create],
        deleted=[m["metadata"]["name"] for m in decided.delete],
        kept=list(decided.kept),
        conflicts=list(decided.conflicts),
    )
    for app in decided.update:
        meta = app["metadata"]
        live = await cluster.get(APP_API_VERSION, APP_KIND, meta["name"], meta["namespace"])
        after = await cluster.apply(app, field_manager=FIELD_MANAGER, force=True, dry_run=True)
        before_text, after_text = _shown(live), _shown(after)
        if before_text == after_text:
            out.unchanged.append(meta["name"])
            continue
        where = f"Application/{meta['namespace']}/{meta['name']}"
        out.changed[meta["name"]] = "".join(
            difflib.unified_diff(
                before_text.splitlines(keepends=True),
                after_text.splitlines(keepends=True),
                f"{where} (live)",
                f"{where} (generated)",
            )
        )
    return out


def _shown(app: dict[str, Any]) -> str:
    """What a set controls of an Application: its labels, annotations and spec."""
    meta = app.get("metadata") or {}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith("kubectl.kubernetes.io/")
    }
    shown = {
        "labels": meta.get("labels") or {},
        "annotations": annotations,
        "spec": app.get("spec") or {},
    }
    return yaml.safe_dump(shown, sort_keys=True, width=100)
