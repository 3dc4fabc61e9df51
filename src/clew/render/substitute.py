"""Post-build variable substitution, as Flux's ``spec.postBuild``: ``${VAR}`` and
``${VAR:=default}`` in every rendered object, replaced in the rendered YAML text document by
document (:func:`substitute_text`, before it is parsed), so the text decides the type as in Flux:
``replicas: ${REPLICAS}`` becomes a number, ``port: "${PORT}"`` stays a string. Objects that only
exist as values (decrypted SOPS Secrets) go through :func:`substitute_object`, which re-reads the
object's YAML: there a whole-value reference takes the type of its value.

Rules, Flux's: only the braced form is a variable (``$VAR`` is left alone), ``$${VAR}`` is a
literal ``${VAR}``, names are ``[_a-zA-Z][_a-zA-Z0-9]*``; ``${VAR:-default}`` is accepted too.
A variable without a value or a default is an error naming the object and the variable, never
an empty string. An object annotated or labelled ``kustomize.toolkit.fluxcd.io/substitute:
disabled`` (or ``clew.dev/substitute: disabled``) is left as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from clew.model import Manifest
from clew.model.frozen import FrozenDict, FrozenList
from clew.render.errors import InvalidManifestError, SubstitutionError
from clew.render.objects import to_manifests
from clew.render.yamlload import load_yaml
from clew.render.yamlscalars import PLAIN, STR, scalar

__all__ = [
    "OPT_OUT_ANNOTATIONS",
    "VARIABLE_NAME",
    "check_names",
    "substitute",
    "substitute_object",
    "substitute_text",
]

OPT_OUT_ANNOTATIONS = ("kustomize.toolkit.fluxcd.io/substitute", "clew.dev/substitute")
VARIABLE_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_REFERENCE = re.compile(r"\$(\$)?\{([^{}]*)\}")
_DOCUMENT_START = re.compile(r"^(---[ \t]*(?:#[^\n]*)?(?:\n|$))", re.MULTILINE)
_EXPRESSION = re.compile(r"^([_a-zA-Z][_a-zA-Z0-9]*)(?::([=-])(.*))?$", re.DOTALL)


class _Dumper(yaml.SafeDumper):
    """Quotes every string that clew's loader (go-yaml v2's rules) would read as something else
    (``n``, ``on``, ``1.0``), so only substituted text can change a value's type."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if not isinstance(scalar(PLAIN, value), str) else None
    return dumper.represent_scalar(STR, value, style=style)


_Dumper.add_representer(str, _represent_str)
# Objects from the parse cache are frozen dicts and lists: written as the plain ones they are.
_Dumper.add_representer(FrozenDict, yaml.SafeDumper.represent_dict)
_Dumper.add_representer(FrozenList, yaml.SafeDumper.represent_list)


def _opted_out(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    marks = {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}
    return any(marks.get(a) == "disabled" for a in OPT_OUT_ANNOTATIONS)


def _replace(text: str, variables: Mapping[str, str], where: str, file: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):  # $${X}: the escape for a literal ${X}
            return "${" + match.group(2) + "}"
        expression = _EXPRESSION.match(match.group(2))
        if expression is None:
            raise SubstitutionError(
                f"{where}: ${{{match.group(2)}}} is not a variable reference "
                "(${NAME} or ${NAME:=default})",
                file=file,
                hint="escape a literal ${...} as $${...}",
            )
        name, operator, default = expression.groups()
        value = variables.get(name)
        if value is None or (value == "" and operator):
            if operator is None:
                raise SubstitutionError(
                    f"{where}: variable {name} has no value and no default",
                    file=file,
                    hint="set it in spec.postBuild.substitute or substituteFrom (--substitute "
                    f"{name}=VALUE on the command line), or write ${{{name}:=default}}",
                )
            value = default
        return value

    return _REFERENCE.sub(one, text)


def substitute_object(manifest: Manifest, variables: Mapping[str, str]) -> Manifest:
    """``manifest`` with its variables replaced (itself when it has none or opted out)."""
    obj = manifest.obj
    if _opted_out(obj):
        return manifest
    if "${" not in json.dumps(obj):
        return manifest
    text = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 30)
    file = manifest.origin.split("#", 1)[0]
    replaced = _replace(text, variables, str(manifest.ref), file)
    try:
        (result,) = to_manifests(load_yaml(replaced, file), file, origin=manifest.origin)
    except (InvalidManifestError, ValueError):
        # The parser's words may quote a substituted value, which may be a Secret's: not shown.
        raise SubstitutionError(
            f"{manifest.ref}: after substitution the object is no longer one valid object",
            file=file,
            hint="quote values that hold YAML syntax (': ', '#', leading '-' or '{')",
        ) from None
    return result


def check_names(variables: Mapping[str, str]) -> None:
    for name in variables:
        if not VARIABLE_NAME.match(name):
            raise SubstitutionError(
                f"{name!r} is not a valid variable name ([_a-zA-Z][_a-zA-Z0-9]*)"
            )


def substitute(manifests: list[Manifest], variables: Mapping[str, str]) -> list[Manifest]:
    """Every manifest with its variables replaced."""
    check_names(variables)
    return [substitute_object(m, variables) for m in manifests]


def _names(chunk: str, file: str) -> tuple[str, bool]:
    """The objects a document chunk holds, for messages, and whether one opted out."""
    try:
        manifests = to_manifests(load_yaml(chunk, file), file)
    except InvalidManifestError:
        return "a document", False  # the renderer reports it, with its line, after substitution
    where = ", ".join(str(m.ref) for m in manifests) or "a document"
    return where, any(_opted_out(m.obj) for m in manifests)


def substitute_text(text: str, file: str, variables: Mapping[str, str]) -> str:
    """A YAML stream (a file, a tool's output) with its variables replaced, document by document;
    a document whose object opted out is left as it is. A result that no longer parses is an
    error that does not quote it (a value may be a Secret's)."""
    if "${" not in text:
        return text
    check_names(variables)
    out: list[str] = []
    for part in _DOCUMENT_START.split(text):
        if "${" not in part or _DOCUMENT_START.fullmatch(part):
            out.append(part)
            continue
        where, opted_out = _names(part, file)
        if opted_out:
            out.append(part)
            continue
        replaced = _replace(part, variables, where, file)
        try:
            load_yaml(replaced, file)
        except InvalidManifestError:
            raise SubstitutionError(
                f"{where}: after substitution the document is no longer valid YAML",
                file=file,
                hint="quote values that hold YAML syntax (': ', '#', leading '-' or '{')",
            ) from None
        out.append(replaced)
    return "".join(out)
