"""The first two stages, as the orchestrator and ``clew render`` run them: fetch a snapshot,
render it (off the event loop: parsing is CPU work), and split Helm hooks from the release."""

from __future__ import annotations

import asyncio

from clew import render
from clew.engine.result import FetchSnapshot
from clew.model import Hooks, Manifest, Snapshot

__all__ = ["fetch_and_render", "render_snapshot", "render_split"]


async def render_snapshot(snapshot: Snapshot, options: render.RenderOptions) -> list[Manifest]:
    """Every object ``snapshot``'s path renders to, hooks included."""
    return await asyncio.to_thread(
        render.render, snapshot.root, str(snapshot.path.relative_to(snapshot.root)), options
    )


async def render_split(
    snapshot: Snapshot, options: render.RenderOptions
) -> tuple[list[Manifest], Hooks]:
    """The release's objects and its Helm hooks, apart."""
    return render.split_hooks(await render_snapshot(snapshot, options))


async def fetch_and_render(
    fetch: FetchSnapshot, options: render.RenderOptions
) -> tuple[Snapshot, list[Manifest]]:
    """Source then render, nothing else (``clew render``); raises the stage's ClewError."""
    snapshot = await fetch()
    return snapshot, await render_snapshot(snapshot, options)
