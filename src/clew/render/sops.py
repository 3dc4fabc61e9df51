"""SOPS decryption, natively: files in the SOPS v3 format (YAML, JSON, dotenv, INI) decrypted in
memory with age identities or, through ``gpg``, PGP keys.

The steps are sops' own (getsops/sops ``decrypt``): recover the 32-byte data key from one of the
file's key stanzas (age: an armored age file; PGP: an armored message), decrypt every value that
the file's rules say is encrypted (AES-256-GCM, the key path ``a:b:`` as additional data), hash the
cleartext leaves in tree order (SHA-512) and compare the result with the stored MAC, itself
encrypted with the data key and the ``lastmodified`` time as additional data. A file whose MAC
does not match is refused: someone changed it without the key.

Cleartext exists only in the returned values. Nothing here writes a file, and no message quotes a
value: errors name the file and the key path at most.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from clew.render.errors import DecryptionError
from clew.render.sops_pgp import decrypt_pgp_data_key

__all__ = [
    "SopsKeys",
    "decrypt_documents",
    "decrypt_dotenv",
    "decrypt_ini",
    "is_encrypted",
    "parse_age_keys",
]

_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
# sops hashes these 32 bytes first when only encrypted values are MACed, so the two MACs differ.
_MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
)
_AGE_ARMOR = re.compile(
    r"-----BEGIN AGE ENCRYPTED FILE-----\s*(.*?)\s*-----END AGE ENCRYPTED FILE-----", re.DOTALL
)
_KEY_HINT = (
    "give the key: an Application's spec.decryption.secretRef names a Secret holding *.agekey "
    "(age identities) or *.asc (armored PGP private keys); `clew apply` takes --sops-age-key-file"
)


@dataclass(frozen=True, slots=True)
class SopsKeys:
    """The private keys a render may decrypt with: age identities (``AGE-SECRET-KEY-1…``) and
    armored PGP private keys. Never printed (``repr`` counts them)."""

    age: tuple[str, ...] = field(default=(), repr=False)
    pgp: tuple[str, ...] = field(default=(), repr=False)

    def __bool__(self) -> bool:
        return bool(self.age or self.pgp)

    def __repr__(self) -> str:
        return f"SopsKeys(age={len(self.age)} keys, pgp={len(self.pgp)} keys)"


def parse_age_keys(text: str, source: str) -> tuple[str, ...]:
    """The identities of an age key file (``#`` comments and blank lines allowed), or an error
    naming ``source`` (never the key)."""
    keys: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.upper().startswith("AGE-SECRET-KEY-1"):
            raise DecryptionError(
                f"{source} line {number} is not an age identity (AGE-SECRET-KEY-1…)"
            )
        import pyrage  # the crypto libraries load when a key is read: every render imports this

        try:
            pyrage.x25519.Identity.from_str(line)
        except Exception:  # pyrage raises its own exception types, none of which carry the key
            raise DecryptionError(f"{source} line {number} is not a valid age identity") from None
        keys.append(line)
    if not keys:
        raise DecryptionError(f"{source} holds no age identity")
    return tuple(keys)


def is_encrypted(data: Any) -> bool:
    """True when a parsed YAML/JSON document carries SOPS metadata."""
    return isinstance(data, dict) and isinstance(data.get("sops"), dict) and "mac" in data["sops"]


# --- the data key -------------------------------------------------------------------------------


def _age_data_key(stanzas: list[Any], keys: SopsKeys) -> bytes | None:
    if not keys.age:
        return None
    import pyrage

    identities = [pyrage.x25519.Identity.from_str(k) for k in keys.age]
    for stanza in stanzas:
        enc = stanza.get("enc") if isinstance(stanza, dict) else None
        match = _AGE_ARMOR.search(enc) if isinstance(enc, str) else None
        if match is None:
            continue
        try:
            payload = base64.b64decode("".join(match.group(1).split()))
            return bytes(pyrage.decrypt(payload, identities))
        except Exception:  # noqa: S112  # not for these identities: try the next stanza
            continue
    return None


def _recipients(meta: dict[str, Any]) -> str:
    names = [s.get("recipient", "?") for s in _list(meta.get("age"))]
    names += [f"PGP {s.get('fp', '?')}" for s in _list(meta.get("pgp"))]
    return ", ".join(str(n) for n in names) or "no age or PGP recipient"


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _data_key(meta: dict[str, Any], keys: SopsKeys, file: str) -> bytes:
    if meta.get("key_groups"):
        raise DecryptionError(
            "SOPS key groups (Shamir secret sharing) are not supported", file=file
        )
    if not keys:
        raise DecryptionError(
            f"the file is encrypted with SOPS (for {_recipients(meta)}) but no decryption key "
            "was given",
            file=file,
            hint=_KEY_HINT,
        )
    key = _age_data_key(_list(meta.get("age")), keys)
    if key is None and keys.pgp and _list(meta.get("pgp")):
        key = decrypt_pgp_data_key(_list(meta.get("pgp")), keys.pgp, file)
    if key is None:
        raise DecryptionError(
            f"none of the given keys decrypts this SOPS file (it is encrypted for "
            f"{_recipients(meta)})",
            file=file,
            hint=_KEY_HINT,
        )
    if len(key) != 32:
        raise DecryptionError("the SOPS data key is not 32 bytes", file=file)
    return key


# --- values and the MAC -------------------------------------------------------------------------


def _decrypt_value(token: str, key: bytes, aad: str, file: str) -> Any:
    match = _ENC.match(token)
    if match is None:
        raise DecryptionError(
            f"the value at {aad.rstrip(':') or '(top)'} should be SOPS-encrypted but is not",
            file=file,
        )
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        data, iv, tag = (base64.b64decode(match.group(i)) for i in (1, 2, 3))
        plain = AESGCM(key).decrypt(iv, data + tag, aad.encode())
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"the value at {aad.rstrip(':')} does not decrypt with the file's data key "
            "(changed or moved after encryption)",
            file=file,
        ) from None
    kind = match.group(4)
    text = plain.decode("utf-8", errors="surrogateescape")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text.lower() in ("1", "t", "true")
    if kind in ("str", "time", "comment", "bytes"):
        return text
    raise DecryptionError(f"unknown SOPS value type {kind!r}", file=file)


def _to_bytes(value: Any) -> bytes:
    """A leaf as sops hashes it (Go's ``sops.ToBytes``)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")  # Go's FormatFloat(v, 'f', -1, 64)
        return (text[:-2] if text.endswith(".0") else text).encode()
    return str(value).encode("utf-8", errors="surrogateescape")


@dataclass
class _Rules:
    """Which leaves a file's metadata says are encrypted (sops' ``shouldBeEncrypted``)."""

    meta: dict[str, Any]

    def encrypted(self, path: list[str], value: Any) -> bool:
        m = self.meta
        result = True
        if suffix := m.get("unencrypted_suffix"):
            result = not any(p.endswith(suffix) for p in path)
        if suffix := m.get("encrypted_suffix"):
            result = any(p.endswith(suffix) for p in path)
        if (regex := m.get("unencrypted_regex")) and any(re.search(regex, p) for p in path):
            result = False
        if regex := m.get("encrypted_regex"):
            result = any(re.search(regex, p) for p in path)
        if m.get("unencrypted_comment_regex") or m.get("encrypted_comment_regex"):
            # Comments are not kept by the parsers: the value's own form tells.
            result = isinstance(value, str) and _ENC.match(value) is not None
        return result


def _transform(value: Any, path: list[str], visit: Callable[[Any, list[str]], Any]) -> Any:
    """``value`` with every leaf replaced by ``visit(leaf, path)``, in document order (the order
    sops hashes in); list items share their list's path, as in sops."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            out[k] = _transform(v, [*path, str(k)], visit)
        return out
    if isinstance(value, list):
        return [_transform(v, path, visit) for v in value]
    if value is None:
        return None
    return visit(value, path)


def _decrypt_branches(
    branches: list[Any], meta: dict[str, Any], keys: SopsKeys, file: str
) -> list[Any]:
    """Decrypt every branch (document) and check the MAC over all of them."""
    key = _data_key(meta, keys, file)
    rules = _Rules(meta)
    mac_only = bool(meta.get("mac_only_encrypted"))
    digest = hashlib.sha512()
    if mac_only:
        digest.update(_MAC_ONLY_ENCRYPTED_INIT)

    def visit(leaf: Any, path: list[str]) -> Any:
        encrypted = rules.encrypted(path, leaf)
        value = leaf
        if encrypted:
            if not isinstance(leaf, str):
                raise DecryptionError(
                    f"the value at {':'.join(path)} should be SOPS-encrypted but is not",
                    file=file,
                )
            aad = ":".join(path) + ":"
            value = "" if leaf == "" else _decrypt_value(leaf, key, aad, file)
        if not mac_only or encrypted:
            digest.update(_to_bytes(value))
        return value

    out = [_transform(branch, [], visit) for branch in branches]
    stored = meta.get("mac")
    modified = str(meta.get("lastmodified", ""))
    modified = re.sub(r"\.\d+(?=Z|[+-]\d\d:\d\d$)", "", modified)  # Go's RFC3339: no fraction
    if not isinstance(stored, str):
        raise DecryptionError("the SOPS metadata has no MAC", file=file)
    expected = _decrypt_value(stored, key, modified, file) if stored else ""
    if not hmac.compare_digest(str(expected), digest.hexdigest().upper()):
        raise DecryptionError(
            "the SOPS MAC does not match: the file was changed after it was encrypted",
            file=file,
            hint="re-encrypt it with sops (or edit it with `sops FILE`), which updates the MAC",
        )
    return out


# --- the four formats ---------------------------------------------------------------------------


def decrypt_documents(documents: list[Any], keys: SopsKeys, file: str) -> list[Any]:
    """The documents of a YAML (or JSON: one document) file, decrypted; the metadata is the first
    document's ``sops`` mapping and the MAC covers every document."""
    if not documents or not is_encrypted(documents[0]):
        raise DecryptionError("SOPS metadata must be in the file's first document", file=file)
    meta = documents[0]["sops"]
    branches = [
        {k: v for k, v in d.items() if k != "sops"} if isinstance(d, dict) else d for d in documents
    ]
    return _decrypt_branches(branches, meta, keys, file)


def _unflatten(flat: dict[str, str]) -> dict[str, Any]:
    """dotenv/INI metadata keys (``age__list_0__map_enc``) as the nested metadata."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        tokens = re.split(r"(__list_\d+|__map_)", key)
        node: Any = root
        parts: list[str | int] = [tokens[0]]
        for token in tokens[1:]:
            if token.startswith("__list_"):
                parts.append(int(token[len("__list_") :]))
            elif token and token != "__map_":  # noqa: S105  # a separator, not a password
                parts.append(token)
        for part, following in itertools.pairwise(parts):
            empty: Any = [] if isinstance(following, int) else {}
            if isinstance(part, int):
                while len(node) <= part:
                    node.append(None)
                node[part] = node[part] if node[part] is not None else empty
                node = node[part]
            else:
                node = node.setdefault(part, empty)
        last = parts[-1]
        if isinstance(last, int):
            while len(node) <= last:
                node.append(None)
            node[last] = value
        else:
            node[last] = value
    for name in ("mac_only_encrypted",):
        if isinstance(root.get(name), str):
            root[name] = root[name].lower() == "true"
    return root


def decrypt_dotenv(text: str, keys: SopsKeys, file: str) -> str:
    """A SOPS-encrypted dotenv file as cleartext dotenv (``KEY=value`` lines, comments kept)."""
    items: list[tuple[str, str]] = []
    comments: dict[int, str] = {}
    flat: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line.startswith("#"):
            comments[len(items)] = line
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise DecryptionError("not a dotenv line (no '=')", file=file, line=number)
        value = value.replace("\\n", "\n")
        if name.startswith("sops_"):
            flat[name[len("sops_") :]] = value
        else:
            items.append((name, value))
    if "mac" not in flat:
        raise DecryptionError("no SOPS metadata (sops_mac) in the dotenv file", file=file)
    meta = _unflatten(flat)
    (plain,) = _decrypt_branches([dict(items)], meta, keys, file)
    key = _data_key(meta, keys, file)
    lines: list[str] = []
    for i, (name, _) in enumerate(items):
        if i in comments:
            lines.append("#" + _comment(comments[i][1:], key))
        value = _to_bytes(plain[name]).decode().replace("\n", "\\n")
        lines.append(f"{name}={value}")
    if len(items) in comments:
        lines.append("#" + _comment(comments[len(items)][1:], key))
    return "\n".join(lines) + "\n"


def _comment(text: str, key: bytes) -> str:
    """A top-level comment, decrypted when it was encrypted (sops keeps one that does not)."""
    try:
        return str(_decrypt_value(text, key, ":", ""))
    except DecryptionError:
        return text


def decrypt_ini(text: str, keys: SopsKeys, file: str) -> str:
    """A SOPS-encrypted INI file as cleartext INI (sections and keys in file order)."""
    import configparser

    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    try:
        parser.read_string(text, source=file)
    except configparser.Error as exc:
        raise DecryptionError(f"not an INI file: {exc.message}", file=file) from None
    if not parser.has_section("sops"):
        raise DecryptionError("no SOPS metadata ([sops] section) in the INI file", file=file)
    flat = {k: v.replace("\\n", "\n") for k, v in parser.items("sops")}
    tree = {s: dict(parser.items(s)) for s in parser.sections() if s != "sops"}
    (plain,) = _decrypt_branches([tree], _unflatten(flat), keys, file)
    out: list[str] = []
    for section, values in plain.items():
        out.append(f"[{section}]")
        out += [f"{k} = {_to_bytes(v).decode()}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)
