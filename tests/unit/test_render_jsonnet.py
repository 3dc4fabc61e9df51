"""No file is skipped silently, and Jsonnet is confined to its snapshot: a tree renders its
objects with a warning that lists the files it did not read; a tree where nothing renders is an
error, not an empty success; a Jsonnet import that leaves the snapshot is refused; a failing
program is an error naming the file, and one that never ends is stopped at the render timeout.
The happy path is the golden case fixtures/render/plain-jsonnet.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.render import (
    InvalidManifestError,
    RenderOptions,
    ToolError,
    UnsafeSourceError,
    render_all,
)

CONFIG_MAP = "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }\n"


def test_files_not_rendered_are_a_warning(tmp_path: Path) -> None:
    (tmp_path / "cm.jsonnet").write_text(CONFIG_MAP)
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "values.cue").write_text("x: 1\n")
    (tmp_path / "lib.libsonnet").write_text("{}\n")  # a library: read through imports only
    rendered = render_all(tmp_path)
    assert [m.ref.name for m in rendered.manifests] == ["c"]
    assert rendered.warnings == [
        "2 files not rendered (not YAML, JSON or Jsonnet): README.md, values.cue"
    ]


def test_a_tree_where_nothing_renders_is_an_error(tmp_path: Path) -> None:
    for name in ("a.libsonnet", "main.tf", "policy.rego"):
        (tmp_path / name).write_text("x\n")
    with pytest.raises(InvalidManifestError, match="nothing rendered: 2 files not rendered"):
        render_all(tmp_path)


def test_many_skipped_files_are_counted(tmp_path: Path) -> None:
    (tmp_path / "cm.jsonnet").write_text(CONFIG_MAP)
    for i in range(8):
        (tmp_path / f"notes{i}.txt").write_text("x\n")
    (warning,) = render_all(tmp_path).warnings
    assert warning.startswith("8 files not rendered")
    assert warning.endswith("notes4.txt and 3 more")


def test_an_import_outside_the_snapshot_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.libsonnet").write_text("{ secret: 'x' }\n")
    (root / "app.jsonnet").write_text("(import '../outside.libsonnet')\n")
    with pytest.raises(UnsafeSourceError, match="leaves the snapshot") as caught:
        render_all(root)
    assert caught.value.file == "app.jsonnet"


def test_a_failing_program_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "app.jsonnet").write_text("function(replicas) { n: std.parseInt(replicas) }\n")
    with pytest.raises(InvalidManifestError, match="jsonnet evaluation failed") as caught:
        render_all(tmp_path)  # the top-level argument is missing
    assert caught.value.file == "app.jsonnet"
    (tmp_path / "app.jsonnet").write_text("std.extVar('env')\n")
    with pytest.raises(InvalidManifestError, match="a string, not a Kubernetes object"):
        render_all(tmp_path, ".", RenderOptions(jsonnet_ext_vars={"env": "prod"}))


def test_a_program_that_never_ends_is_stopped_at_the_render_timeout(tmp_path: Path) -> None:
    (tmp_path / "loop.jsonnet").write_text("local f(n) = f(n + 1) tailstrict; f(0)\n")
    with pytest.raises(ToolError, match="did not finish within 2s") as caught:
        render_all(tmp_path, ".", RenderOptions(timeout=2))
    assert caught.value.timed_out
