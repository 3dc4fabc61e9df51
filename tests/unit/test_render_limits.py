"""Bounded input: a YAML alias bomb is refused before it is expanded (yaml.v3's alias ratio, and
the byte limit for aliased long strings), naming the file and the alias's line; legitimate
aliases still load; a render passing the object count, the total bytes or the per-object request
limit is refused naming what passed it; a tool printing more than the limit is stopped; and a
file name that is not UTF-8 is refused with its bytes escaped while the tree digest copes."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from clew.model import Manifest
from clew.render import (
    MAX_OBJECT_BYTES,
    InvalidManifestError,
    RenderOptions,
    ToolError,
    render,
)
from clew.render.limits import allowed_alias_ratio, check_output
from clew.render.runner import run
from clew.render.yamlload import load_yaml
from clew.source import digest_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def bomb(levels: int) -> str:
    """The classic "billion laughs": each level is 9 aliases of the one before."""
    lines = [*CM.format(name="lol").splitlines(), "data:", '  l0: &l0 ["lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def configmap(name: str, **data: str) -> Manifest:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    return Manifest(obj, f"cms.yaml#{name}")


def test_yaml_v3_alias_ratio_table() -> None:
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert allowed_alias_ratio(4_000_000) == 0.10
    assert allowed_alias_ratio(10**9) == 0.10


@pytest.mark.parametrize("levels", [6, 9, 30])
def test_alias_bomb_is_refused_with_file_and_line(levels: int) -> None:
    with pytest.raises(InvalidManifestError, match="excessive aliasing: alias \\*l3 ") as info:
        load_yaml(bomb(levels), "bomb.yaml")
    # Copies pass 99% of 1,000+ nodes at level 4 (line 10), made of aliases to level 3.
    assert (info.value.file, info.value.line) == ("bomb.yaml", 10)


def test_render_refuses_the_bomb(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(bomb(9))
    with pytest.raises(InvalidManifestError, match=r"^bomb.yaml:10: excessive aliasing"):
        render(tmp_path)


def test_ordinary_aliases_and_merge_keys_load() -> None:
    text = "base: &base {a: 1, b: [1, 2, 3]}\n" + "".join(
        f"x{i}: {{<<: *base, c: {i}}}\n" for i in range(50)
    )
    (doc,) = load_yaml(text, "f.yaml")
    assert doc.data["x49"] == {"a": 1, "b": [1, 2, 3], "c": 49}


def test_aliased_long_strings_count_by_bytes() -> None:
    text = f"a: &s {'x' * 1000}\nb: [{', '.join(['*s'] * 60)}]\n"
    assert load_yaml(text, "f.yaml", max_bytes=100_000)  # 61 kB: under
    with pytest.raises(InvalidManifestError, match="expands the file to over 50000 bytes") as info:
        load_yaml(text, "f.yaml", max_bytes=50_000)
    assert info.value.line == 2


def test_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(InvalidManifestError, match=r"alias \*a refers to the node that contains"):
        load_yaml("a: &a [1, *a]\n", "f.yaml")


def test_explicit_tags_with_bad_values_are_yaml_errors() -> None:
    # "!!map 0" is not among them: kubectl reads it as "0" (fixture yaml-kubectl/tag-unknown).
    for text in ("!!int", "!!int x", "a: !!bool maybe", "!!timestamp 1", "!!float ."):
        with pytest.raises(InvalidManifestError, match=r"^f.yaml:1: invalid YAML"):
            load_yaml(text, "f.yaml")


def test_object_count_limit() -> None:
    manifests = [configmap(f"c{i}") for i in range(4)]
    check_output(manifests, max_objects=4)
    with pytest.raises(InvalidManifestError, match="renders more than 3 objects") as info:
        check_output(manifests, max_objects=3, where="apps/shop")
    assert info.value.file == "apps/shop"


def test_total_bytes_limit() -> None:
    manifests = [configmap(f"c{i}", k="v" * 1000) for i in range(10)]
    check_output(manifests, max_bytes=20_000)
    with pytest.raises(InvalidManifestError, match="more than 5000 bytes of objects"):
        check_output(manifests, max_bytes=5_000)


def test_one_object_over_the_request_limit_is_named() -> None:
    big = configmap("big", blob="x" * MAX_OBJECT_BYTES)
    with pytest.raises(InvalidManifestError) as info:
        check_output([configmap("small"), big], max_bytes=10 * MAX_OBJECT_BYTES)
    message = str(info.value)
    assert message.startswith("cms.yaml#big: ConfigMap/big is ")
    assert f"over the API server's {MAX_OBJECT_BYTES} byte request limit" in message


def test_render_options_carry_the_limits(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"c{i}.yaml").write_text(CM.format(name=f"c{i}"))
    assert len(render(tmp_path, options=RenderOptions(max_objects=3))) == 3
    with pytest.raises(InvalidManifestError, match="renders more than 2 objects"):
        render(tmp_path, options=RenderOptions(max_objects=2))
    with pytest.raises(InvalidManifestError, match=r"^c1.yaml: the manifests up to this file"):
        render(tmp_path, options=RenderOptions(max_bytes=100))


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_tool_output_is_read_with_a_cap(tmp_path: Path) -> None:
    # Would print 1 GB; stopped after the first 100 kB and killed.
    endless = "import sys\nwhile True: sys.stdout.write('x' * 65536)"
    with pytest.raises(ToolError, match="helm template printed more than 100000 bytes"):
        run(
            python(endless),
            env={},
            cwd=tmp_path,
            timeout=60,
            what="helm template",
            max_bytes=100_000,
        )


def test_tool_output_and_errors_come_back(tmp_path: Path) -> None:
    code = "import sys; print('a: 1'); print('bad' * 100000, file=sys.stderr); sys.exit(3)"
    proc = run(python(code), env={}, cwd=tmp_path, timeout=60, what="t", max_bytes=100)
    assert (proc.returncode, proc.stdout) == (3, "a: 1\n")
    assert proc.stderr.endswith("bad\n")
    assert len(proc.stderr) <= 256 * 1024


def test_tool_output_must_be_utf8(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.buffer.write(b'a: \\xff\\n')"
    with pytest.raises(ToolError, match=r"t printed output that is not UTF-8 \(byte 3\)"):
        run(python(code), env={}, cwd=tmp_path, timeout=60, what="t")


def test_tool_timeout_still_applies(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"did not finish within 0\.5s") as info:
        run(python("import time; time.sleep(30)"), env={}, cwd=tmp_path, timeout=0.5, what="t")
    assert info.value.timed_out


def test_non_utf8_file_name_is_named_escaped(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(CM.format(name="ok"))
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.yaml"), "w") as f:
        f.write(CM.format(name="bad"))
    with pytest.raises(InvalidManifestError) as info:
        render(tmp_path)
    assert str(info.value).startswith("bad\\xff.yaml: the file name is not UTF-8")
    str(info.value).encode("utf-8")  # printable, loggable, storable in a status


def test_non_utf8_names_elsewhere_do_not_stop_a_render(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(CM.format(name="ok"))
    with open(os.path.join(os.fsencode(tmp_path), b"notes\xfe.txt"), "w") as f:
        f.write("not a manifest")
    assert [m.ref.name for m in render(tmp_path)] == ["ok"]


def test_digest_covers_non_utf8_names_by_their_bytes(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path)
    with open(os.path.join(root, b"bad\xff.yaml"), "w") as f:
        f.write("x")
    expected = hashlib.sha256(b"F bad\xff.yaml\x001\x00x").hexdigest()
    assert digest_tree(tmp_path) == f"sha256:{expected}"
