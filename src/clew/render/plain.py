"""The plain renderer: a directory tree (or one file) of YAML and JSON manifests.

Files ending in ``.yaml``, ``.yml`` or ``.json`` are read recursively in the order of their relative
paths, documents in file order, and ``.jsonnet`` files are evaluated (:mod:`clew.render.jsonnet`;
``.libsonnet`` files are their libraries). Hidden files and directories are ignored
(``.github/workflows/*.yml`` are not manifests); every other file is not rendered and is reported
in ``skipped``, so the caller can warn instead of dropping it silently. A file whose first
document carries SOPS metadata is decrypted (:mod:`clew.render.sops`). A file whose text was
parsed before is not parsed again (:mod:`clew.render.parsecache`). The files together may
hold at most the render byte limit; reading stops at the first file that passes it.

A kustomization or a Helm chart below the rendered directory is never read as manifests: its
files are kustomize's or helm's input, not objects. That is an error whose hint names the
directory to render instead (``--path``, an Application's ``spec.source.path``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clew.model import Manifest
from clew.render.errors import DecryptionError, InvalidManifestError
from clew.render.jsonnet import JSONNET_SUFFIXES, LIBRARY_SUFFIXES, evaluate, to_objects
from clew.render.kustomize import KUSTOMIZATION_FILES
from clew.render.objects import to_manifests
from clew.render.options import RenderOptions
from clew.render.parsecache import PARSED
from clew.render.paths import SnapshotDir
from clew.render.sops import SopsKeys, decrypt_documents, is_encrypted
from clew.render.substitute import substitute, substitute_text
from clew.render.yamlload import Document, load_json, load_yaml

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


@dataclass
class PlainResult:
    """What a plain tree rendered, and the files it did not (the warnings' source)."""

    manifests: list[Manifest] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _decrypted(documents: list[Document], file: str, keys: SopsKeys | None) -> list[Manifest]:
    """A SOPS-encrypted file's objects, decrypted; only v1 Secrets may be: clew masks their values
    in every diff, history entry and Event, and would print any other kind's."""
    plain = decrypt_documents([d.data for d in documents], keys or SopsKeys(), file)
    docs = [Document(d.index, d.line, data) for d, data in zip(documents, plain, strict=True)]
    manifests = to_manifests(docs, file)
    for manifest in manifests:
        obj = manifest.obj
        if (obj.get("apiVersion"), obj.get("kind")) != ("v1", "Secret"):
            raise DecryptionError(
                f"{manifest.ref} is SOPS-encrypted, but clew decrypts v1 Secrets only",
                file=file,
                hint="only a Secret's values are masked in diffs, history and Events; keep the "
                "secret values in a Secret",
            )
    return manifests


def render_plain(
    snapshot: SnapshotDir, rel: str, real: Path, options: RenderOptions | None = None
) -> PlainResult:
    """The objects of every manifest and Jsonnet file under ``rel`` (a directory or a single
    file), SOPS-encrypted ones decrypted; the files it did not render are in ``skipped``."""
    options = options or RenderOptions()
    max_bytes = options.max_bytes
    result = PlainResult()
    if real.is_dir():
        other: list[str] = []
        wanted = MANIFEST_SUFFIXES | JSONNET_SUFFIXES | LIBRARY_SUFFIXES
        found = snapshot.walk(rel, real, suffixes=wanted, other=other)
        files = [(f, p) for f, p in found if Path(f).suffix.lower() not in LIBRARY_SUFFIXES]
        result.skipped = sorted(other)
    else:
        files = [(rel, real)]
    if real.is_dir():
        _nested_inputs(rel, files)
    total = 0
    outputs: dict[str, Any] | None = None
    for file, path in files:
        total += snapshot.size(file, path)
        if total > max_bytes:
            raise InvalidManifestError(
                f"the manifests up to this file hold more than {max_bytes} bytes, the render limit",
                file=file,
                hint="split the tree into several Applications, or raise the render byte limit",
            )
        suffix = Path(file).suffix.lower()
        if suffix in JSONNET_SUFFIXES:
            if outputs is None:  # every program of the tree in one child process
                programs = [f for f, _ in files if Path(f).suffix.lower() in JSONNET_SUFFIXES]
                outputs = evaluate(snapshot, programs, options)
            result.manifests.extend(to_objects(file, outputs[file]))
            continue
        text = snapshot.read_text(file, path)
        load = load_json if suffix == ".json" else load_yaml
        documents = PARSED.load(load, text, file, max_bytes=max_bytes)
        if any(is_encrypted(d.data) for d in documents):  # sops puts metadata in each
            decrypted = _decrypted(documents, file, options.decryption)
            if options.substitute is not None:  # values only now: substituted as objects
                decrypted = substitute(decrypted, options.substitute)
            result.manifests.extend(decrypted)
            continue
        if options.substitute is not None and "${" in text:
            text = substitute_text(text, file, options.substitute)
            documents = PARSED.load(load, text, file, max_bytes=max_bytes)
        result.manifests.extend(to_manifests(documents, file))
    return result
