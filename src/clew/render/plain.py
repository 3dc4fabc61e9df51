"""The plain renderer: a directory tree (or one file) of YAML and JSON manifests.

Files ending in ``.yaml``, ``.yml`` or ``.json`` are read recursively in the order of their relative
paths, documents in file order; every other file is ignored, and so are hidden files and
directories (``.github/workflows/*.yml`` are not manifests). The files together may hold at most
the render byte limit; reading stops at the first file that passes it.
"""

from __future__ import annotations

from pathlib import Path

from clew.model import Manifest
from clew.render.errors import InvalidManifestError
from clew.render.limits import MAX_RENDER_BYTES
from clew.render.objects import to_manifests
from clew.render.paths import SnapshotDir
from clew.render.yamlload import load_json, load_yaml

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})


def render_plain(
    snapshot: SnapshotDir, rel: str, real: Path, max_bytes: int = MAX_RENDER_BYTES
) -> list[Manifest]:
    """The objects of every manifest file under ``rel`` (a directory or a single file)."""
    files = snapshot.walk(rel, real, suffixes=MANIFEST_SUFFIXES) if real.is_dir() else [(rel, real)]
    manifests: list[Manifest] = []
    total = 0
    for file, path in files:
        total += snapshot.size(file, path)
        if total > max_bytes:
            raise InvalidManifestError(
                f"the manifests up to this file hold more than {max_bytes} bytes, the render limit",
                file=file,
                hint="split the tree into several Applications, or raise the render byte limit",
            )
        text = snapshot.read_text(file, path)
        is_json = Path(file).suffix.lower() == ".json"
        documents = (
            load_json(text, file, max_bytes=max_bytes)
            if is_json
            else load_yaml(text, file, max_bytes=max_bytes)
        )
        manifests.extend(to_manifests(documents, file))
    return manifests
