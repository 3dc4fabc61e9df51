"""Counting API requests from the API server's own metrics, two ways.

- ``apiserver_request_total`` by (verb, resource): everything the server answered, whoever sent
  it (the benchmark's own load, background controllers, the clew controller).
- ``apiserver_flowcontrol_dispatched_requests_total`` by flow schema: the clew controller is the
  only client authenticated as a ServiceAccount outside ``kube-system``, so the
  ``service-accounts`` flow schema counts its requests and nothing else (the admin is exempt,
  kube-controller-manager's accounts are in ``kube-system``). That attributes requests to the
  controller directly, as a cross-check of the subtraction the brief prescribes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from clew.cluster import Cluster

CONTROLLER_FLOW = "service-accounts"
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition → ``{'name{labels}': value}``."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = match["labels"]
            key = f"{match['name']}{{{labels}}}" if labels is not None else match["name"]
            out[key] = float(match["value"])
    return out


def _samples(text: str, family: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] == family:
            out.append((dict(_LABEL.findall(match["labels"] or "")), float(match["value"])))
    return out


@dataclass(frozen=True)
class ApiCounts:
    requests: Counter[tuple[str, str]]  # (verb, resource[/subresource]) -> cumulative
    by_flow: Counter[str]  # flow schema -> dispatched, cumulative

    def __sub__(self, before: ApiCounts) -> ApiCounts:
        return ApiCounts(self.requests - before.requests, self.by_flow - before.by_flow)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def controller(self) -> int:
        return self.by_flow[CONTROLLER_FLOW]


async def api_counts(admin: Cluster) -> ApiCounts:
    """One scrape of the API server's /metrics (this request itself is counted in the next)."""
    resp = await admin._http.get("/metrics")
    resp.raise_for_status()
    text = resp.text
    requests: Counter[tuple[str, str]] = Counter()
    for labels, value in _samples(text, "apiserver_request_total"):
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        requests[(labels.get("verb", ""), resource)] += int(value)
    by_flow: Counter[str] = Counter()
    for labels, value in _samples(text, "apiserver_flowcontrol_dispatched_requests_total"):
        by_flow[labels.get("flow_schema", "")] += int(value)
    return ApiCounts(requests, by_flow)
