"""SOPS-encrypted Secrets that come out of kustomize (or helm) still encrypted.

A tool re-orders and adds fields (kustomize sorts them, adds a namespace or labels), and the
SOPS MAC hashes values in file order, so it cannot be checked on the tool's output. Instead the
source file is found in the snapshot by its MAC, decrypted and verified as written, and each
encrypted value of the rendered object is replaced by the cleartext of the identical encrypted
value in that file. A value that is in no verified file is refused: a tool (or an edit) cannot
smuggle in ciphertext that the MAC did not cover.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clew.model import Manifest
from clew.render.errors import DecryptionError
from clew.render.paths import SnapshotDir
from clew.render.sops import SopsKeys, decrypt_documents, is_encrypted
from clew.render.yamlload import load_json, load_yaml

__all__ = ["decrypt_rendered"]

_SUFFIXES = frozenset({".yaml", ".yml", ".json"})


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _tokens(snapshot: SnapshotDir, macs: set[str], keys: SopsKeys) -> dict[str, Any]:
    """Every encrypted value of the snapshot's SOPS files whose MAC is in ``macs``, mapped to
    its cleartext; each file is decrypted and its MAC verified as a whole."""
    table: dict[str, Any] = {}
    for file, path in snapshot.walk(".", snapshot.root, suffixes=_SUFFIXES):
        text = snapshot.read_text(file, path)
        if not any(mac in text for mac in macs):
            continue
        is_json = Path(file).suffix.lower() == ".json"
        documents = [d.data for d in (load_json if is_json else load_yaml)(text, file)]
        if not documents or not is_encrypted(documents[0]):
            continue
        plain = decrypt_documents(documents, keys, file)
        for encrypted, clear in zip(documents, plain, strict=True):
            body = {k: v for k, v in encrypted.items() if k != "sops"}
            for token, value in zip(_leaves(body), _leaves(clear), strict=True):
                if isinstance(token, str) and token.startswith("ENC["):
                    table[token] = value
    return table


def _replace(value: Any, table: dict[str, Any], ref: str, file: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, table, ref, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, table, ref, file) for v in value]
    if isinstance(value, str) and value.startswith("ENC[AES256_GCM,"):
        if value not in table:
            raise DecryptionError(
                f"{ref} holds an encrypted value that is in no SOPS file with a matching MAC",
                file=file,
            )
        return table[value]
    return value


def decrypt_rendered(
    snapshot: SnapshotDir, manifests: list[Manifest], keys: SopsKeys | None
) -> list[Manifest]:
    """``manifests`` with every SOPS-encrypted v1 Secret decrypted (see the module's words)."""
    encrypted = [m for m in manifests if is_encrypted(m.obj)]
    if not encrypted:
        return manifests
    for manifest in encrypted:
        if (manifest.obj.get("apiVersion"), manifest.obj.get("kind")) != ("v1", "Secret"):
            raise DecryptionError(
                f"{manifest.ref} is SOPS-encrypted, but clew decrypts v1 Secrets only",
                file=manifest.origin,
            )
    macs = {str(m.obj["sops"]["mac"]) for m in encrypted}
    table = _tokens(snapshot, macs, keys or SopsKeys())
    out: list[Manifest] = []
    for manifest in manifests:
        if not is_encrypted(manifest.obj):
            out.append(manifest)
            continue
        body = {k: v for k, v in manifest.obj.items() if k != "sops"}
        out.append(
            Manifest(_replace(body, table, str(manifest.ref), manifest.origin), manifest.origin)
        )
    return out
