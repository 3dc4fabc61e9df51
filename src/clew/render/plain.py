"""The plain renderer: a directory tree (or one file) of YAML and JSON manifests.

Files ending in ``.yaml``, ``.yml`` or ``.json`` are read recursively in the order of their relative
paths, documents in file order; every other file is ignored, and so are hidden files and
directories (``.github/workflows/*.yml`` are not manifests). The files together may hold at most
the render byte limit; reading stops at the first file that passes it.

A kustomization or a Helm chart below the rendered directory is never read as manifests: its
files are kustomize's or helm's input, not objects. That is an error whose hint names the
directory to render instead (``--path``, an Application's ``spec.source.path``).
"""

from __future__ import annotations

from pathlib import Path

from clew.model import Manifest
from clew.render.errors import InvalidManifestError
from clew.render.kustomize import KUSTOMIZATION_FILES
from clew.render.limits import MAX_RENDER_BYTES
from clew.render.objects import to_manifests
from clew.render.paths import SnapshotDir
from clew.render.yamlload import load_json, load_yaml

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})
_TOOL_INPUTS = {
    **dict.fromkeys(KUSTOMIZATION_FILES, "a kustomization"),
    "Chart.yaml": "a Helm chart",
}


def _nested_inputs(rel: str, files: list[tuple[str, Path]]) -> None:
    """Refuse a tree holding a kustomization or a chart below its top, naming the directory to
    render."""
    # At the top, only an explicit kind=plain gets here: then the user chose to read the files.
    found = [
        (f, _TOOL_INPUTS[Path(f).name])
        for f, _ in files
        if Path(f).name in _TOOL_INPUTS and str(Path(f).parent) != rel
    ]
    if not found:
        return
    file, what = found[0]
    directory = str(Path(file).parent)
    others = sorted({str(Path(f).parent) for f, _ in found[1:]} - {directory})
    more = f" (also: {', '.join(others[:3])}{', ...' if len(others) > 3 else ''})" if others else ""
    where = "this directory" if rel == "." else rel
    raise InvalidManifestError(
        f"{where} has no kustomization.yaml or Chart.yaml, but {directory} holds {what}{more}; "
        "its files are not manifests",
        file=file,
        hint=f"render that directory: --path {directory} (an Application's spec.source.path)",
    )


def render_plain(
    snapshot: SnapshotDir, rel: str, real: Path, max_bytes: int = MAX_RENDER_BYTES
) -> list[Manifest]:
    """The objects of every manifest file under ``rel`` (a directory or a single file)."""
    files = snapshot.walk(rel, real, suffixes=MANIFEST_SUFFIXES) if real.is_dir() else [(rel, real)]
    if real.is_dir():
        _nested_inputs(rel, files)
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
