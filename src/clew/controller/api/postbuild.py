"""An Application's render inputs that live in the cluster: SOPS keys (``spec.decryption``),
post-build variables (``spec.postBuild``) and Jsonnet arguments (``spec.render.jsonnet``).

The fields are Flux's (kustomize-controller's ``decryption`` and ``postBuild``) and Argo CD's
(``directory.jsonnet``), parsed here and read at sync time, through the sync's own client (the
Application's ServiceAccount when it has one), so an Application can only use the Secrets its
account may read. Key material and Secret values go into the render options and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clew import render
from clew.cluster import Cluster, NotFound
from clew.controller.api.fields import Fields, InvalidSpec

__all__ = [
    "DecryptionSpec",
    "JsonnetSpec",
    "PostBuildSpec",
    "VariablesRef",
    "parse_decryption",
    "parse_jsonnet",
    "parse_post_build",
    "render_inputs",
]

_MAX_REFS = 32
_VARIABLE_KINDS = ("ConfigMap", "Secret")
_NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


@dataclass(frozen=True, slots=True)
class DecryptionSpec:
    """``spec.decryption``: SOPS keys from a Secret in the Application's namespace (``*.agekey``:
    age identities, ``*.asc``: armored PGP private keys)."""

    secret_name: str | None = None


@dataclass(frozen=True, slots=True)
class VariablesRef:
    kind: str  # ConfigMap or Secret
    name: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class PostBuildSpec:
    """``spec.postBuild``: inline variables win over those read from ``substitute_from`` (later
    references win over earlier ones), as in Flux."""

    substitute: Mapping[str, str] = field(default_factory=dict)
    substitute_from: tuple[VariablesRef, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonnetSpec:
    """``spec.render.jsonnet``: top-level arguments and external variables (strings)."""

    tlas: Mapping[str, str] = field(default_factory=dict)
    ext_vars: Mapping[str, str] = field(default_factory=dict)


def _string_map(fields: Fields, key: str) -> dict[str, str]:
    from clew.controller.api.spec import InvalidSpec  # spec imports this module

    out: dict[str, str] = {}
    for name, value in fields.mapping(key).data.items():
        if not isinstance(value, str):
            raise InvalidSpec(
                f"must be a string, not {type(value).__name__}", field=fields.child(f"{key}.{name}")
            )
        out[str(name)] = value
    return out


def parse_decryption(fields: Fields) -> DecryptionSpec | None:
    if not fields.present:
        return None
    from clew.controller.api.spec import InvalidSpec  # spec imports this module

    fields.only("provider", "secretRef")
    if fields.string("provider") not in (None, "sops"):
        raise InvalidSpec("the only provider is sops", field=fields.child("provider"))
    ref = fields.mapping("secretRef")
    if not ref.present:
        return DecryptionSpec()
    ref.only("name")
    return DecryptionSpec(ref.required_string("name", pattern=_NAME_RE, max_length=253))


def parse_post_build(fields: Fields) -> PostBuildSpec | None:
    if not fields.present:
        return None

    fields.only("substitute", "substituteFrom")
    inline = _string_map(fields, "substitute")
    for name in inline:
        if not render.VARIABLE_NAME.match(name):
            raise InvalidSpec(
                "variable names are [_a-zA-Z][_a-zA-Z0-9]*",
                field=fields.child(f"substitute.{name}"),
            )
    refs: list[VariablesRef] = []
    for value, path in fields.items("substituteFrom", max_items=_MAX_REFS):
        item = Fields.of(value, path)
        item.only("kind", "name", "optional")
        kind = item.required_string("kind")
        if kind not in _VARIABLE_KINDS:
            raise InvalidSpec("must be ConfigMap or Secret", field=item.child("kind"))
        name = item.required_string("name", pattern=_NAME_RE, max_length=253)
        refs.append(VariablesRef(kind, name, item.boolean("optional", False)))
    return PostBuildSpec(inline, tuple(refs))


def parse_jsonnet(fields: Fields) -> JsonnetSpec:
    if not fields.present:
        return JsonnetSpec()
    fields.only("tlas", "extVars")
    return JsonnetSpec(_string_map(fields, "tlas"), _string_map(fields, "extVars"))


def _decoded(obj: dict[str, Any], what: str) -> dict[str, str]:
    """A ConfigMap's data, or a Secret's data decoded (stringData too)."""
    if obj.get("kind") == "ConfigMap":
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    out: dict[str, str] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise render.SubstitutionError(f"{what}: key {key} is not UTF-8 text") from None
    out.update(obj.get("stringData") or {})
    return out


async def _keys(cluster: Cluster, namespace: str, name: str) -> render.SopsKeys:
    what = f"decryption Secret {namespace}/{name}"
    try:
        secret = await cluster.get("v1", "Secret", name, namespace)
    except NotFound:
        raise render.DecryptionError(
            f"{what} not found", hint="create it, or fix spec.decryption.secretRef"
        ) from None
    age: list[str] = []
    pgp: list[str] = []
    data = _decoded(secret, what)
    for key in sorted(data):
        if key.endswith(".agekey"):
            age.extend(render.parse_age_keys(data[key], f"{what} key {key}"))
        elif key.endswith(".asc"):
            pgp.append(data[key])
    if not age and not pgp:
        raise render.DecryptionError(
            f"{what} holds no *.agekey or *.asc key",
            hint="age identities go in keys ending .agekey, armored PGP private keys in .asc",
        )
    return render.SopsKeys(age=tuple(age), pgp=tuple(pgp))


async def _variables(cluster: Cluster, namespace: str, post: PostBuildSpec) -> dict[str, str]:
    variables: dict[str, str] = {}
    for ref in post.substitute_from:
        what = f"postBuild {ref.kind} {namespace}/{ref.name}"
        try:
            obj = await cluster.get("v1", ref.kind, ref.name, namespace)
        except NotFound:
            if ref.optional:
                continue
            raise render.SubstitutionError(
                f"{what} not found",
                hint="create it, fix spec.postBuild.substituteFrom, or mark it optional: true",
            ) from None
        variables.update(_decoded(obj, what))
    variables.update(post.substitute)
    return variables


def render_inputs(
    namespace: str,
    decryption: DecryptionSpec | None,
    post_build: PostBuildSpec | None,
) -> Callable[[Cluster, render.RenderOptions], Awaitable[render.RenderOptions]] | None:
    """The engine's ``render_inputs`` for an Application in ``namespace``: its keys and
    variables read when it syncs (None when it needs neither)."""
    secret = decryption.secret_name if decryption is not None else None
    if secret is None and post_build is None:
        return None

    async def complete(cluster: Cluster, options: render.RenderOptions) -> render.RenderOptions:
        keys = await _keys(cluster, namespace, secret) if secret else None
        variables = await _variables(cluster, namespace, post_build) if post_build else None
        return dataclasses.replace(options, decryption=keys, substitute=variables)

    return complete
