"""The render-input flags of ``clew apply``, ``diff`` and ``render``: SOPS keys, post-build
variables, Jsonnet arguments and the Helm release name (the push path's form of an Application's
``spec.decryption``, ``spec.postBuild`` and ``spec.render``); what they become is
:func:`clew.cli.render_inputs.with_inputs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "JsonnetExtVar",
    "JsonnetTla",
    "ReleaseName",
    "SopsAgeKeyFile",
    "Substitute",
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
