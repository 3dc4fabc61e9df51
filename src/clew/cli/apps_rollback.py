"""``clew rollback app NAME``: back to an earlier revision, two ways.

- Pin (default): set ``spec.pin.revision``; the controller applies exactly that commit and stops
  following the ref until ``clew resume``. Fast, needs no Git access, but Git no longer says what
  runs: use it to stop the bleeding.
- ``--revert``: push a revert commit to the Application's branch; Git stays the truth and the
  controller applies it like any other push.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clew.cli import lazy
from clew.cli.apps_common import DEFAULT_AUTHOR, EXIT_OK, Name, Namespace, err, out, run
from clew.cli.options import (
    PASSWORD_ENV,
    Context,
    KnownHosts,
    Kubeconfig,
    PasswordEnv,
    SshKey,
    Username,
)

if TYPE_CHECKING:
    from rich import markup

    from clew import model
    from clew.cli import apps_ops as ops
    from clew.cli import apps_revert
    from clew.cli import apps_view as view
    from clew.cli.apps_revert import Identity
    from clew.cluster import Cluster
    from clew.source import Credentials
else:  # loaded by the command that runs, not by `clew --help` (see clew.cli.lazy)
    markup = lazy.module("rich.markup")
    model = lazy.module("clew.model")
    ops = lazy.module("clew.cli.apps_ops")
    apps_revert = lazy.module("clew.cli.apps_revert")
    view = lazy.module("clew.cli.apps_view")

__all__ = ["flag_credentials", "pin_target", "rollback_app"]


def flag_credentials(
    username: str | None, password_env: str, ssh_key: Path | None, known_hosts: Path | None
) -> Credentials | None:
    """Credentials from flags (None: none given). The password is read from an environment
    variable, never from the command line, where other users could see it."""
    if not (username or ssh_key or known_hosts):
        return None
    from clew.source import Credentials

    password = os.environ.get(password_env, "") if username else ""
    if username and not password:
        raise model.ClewError(
            f"--username given but ${password_env} is empty",
            hint=f"export {password_env}=<password or token>",
        )
    return Credentials(
        username=username or None,
        password=password or None,
        ssh_private_key=ssh_key.read_text() if ssh_key else None,
        known_hosts=known_hosts.read_text() if known_hosts else None,
    )


def pin_target(app: Mapping[str, Any], to: str | None, *, force: bool) -> Mapping[str, Any]:
    """The history entry to pin (a bare ``{"revision": …}`` for a forced full SHA)."""
    status = app.get("status") or {}
    history = list(status.get("history") or [])
    if to is None:
        entry = view.default_rollback_target(history, str(status.get("lastAppliedRevision") or ""))
        if entry is None:
            raise model.ClewError(
                "no earlier successful revision in the history",
                hint="see `clew history app NAME`, then give one with --to",
            )
        return entry
    try:
        revision = view.resolve_revision(history, to)
    except view.NotInHistory:
        if not force:
            raise
        from clew.controller.api.rules import REVISION_RE

        if not re.fullmatch(REVISION_RE, to.strip().lower()):
            raise model.ClewError(
                f"--force needs the full commit SHA, not {to!r}",
                hint="a pin names exactly one commit; copy all 40 characters",
            ) from None
        return {"revision": to.strip().lower()}
    return next(e for e in history if e.get("revision") == revision)


def _git_only(app: Mapping[str, Any]) -> None:
    source = (app.get("spec") or {}).get("source") or {}
    if source.get("chart") or str(source.get("repoURL") or "").startswith("oci://"):
        raise model.ClewError(
            "rollback pins and reverts Git commits; this Application's source is a chart or an "
            "OCI artifact",
            hint="set spec.source.version to the earlier version (or sha256: digest) instead",
        )


async def _pin(cluster: Cluster, ns: str, name: str, to: str | None, force: bool) -> int:
    app = await ops.get_app(cluster, ns, name)
    _git_only(app)
    entry = pin_target(app, to, force=force)
    revision = str(entry["revision"])
    patch: dict[str, Any] = {"pin": {"revision": revision}}
    spec = app.get("spec") or {}
    if spec.get("suspend"):
        patch["suspend"] = False  # `clew resume` would drop the pin: roll back means apply it
    await ops.patch_spec(cluster, ns, name, patch)
    subject = f" ({entry['subject']})" if entry.get("subject") else ""
    ref = (spec.get("source") or {}).get("ref", "main")
    out().print(f"pinned {ns}/{name} to {revision[:12]}{markup.escape(subject)}")
    out().print(
        f"the controller applies exactly that commit and stops following {markup.escape(ref)} "
        f"until `clew resume app {markup.escape(name)}`"
        + (" (it was suspended: rolling back resumed it)" if spec.get("suspend") else "")
    )
    return EXIT_OK


async def _revert(
    cluster: Cluster,
    ns: str,
    name: str,
    to: str | None,
    creds: Credentials | None,
    author: Identity,
) -> int:
    from clew.controller.api.spec import parse
    from clew.controller.reconcile import credentials as app_credentials
    from clew.source.git import redact_url

    app = await ops.get_app(cluster, ns, name)
    _git_only(app)
    spec = parse(app, namespace=ns)
    if spec.source.verify_secret_name:
        raise model.ClewError(
            "the Application only accepts signed commits; clew cannot sign the revert",
            hint="revert and sign by hand, or pin an earlier revision: rollback without --revert",
        )
    status = app.get("status") or {}
    applied = str(status.get("lastAppliedRevision") or "")
    if not applied:
        raise model.ClewError(f"{ns}/{name} has applied no revision yet: nothing to revert")
    if to is not None:
        # A history prefix is expanded; any other commit is left to git to find.
        with contextlib.suppress(view.NotInHistory):
            to = view.resolve_revision(list(status.get("history") or []), to)
    if creds is None:
        creds = await app_credentials.credentials(cluster, ns, spec.source.secret_name)
    err().print(f"reverting {applied[:12]} on {markup.escape(redact_url(spec.source.repo_url))} …")
    result = await apps_revert.revert(
        spec.source.repo_url, spec.source.ref, creds, applied, to=to, author=author
    )
    await ops.request_reconcile(cluster, ns, name, view.reconcile_timestamp())
    out().print(
        f"pushed {result.commit} to {markup.escape(result.branch)}, reverting "
        + ", ".join(c[:12] for c in result.reverted)
    )
    held = f"pinned to {spec.pin_revision[:12]}" if spec.pin_revision else "suspended"
    if spec.pin_revision or spec.suspend:
        out().print(
            f"{ns}/{name} is {held}: run `clew resume app {markup.escape(name)}` to apply the "
            "revert"
        )
    else:
        out().print(f"reconcile of {ns}/{name} requested")
    return EXIT_OK


def rollback_app(
    name: Name,
    to: Annotated[
        str | None,
        typer.Option(
            help="The revision (a unique prefix of one in `clew history app`); "
            "default: the newest successful one before the current."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Pin a full commit SHA that is not in the history.")
    ] = False,
    revert_: Annotated[
        bool,
        typer.Option(
            "--revert",
            help="Push a revert commit to the Application's branch instead of pinning.",
        ),
    ] = False,
    author: Annotated[
        str, typer.Option(help="With --revert: the commit's author, 'Name <email>'.")
    ] = DEFAULT_AUTHOR,
    username: Username = None,
    password_env: PasswordEnv = PASSWORD_ENV,
    ssh_key: SshKey = None,
    known_hosts: KnownHosts = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Roll back to an earlier revision: a pin (until `clew resume`) or a revert commit.

    Without --revert: pin a revision from the history. With --revert: push a revert commit to
    the Application's branch (credentials: the Application's Secret, or the flags).
    """
    try:
        identity = apps_revert.Identity.parse(author)
        creds = flag_credentials(username, password_env, ssh_key, known_hosts)
    except (model.ClewError, OSError) as exc:
        err().print(f"[red]error:[/] {markup.escape(str(exc))}")
        raise typer.Exit(2) from None

    async def act(cluster: Cluster, ns: str) -> int:
        if revert_:
            return await _revert(cluster, ns, name, to, creds, identity)
        if creds is not None:
            raise model.ClewError("credentials are only used with --revert")
        return await _pin(cluster, ns, name, to, force)

    raise typer.Exit(run(kubeconfig, context, namespace, act))
