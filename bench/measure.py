"""Measuring helpers: API server request counts from its own metrics, process CPU and memory,
and a subprocess runner that reports the child's CPU-seconds and peak RSS."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from clew.cluster import Cluster

_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
# Background traffic that is not the tool being measured: the kubelet stand-in's heartbeats,
# events, and controllers reacting to new namespaces.
NOISE = {"leases", "nodes", "events", "serviceaccounts/token"}


async def request_counts(admin: Cluster) -> Counter[tuple[str, str]]:
    """Cumulative requests by (verb, resource) since the API server started."""
    resp = await admin._http.get("/metrics")
    counts: Counter[tuple[str, str]] = Counter()
    for line in resp.text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        counts[(labels.get("verb", ""), resource)] += int(float(match["value"]))
    return counts


def requests_between(
    before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]
) -> Counter[tuple[str, str]]:
    diff = after - before
    return Counter({k: v for k, v in diff.items() if k[1] not in NOISE})


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    stdout: str
    returncode: int
    stderr: str = ""


def user_env() -> dict[str, str]:
    """The environment users run clew in: bytecode caches allowed (this sandbox disables them)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command; its wall time, CPU-seconds and peak RSS come from wait4's rusage."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as errors:
        # stderr to a file, so a chatty child cannot block on a full pipe while we read stdout
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=env)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}):\n{err[-2000:]}")
    return Run(
        elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out, proc.returncode, err
    )
