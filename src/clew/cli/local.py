"""``clew local``: a real Kubernetes control plane on this machine, for trying clew and for tests.

``up`` builds the binaries if needed (cached by version), starts etcd, kube-apiserver,
kube-controller-manager and a kubelet stand-in on free loopback ports, and leaves them running
(``--kubelet real``: containerd, the real kubelet and kube-scheduler instead of the stand-in;
``import-image`` loads an image tarball into that node's containerd);
``down`` stops them and removes the data; state is kept per ``--name`` under
``$XDG_STATE_HOME/clew/local/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clew.cli import lazy
from clew.cli.durations import duration_option

if TYPE_CHECKING:  # lazily: `clew --help` reads this module, these are for the commands
    from rich.console import Console

    from clew.testing import tools
    from clew.testing.controlplane import ControlPlane
else:
    tools = lazy.module("clew.testing.tools")

app = typer.Typer(help="Run a real local Kubernetes control plane.", no_args_is_help=True)


def err() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def out() -> Console:
    from rich.console import Console

    return Console()


NameOption = Annotated[str, typer.Option("--name", help="Which local control plane.")]


def state_dir(name: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "clew" / "local" / name


def _load(name: str) -> ControlPlane | None:
    path = state_dir(name) / "state.json"
    if not path.exists():
        return None
    from clew.testing.controlplane import ControlPlane  # lazily: keeps `clew` start-up fast

    return ControlPlane.from_state(json.loads(path.read_text()))


def _say(message: str) -> None:
    err().print(f"[dim]·[/dim] {message}", highlight=False)


@app.command()
def up(
    name: NameOption = "default",
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the cluster's data here across down/up (default: a temp dir)."),
    ] = None,
    timeout: Annotated[
        float, duration_option("How long each component may take to start (90s).")
    ] = 90,
    kubelet: Annotated[
        str,
        typer.Option(
            help="standin: a fast loop that marks Pods Ready; real: containerd, the kubelet "
            "and kube-scheduler (Pods really run; needs root and Debian's containerd)."
        ),
    ] = "standin",
) -> None:
    """Start the local control plane (building its binaries first if needed)."""
    existing = _load(name)
    if existing is not None and all(existing.running().values()):
        err().print(f"local control plane '{name}' is already running at {existing.server}")
        typer.echo(existing.admin_kubeconfig)
        return
    if existing is not None:
        _say("cleaning up a stopped control plane")
        existing.stop()
    from clew.testing.controlplane import ControlPlane, StartupError

    if kubelet not in ("standin", "real"):
        err().print(f"[red]error:[/red] --kubelet is standin or real, not {kubelet!r}")
        raise typer.Exit(2)
    wanted = tools.CONTROL_PLANE + (tools.REAL_NODE if kubelet == "real" else ())
    if tools.missing(wanted):
        _say("building the control-plane binaries (cold builds take many minutes)")
        tools.build(_say, wanted)
    plane = ControlPlane(
        data_dir=data_dir,
        persist=data_dir is not None,
        start_timeout=timeout,
        say=_say,
        kubelet=kubelet,
    )
    try:
        plane.start()
    except (StartupError, tools.ToolsMissing, PermissionError) as exc:
        err().print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    directory = state_dir(name)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.json").write_text(json.dumps(plane.to_state(), indent=2) + "\n")
    err().print(f"[green]ready[/green]: {plane.server} (Kubernetes {tools.K8S_VERSION})")
    err().print(f"  export KUBECONFIG={plane.admin_kubeconfig}")
    err().print(f"  restricted ServiceAccount: {plane.restricted_kubeconfig}")
    err().print(f"  stop with: clew local down{'' if name == 'default' else f' --name {name}'}")
    typer.echo(plane.admin_kubeconfig)


@app.command()
def down(name: NameOption = "default") -> None:
    """Stop every process of the local control plane and delete its data (unless persisted)."""
    plane = _load(name)
    if plane is None:
        err().print(f"no local control plane '{name}' is running")
        return
    plane.stop()
    shutil.rmtree(state_dir(name), ignore_errors=True)
    err().print(f"local control plane '{name}' stopped")


@app.command()
def status(name: NameOption = "default") -> None:
    """Show whether each component runs; exits 1 when the control plane is not (fully) up."""
    plane = _load(name)
    if plane is None:
        err().print(f"no local control plane '{name}'; start one with: clew local up")
        raise typer.Exit(1)
    running = plane.running()
    from rich.table import Table

    table = Table(title=f"clew local '{name}' at {plane.server}")
    table.add_column("component")
    table.add_column("pid", justify="right")
    table.add_column("state")
    for component, alive in running.items():
        pid = str(plane.components[component].pid)
        table.add_row(component, pid, "[green]running[/green]" if alive else "[red]stopped[/red]")
    out().print(table)
    if not all(running.values()):
        raise typer.Exit(1)


@app.command()
def kubeconfig(
    name: NameOption = "default",
    restricted: Annotated[
        bool, typer.Option(help="The restricted ServiceAccount's kubeconfig instead of admin.")
    ] = False,
) -> None:
    """Print the path of the kubeconfig for the local control plane."""
    plane = _load(name)
    if plane is None:
        err().print(f"no local control plane '{name}'; start one with: clew local up")
        raise typer.Exit(1)
    typer.echo(plane.restricted_kubeconfig if restricted else plane.admin_kubeconfig)


@app.command("import-image")
def import_image(
    archive: Annotated[Path, typer.Argument(help="An OCI or Docker image tarball.")],
    name: NameOption = "default",
) -> None:
    """Load an image tarball into the real node's containerd (``up --kubelet real``)."""
    plane = _load(name)
    if plane is None or plane.kubelet != "real":
        err().print(f"no local control plane '{name}' with --kubelet real is running")
        raise typer.Exit(1)
    from clew.testing import node

    node.import_image(plane.dir, archive)
    err().print(f"imported {archive} into '{name}'")
