"""Baselines measured in the same run, on the same control plane and Git server:

- S3 floor: the least any pull-based tool must do per push, with no controller around it:
  ``git ls-remote``, a depth-1 fetch and checkout of the commit (the git CLI, as clew uses it),
  parse the whole tree (libyaml), compare with the previous parse and server-side apply what
  changed, as the restricted ServiceAccount; timed like clew, from the push to the watch.
- S5 floor: ``bench/baselines.py``'s raw SSA loop (concurrency 16) writing the same 4,000 objects.
- S7 floor: :mod:`bench.operator.healer`, a minimal self-healer process on clew's own client.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bench.operator import manifests
from bench.operator.env import GIT_USER, Environment
from bench.operator.watching import Consumer, FirstSeen, follow
from clew.cluster import Cluster
from clew.model import ObjectRef

if TYPE_CHECKING:
    from bench.operator.s3 import Config

PATH = "deploy"


async def _git(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {err.decode(errors='replace')}")
    return out.decode()


def _fresh(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    (work / "tree").mkdir(parents=True)


async def _checkout(url: str, sha: str, work: Path, env: dict[str, str]) -> Path:
    await asyncio.to_thread(_fresh, work)
    gitdir = f"--git-dir={work / 'git'}"
    await _git("init", "-q", "--bare", str(work / "git"), env=env)
    await _git(gitdir, "fetch", "-q", "--depth=1", "--no-tags", url, f"+{sha}:refs/floor", env=env)
    await _git(
        gitdir, f"--work-tree={work / 'tree'}", "checkout", "-q", "-f", "--detach", sha, env=env
    )
    return work / "tree" / PATH


def _parse(directory: Path) -> dict[ObjectRef, dict[str, Any]]:
    out = {}
    for path in sorted(directory.glob("*.yaml")):
        for obj in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if obj:
                out[ObjectRef.from_object(obj)] = obj
    return out


async def s3_floor(
    env: Environment, objs: list[dict[str, Any]], cfg: Config, rows: defaultdict[str, list[float]]
) -> None:
    repo = env.repo("s3-floor")
    await asyncio.to_thread(repo.commit, manifests.tree_files(PATH, objs), "initial")
    namespace = objs[0]["metadata"]["name"]
    await env.admin.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )
    git_env = env.git.git_env_with_credentials(GIT_USER, env.password)
    url, work = env.url(repo), env.work / "floor"
    probe = next(o for o in objs if o["kind"] == "ConfigMap")
    seen = FirstSeen(lambda cm: (cm.get("data") or {}).get("key"))
    listed = asyncio.Event()
    events = follow(
        env.admin, "v1", "ConfigMap", namespace,
        field_selector=f"metadata.name={probe['metadata']['name']}", listed=listed,
    )  # fmt: skip
    consumer = Consumer(events, seen)
    async with Cluster.from_kubeconfig(env.plane.restricted_kubeconfig) as cluster:
        try:
            await cluster.apply(probe, field_manager="floor", force=True)
            previous = _parse(await _checkout(url, repo.head(), work, git_env))
            await listed.wait()
            for i in range(cfg.pushes):
                value = f"floor-{i}"
                files = {
                    manifests.file_name(PATH, 0): yaml.safe_dump_all(
                        manifests.set_probe(objs, value)[: manifests.PER_FILE]
                    )
                }
                await asyncio.to_thread(repo.commit, files, f"set {value}")
                landed = time.monotonic()
                listing = await _git("ls-remote", url, "refs/heads/main", env=git_env)
                tree = await _checkout(url, listing.split()[0], work, git_env)
                fetched = time.monotonic()
                current = await asyncio.to_thread(_parse, tree)
                parsed = time.monotonic()
                changed = [o for ref, o in current.items() if previous.get(ref) != o]
                await asyncio.gather(
                    *(cluster.apply(o, field_manager="floor", force=True) for o in changed)
                )
                at = await seen.wait(value, 60)
                consumer.check()
                previous = current
                rows["s3_floor_seen"].append(at - landed)
                rows["s3_floor_git"].append(fetched - landed)
                rows["s3_floor_parse"].append(parsed - fetched)
        finally:
            await consumer.aclose()
