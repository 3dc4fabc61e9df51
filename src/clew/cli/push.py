"""``clew push artifact``: package a directory of manifests as an OCI artifact and push it, in the
format of ``flux push artifact`` (media types, annotations), so Flux's OCIRepository and clew's
``oci://`` sources read it alike.

Exit codes: 0 pushed (the digest URL is printed on stdout); 2 error (nothing pushed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clew.cli.options import PASSWORD_ENV, CaFile, PasswordEnv, Username

__all__ = ["app"]

app = typer.Typer(help="Push artifacts to an OCI registry.", no_args_is_help=True)


@app.command("artifact")
def artifact_command(
    url: Annotated[str, typer.Argument(help="oci://HOST/REPOSITORY:TAG", show_default=False)],
    path: Annotated[Path, typer.Option(help="Directory whose files go into the artifact.")] = Path(
        "."
    ),
    source: Annotated[
        str, typer.Option(help="Where the files come from (org.opencontainers.image.source).")
    ] = "",
    revision: Annotated[
        str,
        typer.Option(help="Their revision, e.g. main@sha1:<commit> (…image.revision)."),
    ] = "",
    username: Username = None,
    password_env: PasswordEnv = PASSWORD_ENV,
    ca_file: CaFile = None,
) -> None:
    """Push a directory as an OCI artifact (the format of `flux push artifact`)."""
    import asyncio  # here, like clew's packages: `clew --help` imports this module

    from rich.console import Console

    from clew.cli import sources
    from clew.model import ClewError
    from clew.source.oci import OciSource, push
    from clew.source.ociclient import OciRef

    err = Console(stderr=True, highlight=False)
    try:
        ref = OciRef.parse(url)
        if not ref.reference or ref.reference.startswith("sha256:"):
            raise ClewError("give a tag: oci://HOST/REPOSITORY:TAG")
        if not path.is_dir():
            raise ClewError(f"{path} is not a directory")
        creds = sources.credentials(username, password_env, None, None)
        auth = sources.http_auth(creds, ca_file)
        digest = asyncio.run(
            push(OciSource(str(ref), ref.reference, auth), path, origin=source, revision=revision)
        )
    except (ClewError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    err.print(f"pushed {ref}:{ref.reference}")
    sys.stdout.write(f"{ref}@{digest}\n")
