"""The demo (README's first command): clew doing GitOps on a real local control plane.

It starts the control plane and a Git server, pushes an example app (a Namespace, a
Deployment, a Service, a ConfigMap), runs the controller as its own process, registers an
Application, and narrates what happens: sync and health; a pushed commit rolled out through the
webhook; a live edit reverted by self-heal; a rollback with ``clew rollback --revert``; the
history. ``clew ui`` runs beside it: the demo prints its URL and a token to sign in with, so the
story can be watched live in a browser. It cleans up unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from clew.apply import wait_established
from clew.cluster import Cluster
from clew.controller import APPLICATION_CRD, CRD_NAME
from clew.controller.api.appset_crd import APPLICATION_SET_CRD, APPLICATION_SET_CRD_NAME
from clew.controller.api.spec import API_VERSION, KIND
from clew.demo_ui import start_ui, ui_token
from clew.testing.controlplane import ControlPlane
from clew.testing.gitserver import GitHttpServer, create_repo
from clew.testing.processes import free_port, stop_pid
from clew.testing.waiting import condition, until

console = Console(highlight=False, soft_wrap=True)  # tables from `clew` keep their width
NS = "demo"
APP = "web"


def say(text: str) -> None:
    console.print(f"\n[bold cyan]▶ {text}[/]")


def note(text: str) -> None:
    console.print(f"  {text}")


def manifests(replicas: int) -> dict[str, str]:
    labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 80}]},
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": NS},
        "data": {"greeting": "hello from Git"},
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    return {
        "deploy/namespace.yaml": yaml.safe_dump(namespace),
        "deploy/deployment.yaml": yaml.safe_dump(deployment),
        "deploy/service.yaml": yaml.safe_dump(service),
        "deploy/configmap.yaml": yaml.safe_dump(config),
    }


def clew(*args: str, env: dict[str, str] | None = None) -> str:
    exe = str(Path(sys.executable).parent / "clew")
    out = subprocess.run([exe, *args], capture_output=True, text=True, env=env, check=False)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"clew {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return out.stdout + out.stderr


def kubectl(env: dict[str, str], *args: str) -> str:
    exe = str(Path(sys.executable).parent / "kubectl")
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, check=False).stdout


def start_controller(
    kubeconfig: Path, work: Path, port: int, secret: str
) -> subprocess.Popen[bytes]:
    """``clew controller`` as its own process, as users run it; returns once /readyz answers."""
    log = (work / "controller.log").open("wb")
    env = {
        **os.environ,
        "CLEW_WEBHOOK_GENERIC_SECRET": secret,
        "CLEW_CACHE_DIR": str(work / "cache"),
    }
    exe = str(Path(sys.executable).parent / "clew")
    argv = [
        exe,
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-bind-address",
        "0",  # the demo reads no metrics; two demos must not fight over a port
    ]
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the controller did not start; see {work / 'controller.log'}"
                ) from None
            time.sleep(0.2)  # polling a health endpoint while the process starts


def webhook(port: int, secret: str, repo_url: str) -> dict[str, Any]:
    body = json.dumps({"repository": repo_url, "ref": "main"}).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/generic",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Clew-Timestamp": stamp,
            "X-Clew-Signature": f"sha256={mac}",
            "X-Clew-Delivery": secrets.token_hex(8),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return dict(json.loads(resp.read()))


def ready_at(revision: str) -> Callable[[dict[str, Any] | None], bool]:
    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(
            app
            and ready
            and ready["status"] == "True"
            and (app.get("status") or {}).get("lastAppliedRevision") == revision
        )

    return check


async def story(
    plane: ControlPlane,
    git: GitHttpServer,
    repo_url: str,
    repo: Any,
    port: int,
    secret: str,
    ui_url: str,
    work: Path,
) -> None:
    kubeconfig = str(plane.admin_kubeconfig)
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    async with Cluster.from_kubeconfig(plane.admin_kubeconfig) as admin:
        say("Registering the Application (its Git credentials go in a Secret)")
        await admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
        await admin.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "git", "namespace": "apps"},
                "data": {
                    "username": base64.b64encode(b"demo").decode(),
                    "password": base64.b64encode(git.users["demo"].encode()).decode(),
                },
            }
        )
        say(f"Watch it in the web UI: {ui_url}")
        note("sign in with this token (ServiceAccount apps/demo-user: `admin` and Applications):")
        console.print(await ui_token(admin, work), soft_wrap=True)
        note(f"(also in {work / 'ui-token.txt'}; `./scripts/demo --keep` leaves the UI running)")
        first = repo.head()
        started = time.monotonic()
        await admin.create(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {"name": APP, "namespace": "apps"},
                "spec": {
                    "source": {
                        "repoURL": repo_url,
                        "ref": "main",
                        "path": "deploy",
                        "secretRef": {"name": "git"},
                    },
                    "destination": {"namespace": NS},
                    "interval": "10m",
                    "selfHeal": True,
                    "prune": True,
                    "wait": True,
                },
            }
        )
        await until(admin, API_VERSION, KIND, APP, "apps", ready_at(first), 120)
        note(f"synced and healthy in {time.monotonic() - started:.1f}s")
        console.print(await asyncio.to_thread(clew, "get", "apps", "-n", "apps", env=env))
        console.print(await asyncio.to_thread(kubectl, env, "-n", NS, "get", "deploy,svc,cm,pods"))

        say("A developer scales the Deployment to 4 in Git; CI pushes and calls the webhook")
        second = repo.commit(
            {"deploy/deployment.yaml": manifests(4)["deploy/deployment.yaml"]},
            "Scale web to 4 replicas",
        )
        pushed = time.monotonic()
        answer = await asyncio.to_thread(webhook, port, secret, repo_url)
        note(f"webhook accepted: {answer['triggered']} Application(s) triggered")
        await until(
            admin,
            "apps/v1",
            "Deployment",
            "web",
            NS,
            lambda d: bool(d and d["spec"]["replicas"] == 4),
            30,
        )
        note(f"applied {time.monotonic() - pushed:.2f}s after the push")
        await until(admin, API_VERSION, KIND, APP, "apps", ready_at(second), 60)
        note(f"4/4 replicas available {time.monotonic() - pushed:.2f}s after the push")

        say("Someone edits the live Deployment by hand (replicas 4 → 1)")
        live = await admin.get("apps/v1", "Deployment", "web", NS)
        live["spec"]["replicas"] = 1
        edited = time.monotonic()
        await admin.request("PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/web", body=live)
        await until(
            admin,
            "apps/v1",
            "Deployment",
            "web",
            NS,
            lambda d: bool(d and d["spec"]["replicas"] == 4),
            30,
        )
        note(f"self-heal put Git's value back in {(time.monotonic() - edited) * 1000:.0f} ms")

        say("Rolling back the GitOps way: `clew rollback app web --revert` writes a revert commit")
        console.print(
            await asyncio.to_thread(clew, "rollback", "app", APP, "-n", "apps", "--revert", env=env)
        )
        reverted = repo.head()
        note(f"revert commit {reverted[:12]} pushed on main")
        await until(
            admin,
            "apps/v1",
            "Deployment",
            "web",
            NS,
            lambda d: bool(d and d["spec"]["replicas"] == 2),
            60,
        )
        await until(admin, API_VERSION, KIND, APP, "apps", ready_at(reverted), 60)
        note("the controller applied the revert: back to 2 replicas")

        say("History")
        console.print(await asyncio.to_thread(clew, "history", "app", APP, "-n", "apps", env=env))


async def main_async(keep: bool) -> None:
    say("Starting a real control plane: etcd, kube-apiserver, kube-controller-manager, a kubelet")
    plane = ControlPlane(say=note, persist=keep)
    plane.start()
    work = Path(tempfile.mkdtemp(prefix="clew-demo-"))
    git = GitHttpServer(work / "git", users={"demo": secrets.token_urlsafe(16)})
    git.start()
    controller_pid = ui_pid = 0
    try:
        say("Creating a Git repository with an example app, served over HTTP with authentication")
        repo = create_repo(work / "git", "shop")
        repo.commit(manifests(2), "Add the web app", author=("Ada Lovelace", "ada@example.com"))
        repo_url = git.repo_url("shop")
        note(repo_url)

        say("Installing the Application CRD and starting `clew controller`")
        async with Cluster.from_kubeconfig(plane.admin_kubeconfig) as admin:
            for crd in (APPLICATION_CRD, APPLICATION_SET_CRD):
                await admin.apply(crd, field_manager="clew-install", force=True)
            await wait_established(admin, [CRD_NAME, APPLICATION_SET_CRD_NAME], 60)
        port, secret = free_port(), secrets.token_hex(16)
        proc = await asyncio.to_thread(start_controller, plane.admin_kubeconfig, work, port, secret)
        controller_pid = proc.pid
        note(f"controller ready on :{port} (logs: {work / 'controller.log'})")
        ui_port = free_port()
        ui_pid = (await asyncio.to_thread(start_ui, plane.admin_kubeconfig, work, ui_port)).pid
        await story(plane, git, repo_url, repo, port, secret, f"http://127.0.0.1:{ui_port}/", work)
        say("Done")
        if keep:
            note(f"still running: export KUBECONFIG={plane.admin_kubeconfig}")
    finally:
        if not keep:
            stop_pid(controller_pid)
            stop_pid(ui_pid)
            git.stop()
            plane.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="clew's narrated demo")
    parser.add_argument(
        "--keep", action="store_true", help="leave the control plane and controller running"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.keep))


if __name__ == "__main__":
    main()
