"""The fast path of ``clew render``: its flags read with the standard library, so a render
starts without Typer, click, pydantic and rich (about 0.1 s, more than ``kubectl kustomize``
takes to render a small tree; docs/benchmarks.md "CLI start-up").

It takes an argument list only when every token is one it understands: the source as a
positional, each of ``clew render``'s options (``--flag value`` or ``--flag=value``) with a
value Typer would accept, ``--show-secrets``/``--no-show-secrets``. Anything else (``--help``,
an unknown or misspelt flag, a missing or malformed value, a second source) returns None and
Typer parses it, so usage errors and help read exactly as before.
tests/unit/test_cli_quick.py keeps the table below equal to the Typer command's options.
"""

from __future__ import annotations

from pathlib import Path

from clew.cli.render_inputs import parse_pair, parse_size

__all__ = ["OPTIONS", "SWITCHES", "parse_render", "run"]

# flag -> (parameter, kind); kinds: str, path, list (repeatable), pairs (repeatable
# NAME=VALUE), size (64Mi), count (an integer >= 1).
OPTIONS: dict[str, tuple[str, str]] = {
    "--filename": ("filename", "path"),
    "-f": ("filename", "path"),
    "--repo": ("repo", "str"),
    "--helm-repo": ("helm_repo", "str"),
    "--chart": ("chart", "str"),
    "--version": ("version", "str"),
    "--ca-file": ("ca_file", "path"),
    "--ref": ("ref", "str"),
    "--path": ("path", "str"),
    "--namespace": ("namespace", "str"),
    "-n": ("namespace", "str"),
    "--values": ("values", "list"),
    "--release-name": ("release_name", "str"),
    "--sops-age-key-file": ("sops_age_key_file", "path"),
    "--substitute": ("substitute", "pairs"),
    "--jsonnet-tla": ("jsonnet_tla", "pairs"),
    "--jsonnet-ext-var": ("jsonnet_ext_var", "pairs"),
    "--max-render-bytes": ("max_render_bytes", "size"),
    "--max-objects": ("max_objects", "count"),
    "--username": ("username", "str"),
    "--password-env": ("password_env", "str"),
    "--ssh-key": ("ssh_key", "path"),
    "--known-hosts": ("known_hosts", "path"),
}
SWITCHES: dict[str, tuple[str, bool]] = {
    "--show-secrets": ("show_secrets", True),
    "--no-show-secrets": ("show_secrets", False),
}


def _value(kind: str, text: str) -> object | None:
    """``text`` as the parameter's value, or None where Typer might read it otherwise."""
    if not text or (text.startswith("-") and text != "-"):
        return None  # empty, or a flag where a value belongs: Typer's to judge
    if kind == "path":
        return Path(text)
    if kind == "size":
        return parse_size(text)
    if kind == "count":
        return int(text) if text.isascii() and text.isdigit() and int(text) >= 1 else None
    if kind == "pairs" and parse_pair(text) is None:
        return None
    return text


def parse_render(argv: list[str]) -> dict[str, object] | None:
    """The parameters ``argv`` (what follows ``clew render``) sets, or None when Typer should
    parse it."""
    params: dict[str, object] = {}
    sources: list[Path] = []
    words = iter(argv)
    for word in words:
        if word in SWITCHES:
            name, on = SWITCHES[word]
            params[name] = on
            continue
        if not word.startswith("-") or word == "-":
            sources.append(Path(word))
            continue
        flag, eq, inline = word.partition("=")
        spec = OPTIONS.get(flag)
        if spec is None or (eq and not flag.startswith("--")):
            return None
        text = inline if eq else next(words, "")
        name, kind = spec
        value = _value(kind, text)
        if value is None:
            return None
        if kind in ("list", "pairs"):
            listed = params.setdefault(name, [])
            assert isinstance(listed, list)
            listed.append(value)
        else:
            params[name] = value  # given twice, the last wins (as click does)
    if len(sources) > 1:
        return None
    if sources:
        params["src"] = sources[0]
    return params


def run(argv: list[str]) -> int | None:
    """Run ``clew ARGV`` here when it is a render this path reads, and return its exit code;
    None when Typer should run it."""
    if not argv or argv[0] != "render":
        return None
    params = parse_render(argv[1:])
    if params is None:
        return None
    from clew.cli import render_run
    from clew.model import ClewError

    try:
        render_run.run(render_run.RenderArgs(**params))  # type: ignore[arg-type]
    except (ClewError, OSError) as exc:
        render_run.print_error(exc)
        return render_run.EXIT_ERROR
    return 0
