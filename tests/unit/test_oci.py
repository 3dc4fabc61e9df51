"""clew.testing.oci writes the same bytes for the same files: the order files were created in and
mtimes after SOURCE_DATE_EPOCH change nothing; entries are sorted, owners numeric and nameless,
hard links stay links, the gzip carries no time; the layout's index names the image for containerd
and for OCI tools, and its blobs are addressed by their sha256."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path

from clew.testing import oci

EPOCH = 1_700_000_000


def make_tree(root: Path, order: list[str], mtime: int) -> Path:
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    if (root / "bin" / "tool").exists():
        os.link(root / "bin" / "tool", root / "bin" / "alias")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return root


def test_same_files_same_layer(tmp_path: Path) -> None:
    names = ["etc/config", "bin/tool", "usr/lib/b.py", "usr/lib/a.py"]
    first = make_tree(tmp_path / "one", names, EPOCH + 500)
    second = make_tree(tmp_path / "two", list(reversed(names)), EPOCH + 9_000)
    layer_one = oci.write_layer(first, tmp_path / "one.tar.gz", EPOCH)
    layer_two = oci.write_layer(second, tmp_path / "two.tar.gz", EPOCH)
    assert layer_one.digest == layer_two.digest
    assert layer_one.diff_id == layer_two.diff_id
    blob = (tmp_path / "one.tar.gz").read_bytes()
    assert layer_one.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer_one.size == len(blob)
    assert blob[4:8] == b"\0\0\0\0"  # gzip MTIME field


def test_entries_sorted_clamped_nameless_linked(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", ["b/x", "a/y", "bin/tool"], EPOCH + 100)
    os.utime(tree / "a" / "y", (EPOCH - 100, EPOCH - 100))  # older than the epoch: kept
    oci.write_layer(tree, tmp_path / "layer.tar.gz", EPOCH)
    with tarfile.open(tmp_path / "layer.tar.gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == ["a", "a/y", "b", "b/x", "bin", "bin/alias", "bin/tool"]
    by_name = {m.name: m for m in members}
    assert by_name["a/y"].mtime == EPOCH - 100
    assert {m.mtime for n, m in by_name.items() if n != "a/y"} == {EPOCH}
    assert {(m.uname, m.gname) for m in members} == {("", "")}
    assert by_name["bin/tool"].islnk()
    assert by_name["bin/tool"].linkname == "bin/alias"


def test_layout_and_archive(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", ["bin/tool"], EPOCH)
    layer = oci.write_layer(tree, tmp_path / "layer.tar.gz", EPOCH)
    layout = tmp_path / "oci"
    digest = oci.write_layout(layout, [layer], {"User": "65532:65532"}, EPOCH, "example/app:1")
    index = json.loads((layout / "index.json").read_text())
    described = index["manifests"][0]
    assert described["digest"] == digest
    assert described["annotations"] == {
        oci.CONTAINERD_NAME: "example/app:1",
        oci.OCI_REF_NAME: "example/app:1",
    }
    manifest = json.loads(
        (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_text()
    )
    config_digest = manifest["config"]["digest"].removeprefix("sha256:")
    config = json.loads((layout / "blobs" / "sha256" / config_digest).read_text())
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert config["rootfs"]["diff_ids"] == [layer.diff_id]
    assert "history" not in config
    for blob in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

    oci.write_archive(layout, tmp_path / "one.tar", EPOCH)
    oci.write_archive(layout, tmp_path / "two.tar", EPOCH)
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    with tarfile.open(tmp_path / "one.tar") as tar:
        assert {"oci-layout", "index.json"} <= set(tar.getnames())


def test_layer_is_a_gzip_of_its_diff(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", ["f"], EPOCH)
    layer = oci.write_layer(tree, tmp_path / "layer.tar.gz", EPOCH)
    plain = gzip.decompress((tmp_path / "layer.tar.gz").read_bytes())
    assert layer.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert layer.uncompressed == len(plain)
