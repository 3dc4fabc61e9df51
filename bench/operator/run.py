"""The operator benchmarks (S3 commit → applied, S5 1,000 Applications, S6 100,000 unmanaged
objects, S7 drift churn) with their floors or baselines, against one fresh local control plane
and a real Git server; writes docs/benchmarks-operator.md.

    .venv/bin/python -m bench.operator.run [--runs 5] [--s3-size 5000] [--s3-pushes 20]
        [--poll-runs 10] [--s5-apps 1000] [--s5-workers 32] [--s5-sweep 4,16]
        [--s7-seconds 60] [--s6-unmanaged 100000] [--s6-idle 300] [--s6-drifts 100]
        [--workers 4] [--kcm-qps 500] [--only s3,s5,s6,s7]

Where the controller is slow, ``python -m bench.operator.profile`` runs the same scenarios with
the controller in-process and says where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.operator import report, s3, s5, s6, s7, s9
from bench.operator.env import environment, say

ROOT = Path(__file__).resolve().parents[2]


async def main_async(args: argparse.Namespace) -> tuple[dict[str, list[float]], list[str]]:
    rows: defaultdict[str, list[float]] = defaultdict(list)
    only = set(args.only.split(","))
    async with environment(args.keep_work, args.kcm_qps) as env:
        if "s3" in only:
            cfg3 = s3.Config(
                size=args.s3_size,
                pushes=args.s3_pushes,
                runs=args.runs,
                poll_runs=args.poll_runs,
                workers=args.workers,
            )
            await s3.run(env, cfg3, rows)
        if "s7" in only:
            cfg7 = s7.Config(seconds=args.s7_seconds, runs=args.runs, workers=args.workers)
            await s7.run(env, cfg7, rows)
        if "s5" in only:
            sweep = tuple(int(w) for w in args.s5_sweep.split(",") if w)
            cfg5 = s5.Config(
                apps=args.s5_apps, runs=args.runs, workers=args.s5_workers, sweep=sweep
            )
            await s5.run(env, cfg5, rows)
        if "s6" in only:  # last: its 100,000 objects are deleted, but etcd stays bigger
            cfg6 = s6.Config(
                unmanaged=args.s6_unmanaged,
                idle=args.s6_idle,
                drifts=args.s6_drifts,
                workers=args.workers,
            )
            await s6.run(env, cfg6, rows)
        rows["api_server_peak_rss"].append(
            report.peak_rss(env.plane.components["kube-apiserver"].pid)
        )
        notes = env.notes
    return dict(rows), notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--s3-size", type=int, default=5000)
    parser.add_argument("--s3-pushes", type=int, default=20, help="webhook pushes per run")
    parser.add_argument("--poll-runs", type=int, default=10, help="S3 commits without webhook")
    parser.add_argument("--s5-apps", type=int, default=1000)
    parser.add_argument("--s5-workers", type=int, default=32)
    parser.add_argument(
        "--s5-sweep", default="", help="also one S5 run at each of these worker counts, e.g. 4,16"
    )
    parser.add_argument("--s7-seconds", type=float, default=60.0)
    parser.add_argument("--s6-unmanaged", type=int, default=100_000)
    parser.add_argument("--s6-idle", type=float, default=300.0, help="S6 idle window, seconds")
    parser.add_argument("--s6-drifts", type=int, default=100, help="S6 drift reverts per phase")
    parser.add_argument(
        "--workers", type=int, default=4, help="controller workers in S3, S6 and S7"
    )
    parser.add_argument("--only", default="s3,s5,s6,s7")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-operator.md"))
    parser.add_argument(
        "--kcm-qps",
        type=int,
        default=500,
        help="kube-controller-manager's client QPS (0: its default of 20, which bounds S5)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep logs and repositories")
    parser.add_argument("--samples", help="also write the raw samples to this JSON file")
    args = parser.parse_args()
    started = time.monotonic()
    rows, notes = asyncio.run(main_async(args))
    command = " ".join([".venv/bin/python -m bench.operator.run", *sys.argv[1:]])
    if args.samples:
        Path(args.samples).write_text(json.dumps(rows, indent=1))
    text = report.render(rows, notes, args, command, time.monotonic() - started)
    output = Path(args.output)
    old = output.read_text() if output.exists() else ""
    if s9.BEGIN in old and s9.END in old:  # S9 has its own command: keep its section
        text = text.rstrip("\n") + "\n\n" + s9.BEGIN + old.split(s9.BEGIN, 1)[1].split(s9.END, 1)[0]
        text += s9.END + "\n"
    output.write_text(text)
    say(text)


if __name__ == "__main__":
    main()
