"""The one connection to a Kubernetes API server, speaking plain dicts.

lightkube supplies kubeconfig parsing, TLS and authentication (its httpx transport); everything
above that is ours: discovery, URLs, JSON with msgspec, the error tree, and watches with bookmarks.
Objects stay plain ``dict``s from JSON end to end: typed models drop fields they do not know.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import msgspec

from clew.cluster import errors, kubeconfig
from clew.cluster.discovery import Discovery, Resource
from clew.cluster.watch import WatchEvent, error_from, stream
from clew.model.refs import ObjectRef

FIELD_MANAGER = "clew"
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
_MAX_429_RETRIES = 5
_PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
_MAX_RETRY_AFTER = 30.0
_METADATA_PAGE = 2500  # metadata is ~0.5 kB an object: 5,000 in 2 round trips, not 10

_decoder = msgspec.json.Decoder()
_encode = msgspec.json.encode


class Cluster:
    """An async client for one API server. Use :meth:`from_kubeconfig`; close with ``aclose``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        namespace: str = "default",
        extra_headers: tuple[tuple[str, str], ...] = (),
        reconnect: Callable[[str | None], httpx.AsyncClient] | None = None,
        server_key: str = "",
    ) -> None:
        self._http = http
        self.server_key = server_key  # the server's key in a discovery cache on disk
        self.namespace = namespace
        self.discovery = Discovery(self)
        self._extra_headers = extra_headers
        self._reconnect = reconnect
        # Calls by verb (get, list, watch, apply, …): how tests prove "prune makes no LIST call".
        self.calls: Counter[str] = Counter()
        # Every HTTP request sent, by method (discovery, pages and retries included): what a
        # run costs the API server, as ``-o json`` reports it.
        self.requests: Counter[str] = Counter()

    @classmethod
    def from_kubeconfig(
        cls, path: str | Path | None = None, *, context: str | None = None, timeout: float = 30.0
    ) -> Cluster:
        """Connect with a kubeconfig file (default: in a Pod its ServiceAccount, else
        ``$KUBECONFIG`` merged as kubectl does, else ``~/.kube/config``)."""
        connect, namespace, key = kubeconfig.connector(path, context=context, timeout=timeout)
        return cls(connect(None), namespace=namespace, reconnect=connect, server_key=key)

    def as_bearer(self, token: str) -> Cluster:
        """The same server, authenticated by ``token`` alone (a ``clew ui`` user's): their RBAC."""
        if self._reconnect is None:
            raise errors.PermanentError("this client cannot switch identity (no kubeconfig)")
        return Cluster(self._reconnect(token), namespace=self.namespace)

    def impersonating(self, user: str, groups: tuple[str, ...] = ()) -> Cluster:
        """A client acting as ``user`` (e.g. a ServiceAccount) through Impersonate-* headers, so
        the API server applies that user's RBAC. Close it with ``aclose`` like any client."""
        if self._reconnect is None:
            raise errors.PermanentError("this client cannot impersonate (no kubeconfig)")
        headers = (("Impersonate-User", user), *(("Impersonate-Group", g) for g in groups))
        return Cluster(
            self._reconnect(None),
            namespace=self.namespace,
            extra_headers=headers,
            reconnect=self._reconnect,
        )

    @property
    def server(self) -> str:  # without user information: it names the server in errors
        return kubeconfig.public_url(str(self._http.base_url))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- raw requests ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        ref: ObjectRef | None = None,
    ) -> dict[str, Any]:
        """Send one request and decode the JSON answer; raise a :class:`ClusterError` on failure.

        429 answers are retried after the server's Retry-After (priority and fairness is the rate
        limiter; clew has none of its own).
        """
        _, answer = await self.request_with_status(
            method,
            path,
            params=params,
            body=body,
            content_type=content_type,
            accept=accept,
            ref=ref,
        )
        return answer

    async def request_with_status(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        ref: ObjectRef | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """As :meth:`request`, also returning the HTTP status (201 tells create from update)."""
        content = None if body is None else (body if isinstance(body, bytes) else _encode(body))
        if content is not None and len(content) > errors.MAX_REQUEST_BYTES:
            raise errors.request_too_large(len(content), ref)  # sent, it reads as unreachable
        headers = [("Accept", accept), *self._extra_headers]
        if content is not None:
            headers.append(("Content-Type", content_type))
        for attempt in range(_MAX_429_RETRIES + 1):
            self.requests[method] += 1
            try:
                resp = await self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                raise errors.ConnectionFailed(
                    f"cannot reach the API server {self.server}: {exc!s}", ref=ref
                ) from exc
            if resp.status_code < 400:
                return resp.status_code, (_decoder.decode(resp.content) if resp.content else {})
            error = error_from(resp, ref)
            if isinstance(error, errors.TooManyRequests) and attempt < _MAX_429_RETRIES:
                await asyncio.sleep(min(error.delay or 1.0, _MAX_RETRY_AFTER))
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    # -- typed verbs on plain objects -------------------------------------------------------------

    async def resource_for(
        self, obj_or_api_version: dict[str, Any] | str, kind: str = ""
    ) -> Resource:
        if isinstance(obj_or_api_version, dict):
            return await self.discovery.resource(
                str(obj_or_api_version.get("apiVersion")), str(obj_or_api_version.get("kind"))
            )
        return await self.discovery.resource(obj_or_api_version, kind)

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        self.calls["get"] += 1
        res = await self.resource_for(api_version, kind)
        ref = ObjectRef(res.group, kind, namespace or "", name)
        return await self.request("GET", res.path(namespace, name), ref=ref)

    async def get_metadata(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """Only the object's metadata (a Secret's data never leaves the server)."""
        self.calls["get"] += 1
        res = await self.resource_for(api_version, kind)
        ref = ObjectRef(res.group, kind, namespace or "", name)
        return await self.request("GET", res.path(namespace, name), ref=ref, accept=_METADATA)

    async def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """All items (following ``continue`` tokens) and the list's resourceVersion."""
        self.calls["list"] += 1
        res = await self.resource_for(api_version, kind)
        params: dict[str, Any] = {"limit": 500}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        items: list[dict[str, Any]] = []
        async for page in self._pages(res.path(namespace), params, "application/json"):
            for item in page.get("items") or []:
                # Lists omit apiVersion/kind on items; put them back so items are whole objects.
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", kind)
                items.append(item)
        return items, str((page.get("metadata") or {}).get("resourceVersion") or "")

    async def list_metadata(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Only the metadata of every matching object in every namespace (much less to transfer
        and decode than whole objects); each item gets apiVersion and kind back."""
        self.calls["list"] += 1
        res = await self.resource_for(api_version, kind)
        params: dict[str, Any] = {"limit": _METADATA_PAGE}
        if label_selector:
            params["labelSelector"] = label_selector
        items: list[dict[str, Any]] = []
        async for page in self._pages(res.path(namespace), params, _METADATA_LIST):
            for item in page.get("items") or []:
                item["apiVersion"], item["kind"] = res.api_version, kind
                items.append(item)
        return items

    async def _pages(
        self, path: str, params: dict[str, Any], accept: str
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Each page of a list, following ``continue`` tokens."""
        while True:
            page = await self.request("GET", path, params=params, accept=accept)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params["continue"] = token

    async def create(self, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        self.calls["create"] += 1
        res = await self.resource_for(obj)
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        ref = ObjectRef.from_object(obj)
        return await self.request(
            "POST", res.path(ns if res.namespaced else None), body=obj, ref=ref
        )

    async def apply(
        self,
        obj: dict[str, Any],
        *,
        field_manager: str = FIELD_MANAGER,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply ``obj`` as ``field_manager``; returns the object the server stored."""
        stored, _ = await self.apply_created(
            obj, field_manager=field_manager, force=force, dry_run=dry_run, subresource=subresource
        )
        return stored

    async def apply_created(
        self,
        obj: dict[str, Any],
        *,
        field_manager: str = FIELD_MANAGER,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """As :meth:`apply`; the flag says whether the apply created the object (HTTP 201)."""
        self.calls["apply"] += 1
        res = await self.resource_for(obj)
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") if res.namespaced else None
        path = res.path(ns, meta["name"]) + (f"/{subresource}" if subresource else "")
        params: dict[str, Any] = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        status, stored = await self.request_with_status(
            "PATCH",
            path,
            params=params,
            body=obj,
            content_type="application/apply-patch+yaml",
            ref=ObjectRef.from_object(obj),
        )
        return stored, status == 201

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: dict[str, Any] | list[Any],
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> dict[str, Any]:
        self.calls["patch"] += 1
        res = await self.resource_for(api_version, kind)
        path = res.path(namespace, name) + (f"/{subresource}" if subresource else "")
        ctype = _PATCH_TYPES[patch_type]
        ref = ObjectRef(res.group, kind, namespace or "", name)
        return await self.request("PATCH", path, body=patch, content_type=ctype, ref=ref)

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        grace_period: int | None = None,
        propagation: str = "Background",
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """Delete an object; ``uid`` makes it a precondition (never delete a newer namesake), and
        ``resource_version`` too (never delete an object changed since it was read)."""
        self.calls["delete"] += 1
        res = await self.resource_for(api_version, kind)
        options: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation,
        }
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if any(preconditions.values()):
            options["preconditions"] = {k: v for k, v in preconditions.items() if v}
        ref = ObjectRef(res.group, kind, namespace or "", name)
        return await self.request("DELETE", res.path(namespace, name), body=options, ref=ref)

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        field_selector: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Stream watch events with bookmarks; raises :class:`errors.Gone` when the server has
        compacted ``resource_version`` (the caller re-lists)."""
        self.calls["watch"] += 1
        res = await self.resource_for(api_version, kind)
        params: dict[str, Any] = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        if field_selector:
            params["fieldSelector"] = field_selector
        if label_selector:
            params["labelSelector"] = label_selector
        self.requests["WATCH"] += 1
        events = stream(
            self._http,
            res.path(namespace),
            params,
            timeout_seconds,
            headers=list(self._extra_headers),
            api_version=res.api_version,
            kind=kind,
        )
        async for event in events:
            yield event

    async def version(self) -> dict[str, Any]:
        return await self.request("GET", "/version")
