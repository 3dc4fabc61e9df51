"""The parse cache (issue 14, S3; issue 16, crds22): a second render of unchanged files parses
nothing and hands out the very same objects, which are read-only (a later stage that tries to
change one in place gets a TypeError and the next render reads what the file says; copies change
freely, and a substitution or SOPS decryption of a cached file works on copies);
a changed file is parsed again and its new content wins; a file that fails to parse fails again
on every render, as nothing but successes is stored; the limits still hold on a hit (the alias
and byte limits are part of the key, names that are not UTF-8 are refused before the cache is
asked, the byte and object caps are checked on every render); substituted text is keyed after
substitution; the LRU is bounded by entries and bytes."""

from __future__ import annotations

import copy
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clew.render import MAX_OBJECT_BYTES, InvalidManifestError, RenderOptions, render
from clew.render.parsecache import PARSED, ParseCache
from clew.render.yamlload import load_yaml

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: '{value}'\n"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    PARSED.clear()
    yield
    PARSED.clear()


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_unchanged_files_are_not_parsed_again(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {"a.yaml": CM.format(name="a", value="1"), "b.yaml": CM.format(name="b", value="2")},
    )
    first = render(tmp_path)
    assert (PARSED.stats.hits, PARSED.stats.misses) == (0, 2)
    second = render(tmp_path)
    assert (PARSED.stats.hits, PARSED.stats.misses) == (2, 2)
    assert [m.obj for m in second] == [m.obj for m in first]
    assert [m.origin for m in second] == ["a.yaml#1", "b.yaml#1"]


WRITES: list[Callable[[Any], object]] = [
    lambda o: o.__setitem__("kind", "Secret"),
    lambda o: o["metadata"].__setitem__("namespace", "changed-by-a-later-stage"),
    lambda o: o["data"].update(key="x"),
    lambda o: o["data"].pop("key"),
    lambda o: o["data"].setdefault("new", "x"),
    lambda o: o["data"].clear(),
    lambda o: o["metadata"].__delitem__("name"),
    lambda o: o["items"].append("x"),
    lambda o: o["items"].__setitem__(0, "x"),
    lambda o: o["items"].sort(),
    lambda o: o["items"][1].__setitem__("deep", "x"),
]


@pytest.mark.parametrize("write", WRITES)
def test_a_hit_is_shared_and_read_only(tmp_path: Path, write: Callable[[Any], object]) -> None:
    tree(tmp_path, {"a.yaml": CM.format(name="a", value="1") + "items: [b, {deep: 1}]\n"})
    first = render(tmp_path)
    with pytest.raises(TypeError, match="read-only"):
        write(first[0].obj)
    second = render(tmp_path)
    assert PARSED.stats.hits == 1
    assert second[0].obj is first[0].obj  # no copy: nothing to copy, nothing to check again
    assert second[0] is first[0]  # the Manifest too, kept per file and document
    assert second[0].obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
        "data": {"key": "1"},
        "items": ["b", {"deep": 1}],
    }


def test_copies_of_a_hit_are_plain_and_change_freely(tmp_path: Path) -> None:
    tree(tmp_path, {"a.yaml": CM.format(name="a", value="1")})
    (cached,) = render(tmp_path)
    shallow = dict(cached.obj)  # what the plan does to set metadata
    shallow["metadata"] = {**cached.obj["metadata"], "namespace": "ns"}
    deep = copy.deepcopy(cached.obj)
    deep["data"]["key"] = "2"
    thawed = pickle.loads(pickle.dumps(cached.obj))
    thawed["data"]["key"] = "3"
    assert (type(deep["data"]), type(thawed["data"])) == (dict, dict)
    assert render(tmp_path)[0].obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
        "data": {"key": "1"},
    }


def test_a_cached_object_is_measured_once_and_a_new_one_always(tmp_path: Path) -> None:
    tree(tmp_path, {"a.yaml": CM.format(name="a", value="x" * 2000)})
    (cached,) = render(tmp_path)
    assert cached.obj.memo["render.size"] > 2000  # measured on the first render
    # New content is measured: the same file grown past one object's limit is refused.
    tree(tmp_path, {"a.yaml": CM.format(name="a", value="x" * (MAX_OBJECT_BYTES + 1))})
    with pytest.raises(InvalidManifestError, match="request limit"):
        render(tmp_path)


def test_same_bytes_in_another_file_are_named_by_that_file(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    tree(tmp_path / "one", {"a.yaml": CM.format(name="a", value="1")})
    tree(tmp_path / "two", {"z.yaml": CM.format(name="a", value="1")})
    render(tmp_path / "one")
    moved = render(tmp_path / "two")
    assert PARSED.stats.hits == 1
    assert moved[0].origin == "z.yaml#1"


def test_only_the_changed_file_is_parsed_again(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {"a.yaml": CM.format(name="a", value="1"), "b.yaml": CM.format(name="b", value="2")},
    )
    render(tmp_path)
    tree(tmp_path, {"b.yaml": CM.format(name="b", value="3")})
    again = render(tmp_path)
    assert (PARSED.stats.hits, PARSED.stats.misses) == (1, 3)
    assert again[1].obj["data"] == {"key": "3"}


def test_a_file_that_fails_is_not_cached(tmp_path: Path) -> None:
    tree(tmp_path, {"bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n"})
    for _ in range(2):
        with pytest.raises(InvalidManifestError) as caught:
            render(tmp_path)
        assert "bad.yaml" in str(caught.value)
    assert (PARSED.stats.hits, PARSED.stats.misses, PARSED.stats.entries) == (0, 2, 0)


def test_an_object_error_after_a_hit_still_names_the_file(tmp_path: Path) -> None:
    # The text parses (and is cached); the document is not an object, on every render.
    tree(tmp_path, {"list.yaml": "- just\n- a list\n"})
    for _ in range(2):
        with pytest.raises(InvalidManifestError, match="not a Kubernetes object") as caught:
            render(tmp_path)
        assert caught.value.file == "list.yaml"
    assert PARSED.stats.hits == 1


def aliased(copies: int) -> str:
    refs = ",".join(["*big"] * copies)
    return CM.format(name="a", value="x") + f"  big: &big {'y' * 1000}\n  many: [{refs}]\n"


def test_the_byte_limit_is_part_of_the_key(tmp_path: Path) -> None:
    tree(tmp_path, {"a.yaml": aliased(50)})
    assert render(tmp_path)  # 51 kB expanded, under the default limit
    with pytest.raises(InvalidManifestError, match="excessive aliasing"):
        render(tmp_path, options=RenderOptions(max_bytes=20_000))
    assert PARSED.stats.hits == 0


def test_the_byte_caps_hold_for_a_cached_file(tmp_path: Path) -> None:
    tree(tmp_path, {"a.yaml": CM.format(name="a", value="x" * 2000)})
    render(tmp_path)  # cached under the default limits
    with pytest.raises(InvalidManifestError, match="the render limit"):
        render(tmp_path, options=RenderOptions(max_bytes=1000))  # the files' bytes, before reading
    with pytest.raises(InvalidManifestError, match="objects"):
        render(tmp_path, options=RenderOptions(max_objects=0))  # the rendered objects


def test_substituted_text_is_keyed_after_substitution(tmp_path: Path) -> None:
    tree(tmp_path, {"a.yaml": CM.format(name="a", value="${VALUE}")})
    one = render(tmp_path, options=RenderOptions(substitute={"VALUE": "one"}))
    two = render(tmp_path, options=RenderOptions(substitute={"VALUE": "two"}))
    assert one[0].obj["data"] == {"key": "one"}
    assert two[0].obj["data"] == {"key": "two"}
    again = render(tmp_path, options=RenderOptions(substitute={"VALUE": "one"}))
    assert again[0].obj["data"] == {"key": "one"}


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses names that are not UTF-8")
def test_a_name_that_is_not_utf8_is_refused_on_every_render(tmp_path: Path) -> None:
    text = CM.format(name="a", value="1")
    tree(tmp_path, {"good.yaml": text})
    render(tmp_path)  # the same bytes are cached now
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.yaml"), "w") as bad:
        bad.write(text)
    with pytest.raises(InvalidManifestError, match="not UTF-8") as caught:
        render(tmp_path)
    assert caught.value.file == "bad\\xff.yaml"


def test_the_lru_is_bounded_by_entries_and_bytes() -> None:
    cache = ParseCache(max_entries=2, max_bytes=10_000)
    texts = [CM.format(name=f"n{i}", value=i) for i in range(3)]
    for text in texts:
        cache.load(load_yaml, text, "f.yaml", max_bytes=1000)
    assert cache.stats.entries == 2
    cache.load(load_yaml, texts[2], "f.yaml", max_bytes=1000)
    cache.load(load_yaml, texts[0], "f.yaml", max_bytes=1000)  # the oldest was evicted
    assert (cache.stats.hits, cache.stats.misses) == (1, 4)
    small = ParseCache(max_bytes=300)
    small.load(load_yaml, texts[0] + "  big: " + "z" * 400 + "\n", "f.yaml", max_bytes=1000)
    assert small.stats.entries == 0
    assert 0 < cache.stats.bytes <= 10_000
