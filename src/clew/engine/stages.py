"""The first two stages, as the orchestrator and ``clew render`` run them: fetch a snapshot,
complete the render options with what only the cluster knows, render (off the event loop:
parsing is CPU work), and split Helm hooks from the release."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from clew import render

if TYPE_CHECKING:  # `clew render` imports this module: no cluster client, no apply stage
    from clew.cluster import Cluster
    from clew.engine.result import FetchSnapshot, SyncOptions
    from clew.model import Hooks, Manifest, Snapshot

__all__ = [
    "fetch_and_render",
    "render_here",
    "render_options",
    "render_snapshot",
    "render_split",
    "values",
]


def render_here(snapshot: Snapshot, options: render.RenderOptions) -> render.Rendered:
    """Every object ``snapshot``'s path renders to, in this thread: ``clew render`` of a local
    directory, which has nothing else to do meanwhile and so needs no event loop."""
    return render.render_all(snapshot.root, str(snapshot.path.relative_to(snapshot.root)), options)


async def render_snapshot(snapshot: Snapshot, options: render.RenderOptions) -> render.Rendered:
    """Every object ``snapshot``'s path renders to, hooks included, and the render's warnings."""
    import asyncio  # here, not at the top: see render_here

    return await asyncio.to_thread(render_here, snapshot, options)


async def render_split(
    snapshot: Snapshot, options: render.RenderOptions
) -> tuple[list[Manifest], Hooks, list[str]]:
    """The release's objects and its Helm hooks, apart, and the render's warnings."""
    rendered = await render_snapshot(snapshot, options)
    manifests, hooks = render.split_hooks(rendered.manifests)
    return manifests, hooks, rendered.warnings


async def values(options: SyncOptions) -> render.RenderOptions:
    """The render options with the Helm values read at sync time, if the sync has any
    (``valuesFrom``); raises what reading them raised."""
    if options.values_from is None:
        return options.render
    return replace(options.render, values=await options.values_from())


async def render_options(
    cluster: Cluster, options: SyncOptions, snapshot: Snapshot, opts: render.RenderOptions
) -> render.RenderOptions:
    """``opts`` completed with what only the cluster knows: the caller's inputs (keys,
    variables) and, for Helm, the target's API versions and Kubernetes version, so
    ``.Capabilities`` describes the cluster the release is applied to."""
    if options.render_inputs is not None:
        opts = await options.render_inputs(cluster, opts)
    kind = render.detect(snapshot.path) if opts.kind == "auto" else opts.kind
    if kind == "helm" and not opts.api_versions:
        versions, kube = await cluster.discovery.capabilities()
        opts = replace(opts, api_versions=versions, kube_version=opts.kube_version or kube)
    return opts


async def fetch_and_render(
    fetch: FetchSnapshot, options: render.RenderOptions
) -> tuple[Snapshot, render.Rendered]:
    """Source then render, nothing else (``clew render``, no cluster); raises the stage's
    ClewError."""
    snapshot = await fetch()
    return snapshot, await render_snapshot(snapshot, options)
