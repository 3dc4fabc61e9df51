"""The inventory follows KEP-3659: the id is computed as kubectl computes it, members are labelled,
the parent lists group-kinds and namespaces, and the member list round-trips."""

from __future__ import annotations

from clew.apply import PART_OF, Inventory, Member, applyset_id, candidates, label, member_of
from clew.apply.applyset import GROUP_KINDS, ID_LABEL, NAMESPACES, _decode, parent_object
from clew.model import ObjectRef


def test_id_matches_kubectl_test_vector() -> None:
    # kubectl's own test: test-foo.test-ns.Foo.foo.bar
    assert applyset_id("test-foo", "test-ns", "Foo", "foo.bar") == (
        "applyset-f9Rk5tKHoB72oV1tU2iFKxDwL8MBZTjMHFQ8V9WNNlA-v1"
    )


def test_label_adds_part_of_without_mutating() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    labelled = label(obj, "applyset-x-v1")
    assert labelled["metadata"]["labels"] == {PART_OF: "applyset-x-v1"}
    assert "labels" not in obj["metadata"]


def test_parent_object_lists_group_kinds_namespaces_and_members() -> None:
    inventory = Inventory("web", "shop")
    members = [
        Member(ObjectRef("apps", "Deployment", "shop", "web"), "apps/v1"),
        Member(ObjectRef("", "ConfigMap", "other", "cfg"), "v1"),
        Member(ObjectRef("", "Namespace", "", "other"), "v1", prune=False),
    ]
    parent = parent_object(inventory, members)
    meta = parent["metadata"]
    assert meta["name"] == "clew-web"
    assert meta["labels"][ID_LABEL] == applyset_id("clew-web", "shop")
    assert meta["annotations"][GROUP_KINDS] == "ConfigMap,Deployment.apps,Namespace"
    assert meta["annotations"][NAMESPACES] == "other"
    assert sorted(_decode(parent["binaryData"]["members.json.gz"])) == sorted(members)


def test_member_of_reads_prune_opt_out() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "keep",
            "namespace": "a",
            "annotations": {"clew.dev/prune": "disabled"},
        },
    }
    member = member_of(obj)
    assert member.prune is False
    assert member.ref == ObjectRef("", "ConfigMap", "a", "keep")


def test_candidates_are_members_not_desired() -> None:
    a = Member(ObjectRef("", "ConfigMap", "n", "a"), "v1")
    b = Member(ObjectRef("", "ConfigMap", "n", "b"), "v1")
    assert candidates([a, b], {a.ref}) == [b]
