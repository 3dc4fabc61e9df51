"""The render and plan CPU of a reconcile whose files barely changed, for two source trees
alternated in one invocation (issue 14 S3, issue 16 crds22): the base commit's ``src/`` and
this checkout's, each in a child process against the same local control plane.

Each child renders a plain tree with ``render.render_all`` and plans it as the engine does
(``engine.planning.draft``: inventory GET, ``plan.prepare``, labels; then ``plan.fingerprint``
of every labelled object, as ``planning.compare`` does), ``--rounds`` times in one process (the
controller's process keeps its caches). For ``s3``, before every round but the first one
object of one file changes, as in S3's pushes; ``crds22`` is S10's controller no-op.
Reported: the median over the warm rounds of CPU-seconds (``time.process_time``) and wall
seconds, per set and per tree, and after ÷ before.

Sets: ``s3`` (S3's 5,000 objects: Namespaces, ConfigMaps, Secrets, ServiceAccounts, 100 per
file) and ``crds22`` (bench.s10's 22 CRDs of about 1.3 MB, one per file).

    .venv/bin/python -m bench.plancpu --base <commit> [--rounds 6] [--pairs 2] [--sets s3,crds22]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_set(name: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if name == "crds22":
        from bench import s10_sets

        s10_sets.write("crds22", "pc", directory)
        return
    from bench.operator import manifests

    objs = manifests.plain_objects("pc", 5000, 5)
    for rel, text in manifests.tree_files(".", objs).items():
        (directory / rel).write_text(text)


def touch_one(first: Path, original: str, mark: int) -> None:
    """Change one object of the first file: a ConfigMap after its objects, with new data."""
    extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: clew-bench-mark\n"
    first.write_text(f"{original.rstrip()}\n---\n{extra}data:\n  round: '{mark}'\n")


def _first_file(directory: Path) -> tuple[Path, str]:
    first = sorted(directory.rglob("*.yaml"))[0]
    return first, first.read_text()


async def child(
    directory: Path, kubeconfig: str, rounds: int, change: bool
) -> dict[str, list[float]]:
    from clew import engine, plan, render
    from clew.cluster import Cluster
    from clew.engine import planning

    out: dict[str, list[float]] = {"cpu": [], "wall": [], "objects": []}
    async with Cluster.from_kubeconfig(kubeconfig) as cluster:
        options = engine.SyncOptions(name="plancpu", namespace="default")
        first, original = _first_file(directory)
        for r in range(rounds):
            if r and change:
                touch_one(first, original, r)
            cpu, wall = time.process_time(), time.perf_counter()
            rendered = render.render_all(directory)
            manifests, hooks = render.split_hooks(rendered.manifests)
            result = engine.SyncResult(manifests=manifests, hooks=hooks)
            d = await planning.draft(cluster, options, result)
            assert not isinstance(d, planning.Refusal), d
            digests = [plan.fingerprint(m.obj) for m in d.labelled]
            out["cpu"].append(time.process_time() - cpu)
            out["wall"].append(time.perf_counter() - wall)
            out["objects"].append(len(digests))
    return out


def run_child(tree: Path, name: str, kubeconfig: str, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="clew-plancpu-") as work:
        directory = Path(work) / name
        write_set(name, directory)
        env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{ROOT}"}
        argv = [sys.executable, "-m", "bench.plancpu", "--child", str(directory)]
        argv += ["--kubeconfig", kubeconfig, "--rounds", str(rounds)]
        argv += ["--change"] if name == "s3" else []
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"child ({tree}) failed: {done.stderr[-2000:]}")
        result: dict[str, list[float]] = json.loads(done.stdout.splitlines()[-1])
        return result


def export(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", help="the commit to compare with (its src/)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--sets", default="s3,crds22")
    parser.add_argument("--child")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--change", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(
                asyncio.run(child(Path(args.child), args.kubeconfig, args.rounds, args.change))
            )
        )
        return
    from clew.testing.controlplane import ControlPlane

    plane = ControlPlane(say=lambda msg: print(msg, file=sys.stderr, flush=True))
    plane.start()
    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="clew-plancpu-base-") as base_dir:
            trees = {"before": export(args.base, Path(base_dir)), "after": ROOT}
            for name in args.sets.split(","):
                for pair in range(args.pairs):
                    order = ("before", "after") if pair % 2 == 0 else ("after", "before")
                    for label in order:
                        print(f"{name} {label} pair {pair + 1}", file=sys.stderr, flush=True)
                        got = run_child(
                            trees[label], name, str(plane.admin_kubeconfig), args.rounds
                        )
                        row = rows.setdefault((name, label), {"cpu": [], "wall": []})
                        row["cpu"] += got["cpu"][1:]  # the first round parses every file
                        row["wall"] += got["wall"][1:]
    finally:
        plane.stop()
    print(f"render + plan of a push changing one object, median of warm rounds (base {args.base})")
    print("| set | CPU-s before | CPU-s after | ratio | wall before | wall after | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        b, a = rows[(name, "before")], rows[(name, "after")]
        cells = []
        for key in ("cpu", "wall"):
            mb, ma = statistics.median(b[key]), statistics.median(a[key])
            cells += [f"{mb:.3f}", f"{ma:.3f}", f"{ma / mb:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(json.dumps({f"{n}/{label}": v for (n, label), v in rows.items()}))


if __name__ == "__main__":
    main()
