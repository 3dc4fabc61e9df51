"""Baselines measured in the same run as clew, against the same control plane:

- B0, the raw floor: a minimal concurrent server-side-apply PATCH loop (httpx2, concurrency 16,
  URLs from a fixed plural rule; definitions first, polled until Established; RoleBindings
  after the Roles they bind);
- the raw DELETE floor for prune: concurrent DELETEs of exactly the objects to remove;
- B1: ``kubectl apply --server-side`` (definitions first, then the rest, as kubectl needs).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import msgspec
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import KubeConfig

CONCURRENCY = 16
_encode = msgspec.json.encode


def _client(kubeconfig: Path) -> httpx.AsyncClient:
    config = KubeConfig.from_file(kubeconfig).get()
    assert config is not None
    params = client_adapter.ConnectionParams(timeout=httpx.Timeout(60), trust_env=False)
    return client_adapter.AsyncClient(config, params)


def url(obj: dict[str, Any]) -> str:
    api, kind, meta = obj["apiVersion"], obj["kind"], obj["metadata"]
    base = f"/apis/{api}" if "/" in api else f"/api/{api}"
    ns = meta.get("namespace")
    plural = kind.lower() + "s"
    return (
        f"{base}/namespaces/{ns}/{plural}/{meta['name']}"
        if ns
        else f"{base}/{plural}/{meta['name']}"
    )


def is_definition(obj: dict[str, Any]) -> bool:
    return obj["kind"] in ("Namespace", "CustomResourceDefinition")


async def raw_apply(kubeconfig: Path, objs: list[dict[str, Any]]) -> float:
    """Seconds for B0 to apply ``objs``."""
    async with _client(kubeconfig) as http:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def patch(obj: dict[str, Any]) -> None:
            async with limit:
                resp = await http.patch(
                    url(obj),
                    params={"fieldManager": "raw-floor", "force": "true"},
                    content=_encode(obj),
                    headers={"Content-Type": "application/apply-patch+yaml"},
                )
                resp.raise_for_status()

        async def established(obj: dict[str, Any]) -> None:
            while True:
                resp = await http.get(url(obj))
                conditions = resp.json().get("status", {}).get("conditions") or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    return
                await asyncio.sleep(0.05)

        started = time.monotonic()
        definitions = [o for o in objs if is_definition(o)]
        await asyncio.gather(*(patch(o) for o in definitions))
        await asyncio.gather(
            *(established(o) for o in definitions if o["kind"] == "CustomResourceDefinition")
        )
        # The least ordering that works: a RoleBinding needs its Role to exist (RBAC checks it).
        rest = [o for o in objs if not is_definition(o)]
        await asyncio.gather(*(patch(o) for o in rest if o["kind"] != "RoleBinding"))
        await asyncio.gather(*(patch(o) for o in rest if o["kind"] == "RoleBinding"))
        return time.monotonic() - started


async def raw_delete(kubeconfig: Path, objs: list[dict[str, Any]]) -> float:
    """Seconds to DELETE ``objs`` concurrently (the prune floor)."""
    async with _client(kubeconfig) as http:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def delete(obj: dict[str, Any]) -> None:
            async with limit:
                resp = await http.delete(url(obj))
                resp.raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(delete(o) for o in objs))
        return time.monotonic() - started


def kubectl_apply(kubectl: str, kubeconfig: Path, definitions: Path, rest: Path) -> float:
    """Seconds for ``kubectl apply --server-side`` over both directories (B1)."""
    base = [kubectl, "--kubeconfig", str(kubeconfig)]
    started = time.monotonic()
    subprocess.run(
        [*base, "apply", "--server-side", "-f", str(definitions)], check=True, capture_output=True
    )
    subprocess.run(
        [*base, "wait", "--for", "condition=Established", "crd", "--all", "--timeout=120s"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*base, "apply", "--server-side", "-R", "-f", str(rest)], check=True, capture_output=True
    )
    return time.monotonic() - started
