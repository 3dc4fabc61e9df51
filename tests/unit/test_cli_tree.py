"""``clew tree app``'s presentation: children drawn under their owners with tree lines, the sync
state of managed objects from ``status.resources`` (none for children, nor for the counts
earlier clew wrote there), and the JSON form holding the same tree."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from clew.cli.tree import rows, status_nodes, sync_states, tree_json
from clew.model import ObjectRef
from clew.wait.tree import Node, build

FIXTURE = Path(__file__).parent / "fixtures" / "tree" / "deployment-pods.yaml"
APP = {
    "metadata": {"name": "web", "namespace": "team"},
    "status": {
        "resources": [
            {"group": "apps", "kind": "Deployment", "namespace": "team", "name": "web",
             "health": "InProgress", "sync": "Drifted"},
            {"group": "", "kind": "Service", "namespace": "team", "name": "web",
             "health": "Current", "sync": "Synced"},
        ]
    },
}  # fmt: skip


def _nodes() -> list[Node]:
    fixture = yaml.safe_load(FIXTURE.read_text())
    members = []
    for api_version, text in fixture["members"]:
        kind, namespace, name = text.split("/")
        members.append(
            (ObjectRef(api_version.rpartition("/")[0], kind, namespace, name), api_version)
        )
    live = {ObjectRef.from_object(o): o for o in fixture["live"]}
    return build(members, live, fixture["candidates"])


def test_rows_draw_the_tree_with_sync_states() -> None:
    got = [(r[0], r[2], r[3]) for r in rows(_nodes(), sync_states(APP))]
    assert got == [
        ("Deployment/web", "InProgress", "Drifted"),
        ("├── ReplicaSet/web-new", "InProgress", "-"),
        ("│   ├── Pod/web-new-a", "Current", "-"),
        ("│   └── Pod/web-new-b", "InProgress", "-"),
        ("└── ReplicaSet/web-old", "Current", "-"),
        ("Service/web", "Current", "Synced"),
    ]


def test_counts_written_by_earlier_clew_give_no_sync_state() -> None:
    assert sync_states({"status": {"resources": {"current": 2}}}) == {}


def test_json_holds_the_tree_and_sync_of_managed_objects() -> None:
    data = json.loads(tree_json(APP, _nodes()))
    assert data["application"] == {"namespace": "team", "name": "web"}
    deployment = data["objects"][0]
    assert (deployment["kind"], deployment["sync"], deployment["managed"]) == (
        "Deployment",
        "Drifted",
        True,
    )
    pods = deployment["children"][0]["children"]
    assert [p["name"] for p in pods] == ["web-new-a", "web-new-b"]
    assert "sync" not in pods[0]


def test_an_application_on_another_cluster_is_drawn_from_its_status() -> None:
    nodes = status_nodes(APP)
    assert [(n.kind, n.name, n.health, n.managed, n.children) for n in nodes] == [
        ("Deployment", "web", "InProgress", True, []),
        ("Service", "web", "Current", True, []),
    ]
    body = json.loads(tree_json(APP, nodes, source="status"))
    assert body["source"] == "status"
    assert [o["sync"] for o in body["objects"]] == ["Drifted", "Synced"]
    # Nothing written yet, or the counts earlier clew wrote there: no objects, no error.
    assert status_nodes({"status": {"resources": {"Current": 2}}}) == []
    assert status_nodes({}) == []
