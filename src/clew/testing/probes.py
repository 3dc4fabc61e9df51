"""Readiness probes of the local control plane's components, over plain HTTPS (no client
library: they run before there is an API server to talk to), and running a coroutine from the
control plane's synchronous start-up."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from clew.testing.pki import KeyPair

__all__ = ["client_tls", "has_rules", "http_get", "http_ok", "node_ready", "run_sync"]


def client_tls(ca: Path, cert: KeyPair) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert.cert), str(cert.key))
    return context


def http_get(url: str, context: ssl.SSLContext | None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""


def http_ok(url: str, context: ssl.SSLContext | None) -> bool:
    return http_get(url, context)[0] == 200


def has_rules(server: str, context: ssl.SSLContext, role: str) -> bool:
    url = f"{server}/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}"
    code, body = http_get(url, context)
    return code == 200 and bool(json.loads(body).get("rules"))


def node_ready(server: str, context: ssl.SSLContext, node: str) -> bool:
    code, body = http_get(f"{server}/api/v1/nodes/{node}", context)
    if code != 200:
        return False
    conditions = json.loads(body).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def run_sync(make: Callable[[], Coroutine[Any, Any, str]]) -> str:
    """Run a coroutine to completion from sync code, even when the caller has a running loop
    (then in a thread of its own: a loop cannot be re-entered)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
