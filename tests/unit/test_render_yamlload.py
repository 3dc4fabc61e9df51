"""YAML is read as Kubernetes reads it: timestamps stay strings (without touching PyYAML's global
loader), duplicate keys are errors, and each document knows its position and first line."""

from __future__ import annotations

import datetime

import pytest
import yaml

from clew.render import InvalidManifestError
from clew.render.yamlload import KubeLoader, load_json, load_yaml


def test_timestamps_stay_strings() -> None:
    (doc,) = load_yaml("a: 2024-01-15\nb: 2024-01-15T09:30:00Z\nc: 1\nd: yes\n", "f.yaml")
    assert doc.data == {"a": "2024-01-15", "b": "2024-01-15T09:30:00Z", "c": 1, "d": True}


def test_the_global_loader_is_untouched() -> None:
    assert isinstance(yaml.load("2024-01-15", Loader=yaml.CSafeLoader), datetime.date)
    assert issubclass(KubeLoader, yaml.CSafeLoader)


def test_documents_know_index_and_line() -> None:
    docs = load_yaml("a: 1\n---\n---\n# c\nb: 2\n", "f.yaml")
    assert [(d.index, d.line, d.data) for d in docs] == [
        (1, 1, {"a": 1}),
        (2, 3, None),
        (3, 5, {"b": 2}),
    ]


def test_empty_stream_has_no_documents() -> None:
    assert load_yaml("", "f.yaml") == []
    assert load_yaml("# only a comment\n", "f.yaml") == []
    assert load_json("  \n", "f.json") == []


def test_duplicate_keys() -> None:
    with pytest.raises(InvalidManifestError, match=r"f\.yaml:3: .*duplicate key 'a'"):
        load_yaml("x: 1\na: 1\na: 2\n", "f.yaml")
    with pytest.raises(InvalidManifestError, match="duplicate key 'a'"):
        load_json('{"a": 1, "a": 2}', "f.json")


def test_reader_error_without_a_mark() -> None:
    with pytest.raises(InvalidManifestError, match="invalid YAML"):
        load_yaml("a: \x07\n", "f.yaml")
