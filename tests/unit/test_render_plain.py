"""The plain renderer and the rules every renderer shares: malformed input is reported with its
file and line, documents must be named Kubernetes objects, nothing is read from outside the
snapshot (``..``, absolute paths, symlinks to files or directories elsewhere), the same object
twice is refused naming both files, and the order is deterministic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clew.model import Manifest, RenderError
from clew.render import (
    MAX_FILE_BYTES,
    InvalidManifestError,
    RenderOptions,
    UnsafeSourceError,
    detect,
    render,
)

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    """A snapshot root with a sibling directory that must never be read."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(CM.format(name="stolen"))
    (tmp_path / "snap").mkdir()
    return tmp_path / "snap"


def names(manifests: list[Manifest]) -> list[str]:
    return [m.obj["metadata"]["name"] for m in manifests]


def test_malformed_yaml_names_file_and_line(snap: Path) -> None:
    tree(snap, {"apps/bad.yaml": CM.format(name="ok") + "---\nkind: X\n  bad: indent\n"})
    with pytest.raises(InvalidManifestError) as info:
        render(snap)
    assert info.value.file == "apps/bad.yaml"
    assert info.value.line == 7
    assert str(info.value).startswith("apps/bad.yaml:7: invalid YAML")
    assert isinstance(info.value, RenderError)


def test_malformed_json_names_file_and_line(snap: Path) -> None:
    # Not JSON, so read as YAML (as kubectl does), which it is not either.
    tree(snap, {"cm.json": '{\n  "apiVersion": "v1",\n  "kind": [\n}\n'})
    with pytest.raises(InvalidManifestError, match=r"^cm\.json:4: invalid YAML"):
        render(snap)


def test_duplicate_mapping_key_is_an_error(snap: Path) -> None:
    tree(snap, {"cm.yaml": CM.format(name="a") + "  name: b\n"})
    with pytest.raises(InvalidManifestError, match=r"cm\.yaml:5: .*duplicate key 'name'"):
        render(snap)


def test_merge_keys_may_be_overridden(snap: Path) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n"
        "data:\n  base: &b {a: '1', b: '2'}\n  x:\n    <<: *b\n    b: '3'\n"
    )
    tree(snap, {"cm.yaml": text})
    (manifest,) = render(snap, options=RenderOptions(kind="plain"))
    assert manifest.obj["data"]["x"] == {"a": "1", "b": "3"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nmetadata: {name: a}\n", r"document 1 has no kind"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", r"document 1 has no apiVersion"),
        ("apiVersion: v1\nkind: ConfigMap\n", r"document 1 \(ConfigMap\) has no metadata"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", r"has no metadata\.name"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 7}\n", r"metadata\.name is not"),
        ("- a\n- b\n", r"document 1 is a list, not a Kubernetes object"),
        ("just text\n", r"document 1 is a string"),
    ],
)
def test_document_must_be_a_named_object(snap: Path, text: str, message: str) -> None:
    tree(snap, {"x.yaml": text})
    with pytest.raises(InvalidManifestError, match=message) as info:
        render(snap)
    assert info.value.file == "x.yaml"


def test_missing_kind_names_the_document_and_its_line(snap: Path) -> None:
    tree(snap, {"x.yaml": CM.format(name="a") + "---\napiVersion: v1\nmetadata: {name: b}\n"})
    with pytest.raises(InvalidManifestError, match=r"^x\.yaml:6: document 2 has no kind"):
        render(snap)


def test_generate_name_is_refused(snap: Path) -> None:
    tree(snap, {"job.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: j-}\n"})
    with pytest.raises(InvalidManifestError, match="generateName") as info:
        render(snap)
    assert "fixed metadata.name" in info.value.hint


def test_list_items_are_checked(snap: Path) -> None:
    tree(snap, {"l.yaml": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: X}\n"})
    with pytest.raises(InvalidManifestError, match=r"document 1 item 0 \(X\) has no metadata"):
        render(snap)


def test_json_list_is_expanded(snap: Path) -> None:
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}} for n in "ab"]
    tree(
        snap, {"l.json": json.dumps({"apiVersion": "v1", "kind": "ConfigMapList", "items": items})}
    )
    assert [m.origin for m in render(snap)] == ["l.json#1.items[0]", "l.json#1.items[1]"]


def test_order_is_sorted_relative_paths_then_documents(snap: Path) -> None:
    tree(
        snap,
        {
            "b.yaml": CM.format(name="b1") + "---\n" + CM.format(name="b2"),
            "a/z.yml": CM.format(name="az"),
            "a.yaml": CM.format(name="a"),
            "a-c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ac"}}',
            "c.txt": "ignored",
            "empty.yaml": "",
            "blank.json": "\n",
        },
    )
    assert names(render(snap)) == ["ac", "a", "az", "b1", "b2"]


def test_single_file_path(snap: Path) -> None:
    tree(snap, {"apps/one.yaml": CM.format(name="one"), "apps/two.yaml": CM.format(name="two")})
    (manifest,) = render(snap, "apps/one.yaml")
    assert manifest.origin == "apps/one.yaml#1"


def test_path_with_dotdot_inside_the_root_is_fine(snap: Path) -> None:
    tree(snap, {"apps/one.yaml": CM.format(name="one"), "lib/x.txt": ""})
    assert names(render(snap, "lib/../apps")) == ["one"]


@pytest.mark.parametrize("path", ["..", "../outside", "apps/../../outside", "./../snap"])
def test_path_leaving_the_root_is_refused(snap: Path, path: str) -> None:
    (snap / "apps").mkdir()
    with pytest.raises(UnsafeSourceError, match="leaves the snapshot"):
        render(snap, path)


def test_absolute_path_is_refused(snap: Path) -> None:
    with pytest.raises(UnsafeSourceError, match="is absolute"):
        render(snap, str(snap))


def test_missing_path(snap: Path) -> None:
    with pytest.raises(InvalidManifestError, match="does not exist"):
        render(snap, "nope")


def test_symlinked_file_leaving_the_root_is_refused(snap: Path) -> None:
    tree(snap, {"apps/ok.yaml": CM.format(name="ok")})
    (snap / "apps" / "evil.yaml").symlink_to(snap.parent / "outside" / "secret.yaml")
    with pytest.raises(UnsafeSourceError, match="outside the snapshot") as info:
        render(snap)
    assert info.value.file == "apps/evil.yaml"


def test_symlinked_directory_leaving_the_root_is_refused(snap: Path) -> None:
    (snap / "apps").mkdir()
    (snap / "apps" / "linked").symlink_to(snap.parent / "outside", target_is_directory=True)
    with pytest.raises(UnsafeSourceError, match="outside the snapshot") as info:
        render(snap)
    assert info.value.file == "apps/linked"
    # ... also when it is the render path itself, or a component of it
    with pytest.raises(UnsafeSourceError, match="through a symlink"):
        render(snap, "apps/linked")
    with pytest.raises(UnsafeSourceError, match="through a symlink"):
        render(snap, "apps/linked/secret.yaml")


def test_relative_symlink_climbing_out_is_refused(snap: Path) -> None:
    (snap / "apps").mkdir()
    os.symlink("../../outside/secret.yaml", snap / "apps" / "rel.yaml")
    with pytest.raises(UnsafeSourceError):
        render(snap)


def test_symlinks_inside_the_root_are_followed(snap: Path) -> None:
    tree(snap, {"shared/cm.yaml": CM.format(name="shared")})
    (snap / "apps").mkdir()
    (snap / "apps" / "shared").symlink_to("../shared", target_is_directory=True)
    manifests = render(snap, "apps")
    assert [m.origin for m in manifests] == ["apps/shared/cm.yaml#1"]


def test_symlink_loop_is_an_error(snap: Path) -> None:
    (snap / "apps").mkdir()
    (snap / "apps" / "loop").symlink_to("..", target_is_directory=True)
    with pytest.raises(UnsafeSourceError, match="symlink loop"):
        render(snap)


def test_broken_symlink_to_a_manifest_is_an_error(snap: Path) -> None:
    (snap / "gone.yaml").symlink_to("missing.yaml")
    with pytest.raises(InvalidManifestError, match="broken symlink"):
        render(snap)


def test_symlinked_root_is_fine(snap: Path) -> None:
    tree(snap, {"cm.yaml": CM.format(name="a")})
    link = snap.parent / "link"
    link.symlink_to(snap, target_is_directory=True)
    assert names(render(link)) == ["a"]


def test_duplicate_object_names_both_files(snap: Path) -> None:
    tree(snap, {"a/cm.yaml": CM.format(name="same"), "b/cm.json": ""})
    (snap / "b" / "cm.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "same"}}'
    )
    with pytest.raises(InvalidManifestError) as info:
        render(snap)
    assert "ConfigMap/same is defined twice: in a/cm.yaml#1 and in b/cm.json#1" in str(info.value)


def test_same_name_in_other_namespace_or_group_is_not_a_duplicate(snap: Path) -> None:
    text = (
        CM.format(name="x")
        + "---\n"
        + CM.format(name="x")
        + "  namespace: other\n---\n"
        + "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    )
    tree(snap, {"x.yaml": text})
    assert len(render(snap)) == 3


def test_version_does_not_make_an_object_distinct(snap: Path) -> None:
    a = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
    tree(snap, {"x.yaml": a + "---\n" + a.replace("apps/v1", "apps/v1beta2")})
    with pytest.raises(InvalidManifestError, match=r"Deployment/d \(group apps\) is defined"):
        render(snap)


def test_file_over_the_size_cap_is_refused(snap: Path) -> None:
    with (snap / "huge.yaml").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(InvalidManifestError, match="byte limit") as info:
        render(snap)
    assert info.value.file == "huge.yaml"


def test_non_utf8_is_an_error(snap: Path) -> None:
    (snap / "latin.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\n# caf\xe9\n")
    with pytest.raises(InvalidManifestError, match="not UTF-8"):
        render(snap)


def test_hidden_directories_are_skipped(snap: Path) -> None:
    tree(snap, {".github/workflows/ci.yml": "on: push\n", "cm.yaml": CM.format(name="a")})
    assert names(render(snap)) == ["a"]


def test_detect(snap: Path) -> None:
    tree(
        snap,
        {
            "k/kustomization.yaml": "resources: []\n",
            "k2/Kustomization": "resources: []\n",
            "both/kustomization.yml": "resources: []\n",
            "both/Chart.yaml": "name: c\n",
            "h/Chart.yaml": "name: c\n",
            "p/cm.yaml": CM.format(name="a"),
        },
    )
    assert detect(snap / "k") == "kustomize"
    assert detect(snap / "k2") == "kustomize"
    assert detect(snap / "both") == "kustomize"
    assert detect(snap / "h") == "helm"
    assert detect(snap / "p") == "plain"
    assert detect(snap / "p" / "cm.yaml") == "plain"


def test_explicit_plain_ignores_a_chart(snap: Path) -> None:
    tree(snap, {"Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"})
    with pytest.raises(InvalidManifestError, match="has no kind"):
        render(snap, options=RenderOptions(kind="plain"))


def test_options_are_hashable_and_frozen() -> None:
    options = RenderOptions(values={"a": 1})
    assert hash(options) == hash(RenderOptions(values={"a": 2}))
    assert options != RenderOptions(values={"a": 2})
    with pytest.raises(AttributeError):
        options.kind = "helm"  # type: ignore[misc]


def test_kustomize_or_helm_need_a_directory(snap: Path) -> None:
    tree(snap, {"cm.yaml": CM.format(name="a")})
    with pytest.raises(InvalidManifestError, match="helm renders a directory, not a file"):
        render(snap, "cm.yaml", RenderOptions(kind="helm"))


def test_a_nested_kustomization_hints_at_path(snap: Path) -> None:
    """A repository root without a kustomization, one below: kustomize's input is not read as
    manifests, and the error names the directory to render."""
    tree(
        snap,
        {
            "README.yaml": CM.format(name="readme"),
            "overlays/prod/kustomization.yaml": "resources:\n- ../../base\n",
            "base/kustomization.yaml": "resources:\n- cm.yaml\n",
            "base/cm.yaml": CM.format(name="a"),
        },
    )
    with pytest.raises(InvalidManifestError) as caught:
        render(snap)
    error = caught.value
    assert error.file == "base/kustomization.yaml"
    assert "base holds a kustomization (also: overlays/prod)" in str(error)
    assert error.hint is not None
    assert "--path base" in error.hint
    assert "spec.source.path" in error.hint


def test_a_nested_chart_hints_at_path_below_the_render_path(snap: Path) -> None:
    tree(snap, {"apps/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n"})
    with pytest.raises(
        InvalidManifestError, match=r"^apps/web/Chart.yaml: apps has no kustomization"
    ) as caught:
        render(snap, "apps")
    assert caught.value.hint is not None
    assert "--path apps/web" in caught.value.hint
    assert "a Helm chart" in str(caught.value)


def test_the_path_to_the_kustomization_renders_as_usual(snap: Path) -> None:
    tree(
        snap, {"deploy/kustomization.yaml": "resources: []\n", "other/cm.yaml": CM.format(name="b")}
    )
    assert detect(snap / "deploy") == "kustomize"
    assert [m.ref.name for m in render(snap, "other")] == ["b"]
