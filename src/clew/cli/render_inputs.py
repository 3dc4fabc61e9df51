"""What the render flags of ``clew apply``, ``diff`` and ``render`` become: the render options
with their limits, Helm values, SOPS keys, post-build variables, Jsonnet arguments and release
name. No Typer at the top (the flags' declarations are in :mod:`clew.cli.options` and
:mod:`clew.cli.render_flags`): ``clew render``'s fast path (:mod:`clew.cli.quick`) runs this
without loading Typer."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clew import engine, render

__all__ = [
    "MAX_OBJECTS",
    "MAX_RENDER_BYTES",
    "PASSWORD_ENV",
    "SourceArgs",
    "parse_pair",
    "parse_size",
    "render_options",
    "with_inputs",
]

PASSWORD_ENV = "CLEW_GIT_PASSWORD"  # noqa: S105 - the name of a variable, not a secret

# The defaults of clew.render.limits, written out: importing clew.render takes longer than the
# rest of `clew --help` (tests/unit/test_cli_start.py keeps the two equal).
MAX_RENDER_BYTES = 32 * 1024 * 1024
MAX_OBJECTS = 10_000

_SIZE = re.compile(r"([0-9]+)(Ki|Mi|Gi|k|M|G)?")
_FACTORS = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def parse_size(value: str) -> int | None:
    """A size in bytes, plain or as a Kubernetes quantity (``64Mi``, ``500k``); None when
    ``value`` is neither or zero."""
    match = _SIZE.fullmatch(value.strip())
    if match is None or int(match[1]) == 0:
        return None
    return int(match[1]) * _FACTORS[match[2]]


def parse_pair(item: str) -> tuple[str, str] | None:
    """``NAME=VALUE`` as a pair; None when there is no ``=`` or no name."""
    name, sep, value = item.partition("=")
    return (name, value) if sep and name else None


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        pair = parse_pair(item)
        if pair is None:
            import typer  # a usage error, as Typer reports one; the fast path checked first

            raise typer.BadParameter(f"{item.split('=')[0]!r} is not NAME=VALUE", param_hint=flag)
        out[pair[0]] = pair[1]
    return out


def render_options(
    namespace: str, values: list[str] | None, max_bytes: int, max_objects: int
) -> render.RenderOptions:
    """Helm from clew's tools cache when it was built there; else $CLEW_HELM or PATH."""
    from clew import render
    from clew.tools import cached_helm

    return render.RenderOptions(
        namespace=namespace,
        values_files=tuple(values or ()),
        helm_binary=cached_helm(),
        max_bytes=max_bytes,
        max_objects=max_objects,
    )


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


@dataclasses.dataclass(frozen=True)
class SourceArgs:
    """The source and render flags ``clew render`` and ``clew apply`` share, by their parameter
    names, with the same defaults (each command's own flags extend it)."""

    src: Path | None = None
    filename: Path | None = None
    repo: str | None = None
    helm_repo: str | None = None
    chart: str | None = None
    version: str | None = None
    ca_file: Path | None = None
    ref: str = "main"
    path: str = "."
    namespace: str = "default"
    values: list[str] | None = None
    release_name: str | None = None
    sops_age_key_file: Path | None = None
    substitute: list[str] | None = None
    jsonnet_tla: list[str] | None = None
    jsonnet_ext_var: list[str] | None = None
    max_render_bytes: int = MAX_RENDER_BYTES
    max_objects: int = MAX_OBJECTS
    username: str | None = None
    password_env: str = PASSWORD_ENV
    ssh_key: Path | None = None
    known_hosts: Path | None = None

    def prepare(self) -> tuple[Path | None, engine.FetchSnapshot, render.RenderOptions]:
        """The local source given (if any), its fetch and the render options with their inputs
        (:func:`clew.cli.sources.prepare`); raises ``ClewError`` or ``OSError`` for bad flags."""
        from clew.cli import sources
        from clew.cli.local_source import pick

        src = pick(self.src, self.filename)
        fetch, options = sources.prepare(
            src,
            self.repo,
            self.ref,
            self.path,
            login=(self.username, self.password_env, self.ssh_key, self.known_hosts),
            charts=sources.Charts(self.helm_repo, self.chart, self.version, self.ca_file),
            flags=sources.RenderFlags(
                self.namespace,
                self.values,
                self.max_render_bytes,
                self.max_objects,
                self.sops_age_key_file,
                self.substitute,
                self.jsonnet_tla,
                self.jsonnet_ext_var,
                self.release_name,
            ),
        )
        return src, fetch, options
