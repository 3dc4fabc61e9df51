"""The no-op re-apply of a ~4 MB bundle of large CRDs (issue 15, part 4): where clew's time goes
(parse, stages, requests), side by side with ``kubectl apply --server-side`` of the same files.
The CRDs are generated here, shaped like operator CRDs (deep openAPIV3Schema trees with long
descriptions, and the plain ``=`` enum item prometheus-operator's AlertmanagerConfig has).
Writes docs/benchmarks-crd.md.

    .venv/bin/python -m bench.crd_bundle [--megabytes 4] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import measure
from clew.cluster import Cluster
from clew.render.yamlload import load_yaml
from clew.testing.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parent.parent
GROUP = "bundle.bench.clew.dev"


def _schema(rng: random.Random, depth: int, width: int) -> list[str]:
    if depth == 0:
        kind = rng.choice(["string", "integer", "boolean"])
        lines = [
            f"type: {kind}",
            f"description: The {kind} that controls one behaviour of the operator, described at "
            "the length generated API reference pages usually have for each field.",
        ]
        if kind == "string" and rng.random() < 0.2:
            lines += ["enum:", "- '!='", "- =", "- =~", "- '!~'"]
        if kind == "integer":
            lines += ["format: int32", "minimum: 0", "maximum: 65535"]
        return lines
    lines = ["type: object", "description: A nested object with several properties.", "properties:"]
    for i in range(width):
        lines.append(f"  field{i}d{depth}:")
        lines += ["    " + line for line in _schema(rng, depth - 1, width)]
    return lines


def crd(rng: random.Random, n: int) -> str:
    head = [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        "metadata:",
        f"  name: things{n}.{GROUP}",
        "  annotations:",
        "    controller-gen.kubebuilder.io/version: v0.16.0",
        "spec:",
        f"  group: {GROUP}",
        "  names:",
        f"    kind: Thing{n}",
        f"    listKind: Thing{n}List",
        f"    plural: things{n}",
        f"    singular: thing{n}",
        "  scope: Namespaced",
        "  versions:",
        "  - name: v1",
        "    served: true",
        "    storage: true",
        "    subresources:",
        "      status: {}",
        "    schema:",
        "      openAPIV3Schema:",
    ]
    return "\n".join(head + ["        " + line for line in _schema(rng, 4, 6)]) + "\n"


def write_bundle(directory: Path, megabytes: float) -> tuple[int, int]:
    """One CRD per file until the bundle holds ``megabytes``; (files, bytes)."""
    rng = random.Random(15)  # noqa: S311 -- a reproducible shape, not a secret
    directory.mkdir(parents=True, exist_ok=True)
    size = count = 0
    while size < megabytes * 1_000_000:
        text = crd(rng, count)
        (directory / f"thing{count:02d}.yaml").write_text(text)
        size += len(text.encode())
        count += 1
    return count, size


def parse_seconds(directory: Path) -> float:
    """CPU-seconds for clew to read every file of the bundle (best of three)."""
    texts = [(p.name, p.read_text()) for p in sorted(directory.glob("*.yaml"))]
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for name, text in texts:
            load_yaml(text, name)
        best = min(best, time.process_time() - started)
    return best


def kubectl_apply(kubeconfig: Path, directory: Path) -> measure.Run:
    kubectl = str(Path(sys.executable).parent / "kubectl")
    argv = [kubectl, "--kubeconfig", str(kubeconfig), "apply", "--server-side", "-f"]
    return measure.run([*argv, str(directory)], env=measure.user_env())


def clew_apply(kubeconfig: Path, directory: Path) -> tuple[measure.Run, dict[str, object]]:
    clew = str(Path(sys.executable).parent / "clew")
    argv = [clew, "apply", str(directory), "--name", "crd-bundle", "-n", "default", "-o", "json"]
    run = measure.run([*argv, "--kubeconfig", str(kubeconfig)], env=measure.user_env())
    result = json.loads(run.stdout)
    if not result["ok"]:
        raise RuntimeError(f"clew apply failed: {result['reason']}: {result['error']}")
    return run, result


@dataclass
class Measured:
    files: int
    size: int
    runs: int
    rows: dict[str, list[float]]
    last_requests: dict[str, int]


async def measure_all(megabytes: float, runs: int) -> Measured:
    plane = ControlPlane(say=lambda msg: print(msg, file=sys.stderr, flush=True))
    plane.start()
    work = Path(tempfile.mkdtemp(prefix="clew-crd-bundle-"))
    try:
        files, size = write_bundle(work / "bundle", megabytes)
        kubeconfig = plane.admin_kubeconfig  # CRDs are cluster-wide: an admin applies them
        rows: dict[str, list[float]] = {"parse": [parse_seconds(work / "bundle")]}
        clew = str(Path(sys.executable).parent / "clew")
        rows["startup"] = [measure.run([clew, "--help"], env=measure.user_env()).seconds]
        async with Cluster.from_kubeconfig(kubeconfig) as admin:
            cold, _ = clew_apply(kubeconfig, work / "bundle")
            rows["clew_cold"] = [cold.seconds]
            first = kubectl_apply(kubeconfig, work / "bundle")  # takes its co-ownership once
            if first.returncode != 0:
                raise RuntimeError("kubectl apply failed")
            for _ in range(runs):
                before = await measure.request_counts(admin)
                run, result = clew_apply(kubeconfig, work / "bundle")
                requests = measure.requests_between(before, await measure.request_counts(admin))
                # Not clew's: the garbage collector watching the new kinds, the kubelet stand-in.
                requests = Counter(
                    {
                        k: v
                        for k, v in requests.items()
                        if k[0] != "WATCH" and k[1] != "nodes/status"
                    }
                )
                counts = result["counts"]
                assert counts == {"unchanged": files}, counts
                rows.setdefault("clew_noop", []).append(run.seconds)
                rows.setdefault("clew_noop_cpu", []).append(run.cpu_seconds)
                rows.setdefault("clew_requests", []).append(sum(requests.values()))
                durations = result["durations"]
                assert isinstance(durations, dict), durations
                for stage, seconds in durations.items():
                    rows.setdefault(f"stage_{stage}", []).append(float(seconds))
                kubectl = kubectl_apply(kubeconfig, work / "bundle")
                rows.setdefault("kubectl_noop", []).append(kubectl.seconds)
                rows.setdefault("kubectl_noop_cpu", []).append(kubectl.cpu_seconds)
            last = {f"{verb} {res}": n for (verb, res), n in sorted(requests.items())}
    finally:
        plane.stop()
    return Measured(files, size, runs, rows, last)


def report(data: Measured) -> str:
    rows = data.rows

    def med(key: str) -> float:
        values = rows.get(key) or [float("nan")]
        return statistics.median(values)

    stages = sorted(k for k in rows if k.startswith("stage_"))
    lines = [
        "# Benchmark: no-op re-apply of a large CRD bundle",
        "",
        f"{data.files} generated CustomResourceDefinitions, {data.size / 1e6:.1f} MB "
        f"of YAML (`bench/crd_bundle.py`), on the local control plane; median of {data.runs} "
        f"runs; {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}. Reproduce: `.venv/bin/python -m bench.crd_bundle`.",
        "",
        "| | seconds |",
        "|---|---|",
        f"| clew no-op re-apply (wall) | {med('clew_noop'):.2f} |",
        f"| clew no-op re-apply (CPU of the clew process) | {med('clew_noop_cpu'):.2f} |",
        f"| `kubectl apply --server-side` of the same files (wall) | {med('kubectl_noop'):.2f} |",
        f"| `kubectl apply --server-side` (CPU of kubectl) | {med('kubectl_noop_cpu'):.2f} |",
        f"| clew cold apply (wall, once) | {med('clew_cold'):.2f} |",
        f"| reading the YAML alone (clew's loader, CPU) | {med('parse'):.2f} |",
        f"| starting the clew process (`clew --help`, wall) | {med('startup'):.2f} |",
        "",
        "Where clew's no-op time goes, by the stage durations it reports (`-o json`):",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k.removeprefix('stage_')} | {med(k):.2f} |" for k in stages],
        "",
        f"API requests of one clew no-op (median): {med('clew_requests'):.0f}; in the last run: "
        f"{', '.join(f'{k}: {v}' for k, v in data.last_requests.items())}.",
        "",
        f"Reading: clew's no-op takes {med('clew_noop'):.2f} s against kubectl's "
        f"{med('kubectl_noop'):.2f} s. clew sends nothing for objects that did not change (it "
        "compares with what it applied last), while kubectl sends every CRD for the server to "
        "apply as a no-op, and waits on it (its own CPU is small). Of clew's time, about "
        f"{med('startup'):.2f} s is starting Python and importing, {med('stage_render'):.2f} s "
        f"rendering (of which {med('parse'):.2f} s reading the YAML: libyaml's C parser and "
        f"go-yaml's rules in Python), {med('stage_plan'):.2f} s planning.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-crd.md"))
    args = parser.parse_args()
    data = asyncio.run(measure_all(args.megabytes, args.runs))
    text = report(data)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
