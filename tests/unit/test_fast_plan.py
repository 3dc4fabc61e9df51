"""The cheap plan's change detection (``plan.needs_apply``): a resourceVersion moved on by status
writes alone is not drift for kinds with a generation, while a spec change (generation), a label or
annotation clew set, a re-created object (uid), or any kind without a generation still is."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from clew.apply.applyset import Member, _decode, _encode
from clew.model import Manifest, ObjectRef
from clew.plan import fingerprint, needs_apply

LABELS = {"app": "web", "applyset.kubernetes.io/part-of": "applyset-x-v1"}


def deployment(**meta: Any) -> Manifest:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": LABELS, **meta},
        "spec": {"replicas": 1},
    }
    return Manifest(obj, "web.yaml#0")


def live(**changes: Any) -> dict[str, Any]:
    meta = {"resourceVersion": "11", "generation": 1, "uid": "u-1", "labels": dict(LABELS)}
    meta.update(changes)
    return meta


def check(manifest: Manifest, meta: dict[str, Any] | None, correct_drift: bool = True) -> bool:
    digest = fingerprint(manifest.obj)
    recorded = {manifest.ref: (digest, "10", 1, "u-1")}
    lives = {} if meta is None else {manifest.ref: meta}
    return needs_apply(manifest, digest, lives, recorded, correct_drift)


def test_same_version_needs_nothing() -> None:
    assert not check(deployment(), live(resourceVersion="10"))


def test_status_writes_alone_are_not_drift() -> None:
    # The deployment controller wrote status (new resourceVersion, same generation).
    assert not check(deployment(), live(annotations={"deployment.kubernetes.io/revision": "1"}))


@pytest.mark.parametrize(
    "meta",
    [
        live(generation=2),  # someone edited the spec
        live(uid="u-2"),  # deleted and re-created by someone else: generation restarted at 1
        live(labels={"app": "web"}),  # clew's ApplySet label removed
        live(labels={**LABELS, "app": "api"}),  # a label clew sets, changed
        live(generation=0),  # a kind without a generation: only the resourceVersion tells
        None,  # gone
    ],
    ids=["spec", "recreated", "label-removed", "label-changed", "no-generation", "gone"],
)
def test_drift_is_still_corrected(meta: dict[str, Any] | None) -> None:
    assert check(deployment(), meta)


def test_annotation_clew_sets_is_compared() -> None:
    manifest = deployment(annotations={"team": "a"})
    assert not check(manifest, live(annotations={"team": "a", "other": "x"}))
    assert check(manifest, live(annotations={"team": "b"}))


def test_other_metadata_falls_back_to_the_version() -> None:
    assert check(deployment(finalizers=["example.com/keep"]), live())


def test_without_drift_correction_only_git_and_existence_count() -> None:
    assert not check(deployment(), live(generation=2), correct_drift=False)
    assert check(deployment(), None, correct_drift=False)


def test_git_change_always_applies() -> None:
    manifest = deployment()
    recorded = {manifest.ref: ("other-digest", "10", 1, "u-1")}
    meta = {manifest.ref: live(resourceVersion="10")}
    assert needs_apply(manifest, fingerprint(manifest.obj), meta, recorded)


def test_inventory_rows_keep_generation_and_read_older_rows() -> None:
    ref = ObjectRef("apps", "Deployment", "shop", "web")
    member = Member(ref, "apps/v1", True, "d", "10", "u-1", 3)
    assert _decode(_encode([member])) == [member]
    # Rows written by older clew: 9 fields (no generation), 8 (no uid either).
    for row, uid in (
        (["apps", "Deployment", "shop", "web", "apps/v1", True, "d", "10", "u-1"], "u-1"),
        (["apps", "Deployment", "shop", "web", "apps/v1", True, "d", "10"], ""),
    ):
        data = base64.b64encode(gzip.compress(json.dumps([row]).encode())).decode()
        assert _decode(data) == [Member(ref, "apps/v1", True, "d", "10", uid, 0)]
