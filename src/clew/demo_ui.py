"""The demo's web UI (``clew ui`` beside the controller): the process, and a token to sign in
with for a ServiceAccount that may see and act on the demo's Applications."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from clew.cluster import Cluster


def start_ui(kubeconfig: Path, work: Path, port: int) -> subprocess.Popen[bytes]:
    """``clew ui`` as its own process; returns once it answers."""
    log = (work / "ui.log").open("wb")
    exe = str(Path(sys.executable).parent / "clew")
    argv = [exe, "ui", "--kubeconfig", str(kubeconfig), "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"clew ui did not start; see {work / 'ui.log'}") from None
            time.sleep(0.2)  # polling a health endpoint while the process starts


async def ui_token(admin: Cluster, work: Path) -> str:
    """A token for the UI: ServiceAccount apps/demo-user with the built-in ``admin`` role in
    every namespace, plus Applications (not part of ``admin``)."""
    rbac = "rbac.authorization.k8s.io/v1"
    account = [{"kind": "ServiceAccount", "name": "demo-user", "namespace": "apps"}]
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "demo-user", "namespace": "apps"},
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": "clew-demo-applications"},
            "rules": [
                {
                    "apiGroups": ["clew.dev"],
                    "resources": ["applications"],
                    "verbs": ["get", "list", "watch", "patch"],
                },
                {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list"]},
            ],
        },
    ]
    for role in ("admin", "clew-demo-applications"):
        objects.append(
            {
                "apiVersion": rbac,
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"clew-demo-user-{role}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": account,
            }
        )
    for obj in objects:
        await admin.apply(obj, field_manager="clew-demo", force=True)
    answer = await admin.request(
        "POST",
        "/api/v1/namespaces/apps/serviceaccounts/demo-user/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 86400},
        },
    )
    token = str(answer["status"]["token"])
    path = work / "ui-token.txt"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token
