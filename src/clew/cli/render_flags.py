"""The render-input flags of ``clew apply``, ``diff`` and ``render``: SOPS keys, post-build
variables, Jsonnet arguments and the Helm release name (the push path's form of an Application's
``spec.decryption``, ``spec.postBuild`` and ``spec.render``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported where it is used: `clew --help` reads these flags, nothing else
    from clew import render

__all__ = [
    "JsonnetExtVar",
    "JsonnetTla",
    "ReleaseName",
    "SopsAgeKeyFile",
    "Substitute",
    "with_inputs",
]

SopsAgeKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--sops-age-key-file",
        help="An age key file (AGE-SECRET-KEY-1… lines) to decrypt SOPS-encrypted Secrets with.",
    ),
]
Substitute = Annotated[
    list[str] | None,
    typer.Option(
        "--substitute",
        metavar="NAME=VALUE",
        help="Replace ${NAME} in the rendered objects (repeatable; turns substitution on, as "
        "an Application's spec.postBuild).",
    ),
]
JsonnetTla = Annotated[
    list[str] | None,
    typer.Option("--jsonnet-tla", metavar="NAME=VALUE", help="Jsonnet top-level argument."),
]
JsonnetExtVar = Annotated[
    list[str] | None,
    typer.Option("--jsonnet-ext-var", metavar="NAME=VALUE", help="Jsonnet external variable."),
]
ReleaseName = Annotated[
    str | None, typer.Option("--release-name", help="Helm release name (default: the chart's).")
]


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{item.split('=')[0]!r} is not NAME=VALUE", param_hint=flag)
        out[name] = value
    return out


def with_inputs(
    options: render.RenderOptions,
    *,
    age_key_file: Path | None = None,
    substitute: list[str] | None = None,
    jsonnet_tla: list[str] | None = None,
    jsonnet_ext_var: list[str] | None = None,
    release_name: str | None = None,
) -> render.RenderOptions:
    """``options`` with the flags' inputs; a key file that cannot be read is a clear error that
    never quotes the file."""
    from clew import render

    keys = None
    if age_key_file is not None:
        try:
            text = age_key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise render.DecryptionError(f"--sops-age-key-file {age_key_file}: {reason}") from None
        keys = render.SopsKeys(age=render.parse_age_keys(text, str(age_key_file)))
    variables = _pairs(substitute, "--substitute") if substitute else None
    return dataclasses.replace(
        options,
        decryption=keys,
        substitute=variables,
        jsonnet_tla=_pairs(jsonnet_tla, "--jsonnet-tla"),
        jsonnet_ext_vars=_pairs(jsonnet_ext_var, "--jsonnet-ext-var"),
        release_name=release_name or options.release_name,
    )
