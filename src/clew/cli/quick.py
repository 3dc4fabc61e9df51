"""The fast path of ``clew render`` and ``clew apply``: their flags read with the standard
library, so the command starts without Typer, click and pydantic (about 0.1 s, more than
``kubectl kustomize`` takes to render a small tree; docs/benchmarks.md "CLI start-up").

It takes an argument list only when every token is one it understands: the source as a
positional, each of the command's options (``--flag value`` or ``--flag=value``) with a value
Typer would accept, its ``--switch``/``--no-switch`` flags. Anything else (``--help``, an unknown
or misspelt flag, a missing or malformed value, a second source) returns None and Typer parses
it, so usage errors and help read exactly as before. tests/unit/test_cli_quick.py keeps the
tables below equal to the Typer commands' options.
"""

from __future__ import annotations

from pathlib import Path

from clew.cli.render_inputs import parse_pair, parse_size

__all__ = ["COMMANDS", "parse", "run"]

# flag -> (parameter, kind); kinds: str, path, list (repeatable), pairs (repeatable
# NAME=VALUE), size (64Mi), count (an integer >= 1), duration (90s, 5m).
_SOURCE: dict[str, tuple[str, str]] = {
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
_APPLY = {
    **_SOURCE,
    "--name": ("name", "str"),
    "--timeout": ("timeout", "duration"),
    "--output": ("output", "str"),
    "-o": ("output", "str"),
    "--kubeconfig": ("kubeconfig", "path"),
    "--context": ("context", "str"),
}


def _switches(*params: str) -> dict[str, tuple[str, bool]]:
    """``--x-y``/``--no-x-y`` for each parameter ``x_y``; ``wait_`` is ``--wait`` alone (its
    flag is named explicitly, so Typer declares no ``--no-wait``)."""
    out: dict[str, tuple[str, bool]] = {}
    for param in params:
        flag = param.rstrip("_").replace("_", "-")
        out[f"--{flag}"] = (param, True)
        if not param.endswith("_"):
            out[f"--no-{flag}"] = (param, False)
    return out


# command -> (its options, its switches)
COMMANDS: dict[str, tuple[dict[str, tuple[str, str]], dict[str, tuple[str, bool]]]] = {
    "render": (_SOURCE, _switches("show_secrets")),
    "apply": (
        _APPLY,
        _switches(
            "prune", "allow_empty", "wait_", "dry_run", "force_conflicts", "recreate", "adopt"
        ),
    ),
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
    if kind == "duration":
        from clew.model.duration import parse_duration

        try:
            return parse_duration(text.strip(), bare_seconds=True)
        except ValueError:
            return None
    return text


def parse(command: str, argv: list[str]) -> dict[str, object] | None:
    """The parameters ``argv`` (what follows ``clew COMMAND``) sets, or None when Typer should
    parse it."""
    options, switches = COMMANDS[command]
    params: dict[str, object] = {}
    sources: list[Path] = []
    words = iter(argv)
    for word in words:
        if word in switches:
            name, on = switches[word]
            params[name] = on
            continue
        if not word.startswith("-") or word == "-":
            sources.append(Path(word))
            continue
        flag, eq, inline = word.partition("=")
        spec = options.get(flag)
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
    """Run ``clew ARGV`` here when it is a command and flags this path reads, and return its
    exit code; None when Typer should run it."""
    if not argv or argv[0] not in COMMANDS:
        return None
    params = parse(argv[0], argv[1:])
    if params is None:
        return None
    if argv[0] == "apply":
        from clew.cli import apply_run

        return apply_run.run(apply_run.ApplyArgs(**params))  # type: ignore[arg-type]
    from clew.cli import render_run
    from clew.model import ClewError

    try:
        render_run.run(render_run.RenderArgs(**params))  # type: ignore[arg-type]
    except (ClewError, OSError) as exc:
        render_run.print_error(exc)
        return render_run.EXIT_ERROR
    return 0
