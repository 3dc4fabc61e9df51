"""The plain renderer: a directory tree (or one file) of YAML and JSON manifests.

Files ending in ``.yaml``, ``.yml`` or ``.json`` are read recursively in the order of their relative
paths, documents in file order; every other file is ignored, and so are hidden files and
directories (``.github/workflows/*.yml`` are not manifests).
"""

from __future__ import annotations

from pathlib import Path

from clew.model import Manifest
from clew.render.objects import to_manifests
from clew.render.paths import SnapshotDir
from clew.render.yamlload import load_json, load_yaml

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})


def render_plain(snapshot: SnapshotDir, rel: str, real: Path) -> list[Manifest]:
    """The objects of every manifest file under ``rel`` (a directory or a single file)."""
    files = snapshot.walk(rel, real, suffixes=MANIFEST_SUFFIXES) if real.is_dir() else [(rel, real)]
    manifests: list[Manifest] = []
    for file, path in files:
        text = snapshot.read_text(file, path)
        is_json = Path(file).suffix.lower() == ".json"
        documents = load_json(text, file) if is_json else load_yaml(text, file)
        manifests.extend(to_manifests(documents, file))
    return manifests
