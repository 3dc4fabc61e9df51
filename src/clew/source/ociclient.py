"""The OCI distribution protocol, as much of it as clew needs: list tags, read a manifest, read a
blob (digest verified), upload a blob and a manifest.

Authentication follows the registries' challenge: a request that gets 401 with ``Bearer
realm=…,service=…,scope=…`` fetches a token from the realm (with Basic credentials when there are
any) and is sent again with it; ``Basic`` is answered with the credentials. Tokens are kept per
scope for the client's life. Credentials come as :class:`HttpAuth`, or from a Docker config
(``.dockerconfigjson``) through :func:`auth_from_docker_config`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clew.source import http
from clew.source.errors import AuthenticationFailed, RefNotFound, SourceError
from clew.source.http import HttpAuth, Response

__all__ = [
    "MANIFEST_TYPES",
    "OCI_MANIFEST",
    "OciRef",
    "RegistryClient",
    "auth_from_docker_config",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = (OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
MAX_MANIFEST_BYTES = 4 << 20
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class OciRef:
    """``oci://host[:port]/repository`` split; ``reference`` is a tag or digest when one was
    written after ``:`` or ``@``."""

    host: str
    repository: str
    reference: str = ""

    @classmethod
    def parse(cls, url: str) -> OciRef:
        if not url.startswith("oci://"):
            raise SourceError(f"{url!r} is not an oci:// URL")
        rest = url[len("oci://") :].rstrip("/")
        host, _, path = rest.partition("/")
        reference = ""
        if "@" in path:
            path, _, reference = path.partition("@")
        elif ":" in path.rsplit("/", 1)[-1]:
            path, _, reference = path.rpartition(":")
        if not host or not path or not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", path):
            raise SourceError(
                f"{url!r} is not oci://HOST/REPOSITORY (lower-case path)",
                hint="e.g. oci://ghcr.io/team/app-manifests",
            )
        return cls(host, path, reference)

    def __str__(self) -> str:
        return f"oci://{self.host}/{self.repository}"


def auth_from_docker_config(config: str, host: str, ca_pem: str | None = None) -> HttpAuth | None:
    """The credentials a ``.dockerconfigjson`` holds for ``host`` (``auths`` keyed by host, with
    or without ``https://``; ``auth`` base64 ``user:password`` or ``username``/``password``;
    ``identitytoken`` or ``registrytoken`` as a token)."""
    try:
        auths = json.loads(config).get("auths") or {}
    except (ValueError, AttributeError):
        raise SourceError("the Secret's .dockerconfigjson is not a Docker config (JSON)") from None
    for key, entry in auths.items():
        if urllib.parse.urlsplit(key if "://" in key else f"//{key}").netloc != host:
            continue
        if not isinstance(entry, dict):
            break
        user, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            decoded = base64.b64decode(entry["auth"]).decode()
            user, _, password = decoded.partition(":")
        token = entry.get("registrytoken")
        return HttpAuth(username=user, password=password, token=token, ca_pem=ca_pem)
    return HttpAuth(ca_pem=ca_pem) if ca_pem else None


class RegistryClient:
    """One registry host, one set of credentials; synchronous (callers run it in a thread)."""

    def __init__(self, host: str, auth: HttpAuth | None = None, *, timeout: float = 60.0) -> None:
        self.host = host
        self.auth = auth
        self.timeout = timeout
        self._tokens: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------------

    def tags(self, repository: str) -> list[str]:
        found: list[str] = []
        path = f"/v2/{repository}/tags/list?n=1000"
        for _ in range(100):  # pages; a registry with 100,000 tags is not a source
            response = self._send("GET", path, repository, max_bytes=MAX_MANIFEST_BYTES)
            found += list(json.loads(response.body).get("tags") or [])
            link = response.headers.get("Link") or response.headers.get("link") or ""
            match = re.match(r"<([^>]+)>", link)
            if not match:
                break
            path = match[1]
        return found

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
        """(digest, manifest); a reference that is a digest is checked against the body."""
        response = self._send(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            max_bytes=MAX_MANIFEST_BYTES,
            missing=f"no tag or digest {reference!r} in oci://{self.host}/{repository}",
        )
        digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise SourceError(f"manifest {reference} has digest {digest}: refusing it")
        try:
            manifest = json.loads(response.body)
        except ValueError:
            raise SourceError(f"oci://{self.host}/{repository}:{reference}: bad manifest") from None
        return digest, manifest

    def blob(self, repository: str, digest: str, *, max_bytes: int) -> bytes:
        response = self._send(
            "GET", f"/v2/{repository}/blobs/{digest}", repository, max_bytes=max_bytes
        )
        actual = "sha256:" + hashlib.sha256(response.body).hexdigest()
        if actual != digest:
            raise SourceError(
                f"blob {digest} of oci://{self.host}/{repository} arrived with digest {actual}"
            )
        return response.body

    # -- writing -----------------------------------------------------------------------------

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        head = self._send(
            "HEAD", f"/v2/{repository}/blobs/{digest}", repository, push=True, check=False
        )
        if head.status == 200:
            return digest
        started = self._send(
            "POST", f"/v2/{repository}/blobs/uploads/", repository, push=True, data=b""
        )
        location = started.headers.get("Location") or started.headers.get("location") or ""
        if not location:
            raise SourceError(f"oci://{self.host}/{repository}: the upload got no Location")
        separator = "&" if "?" in location else "?"
        self._send(
            "PUT",
            f"{location}{separator}digest={urllib.parse.quote(digest)}",
            repository,
            push=True,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return digest

    def push_manifest(self, repository: str, tag: str, manifest: Mapping[str, Any]) -> str:
        body = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        self._send(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            repository,
            push=True,
            data=body,
            headers={"Content-Type": str(manifest.get("mediaType") or OCI_MANIFEST)},
        )
        return "sha256:" + hashlib.sha256(body).hexdigest()

    # -- the protocol ------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else f"https://{self.host}{path}"

    def _send(
        self,
        method: str,
        path: str,
        repository: str,
        *,
        push: bool = False,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_MANIFEST_BYTES,
        check: bool = True,
        missing: str = "",
    ) -> Response:
        scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
        what = f"OCI {method}"
        for attempt in range(2):
            authorization = self._tokens.get(scope)
            response = http.request(
                self._url(path),
                self.auth,
                method=method,
                headers=headers,
                data=data,
                max_bytes=max_bytes,
                timeout=self.timeout,
                authorization=authorization,
                what=what,
                check=False,
            )
            if response.status == 401 and attempt == 0 and self._answer(response, scope):
                continue
            break
        if response.status == 404 and missing:
            raise RefNotFound(missing, hint="check the tag, or list the tags the registry has")
        if check and response.status >= 400:
            raise http.status_error(response, f"{self.host}/{repository}", what, self._secrets())
        return response

    def _secrets(self) -> tuple[str, ...]:
        return (self.auth.secrets() if self.auth else ()) + tuple(self._tokens.values())

    def _answer(self, response: Response, scope: str) -> bool:
        """Prepare the credentials the 401's challenge asks for; False when we have none."""
        challenge = response.headers.get("WWW-Authenticate") or response.headers.get(
            "www-authenticate", ""
        )
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            # The request carried our Basic credentials already, if we have any.
            if self.auth is None or self.auth.header() is None:
                raise AuthenticationFailed(
                    f"oci://{self.host} asks for credentials and none were given",
                    hint="name a Secret with .dockerconfigjson (or username and password)",
                )
            return False
        if scheme != "bearer":
            return False
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            return False
        params.setdefault("scope", scope)
        basic = (
            HttpAuth(self.auth.username, self.auth.password, ca_pem=self.auth.ca_pem)
            if self.auth
            else None
        )
        token = http.request(
            f"{realm}?{urllib.parse.urlencode(params)}",
            basic,
            max_bytes=1 << 20,
            timeout=self.timeout,
            what="OCI token",
        )
        try:
            body = json.loads(token.body)
            value = body.get("token") or body.get("access_token")
        except ValueError:
            value = None
        if not value:
            raise AuthenticationFailed(f"oci://{self.host}: the token service sent no token")
        self._tokens[scope] = f"Bearer {value}"
        return True
