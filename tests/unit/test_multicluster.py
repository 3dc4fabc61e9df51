"""Clusters as destinations, the pure parts (docs/multi-cluster.md).

It proves that ``destination.kubeConfig.secretRef`` parses with Flux's default key ``value``
and that a wrong one is an InvalidSpec naming the field; that a kubeconfig from a Secret may
not name files on the controller's disk or run programs (each refused field is named, the
contents never quoted); that a self-contained one gives a client for its current context's
server; and that ``clew get clusters`` groups Applications by Secret, takes the health from
their Ready conditions, and shows the server URL without user information.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from clew.cli.clusters import server_of, summarize
from clew.cluster import PermanentError
from clew.cluster.remote import from_kubeconfig_text
from clew.controller.api.spec import API_VERSION, KIND, InvalidSpec, KubeConfigRef, parse


def app(destination: dict[str, Any], name: str = "web", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"source": {"repoURL": "https://git.example/x.git"}, "destination": destination},
        "status": status,
    }


def kubeconfig(server: str = "https://10.0.0.1:6443", **user: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}
        ],
        "users": [{"name": "u", "user": user or {"token": "s3cret-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }


def test_kubeconfig_ref_defaults_to_the_value_key() -> None:
    spec = parse(app({"kubeConfig": {"secretRef": {"name": "prod"}}}))
    assert spec.kube_config == KubeConfigRef("prod", "value")
    other = parse(app({"kubeConfig": {"secretRef": {"name": "prod", "key": "config.yaml"}}}))
    assert other.kube_config == KubeConfigRef("prod", "config.yaml")
    assert parse(app({})).kube_config is None


@pytest.mark.parametrize(
    ("destination", "field"),
    [
        ({"kubeConfig": {}}, "spec.destination.kubeConfig.secretRef"),
        ({"kubeConfig": {"secretRef": {"name": "Bad_Name"}}}, "secretRef.name"),
        ({"kubeConfig": {"secretRef": {"name": "a", "key": "a/b"}}}, "secretRef.key"),
        ({"kubeConfig": {"secretRef": {"name": "a"}, "server": "x"}}, "kubeConfig"),
        ({"cluster": "b"}, "destination"),
    ],
)
def test_a_wrong_kubeconfig_ref_names_its_field(destination: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(app(destination))
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("section", "entry"),
    [
        ("user", {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}),
        ("user", {"client-certificate": "/etc/cert.pem", "client-key": "/etc/key.pem"}),
        ("user", {"exec": {"command": "/bin/sh", "apiVersion": "x"}}),
        ("user", {"auth-provider": {"name": "gcp"}}),
        ("cluster", {"certificate-authority": "/etc/ca.pem"}),
    ],
)
def test_a_secret_kubeconfig_may_not_read_files_or_run_programs(
    section: str, entry: dict[str, Any]
) -> None:
    doc = kubeconfig()
    if section == "user":
        doc["users"][0]["user"] = entry
    else:
        doc["clusters"][0]["cluster"].update(entry)
    with pytest.raises(PermanentError) as caught:
        from_kubeconfig_text(yaml.safe_dump(doc), where="Secret team/prod")
    message = str(caught.value)
    assert "Secret team/prod" in message
    assert next(iter(entry)) in message
    assert "/etc" not in message
    assert "/var/run" not in message


@pytest.mark.parametrize("text", ["[a, b]", ": not yaml :\n\t-", "apiVersion: v1\n"])
def test_a_kubeconfig_that_is_not_one_is_refused_without_quoting_it(text: str) -> None:
    with pytest.raises(PermanentError) as caught:
        from_kubeconfig_text(text, where="Secret team/prod")
    assert "Secret team/prod" in str(caught.value)


async def test_a_self_contained_kubeconfig_connects_to_its_current_server() -> None:
    client, server = from_kubeconfig_text(yaml.safe_dump(kubeconfig()), where="Secret t/p")
    async with client:
        assert server == "https://10.0.0.1:6443"
        assert client.server.rstrip("/") == server


async def test_a_server_with_user_information_is_named_without_it() -> None:
    # httpx sends https://user:password@host as basic auth: the password must not reach the
    # ClusterUnreachable message (status, Events), logs or metrics, which name the server.
    text = yaml.safe_dump(kubeconfig("https://deployer:pw@b.example:6443"))
    client, server = from_kubeconfig_text(text, where="Secret t/p")
    async with client:
        assert server == "https://b.example:6443"
        assert "pw" not in client.server


def secret(doc: dict[str, Any], key: str = "value") -> dict[str, Any]:
    return {"data": {key: base64.b64encode(yaml.safe_dump(doc).encode()).decode()}}


def test_server_url_loses_its_user_information() -> None:
    assert server_of(secret(kubeconfig("https://me:pw@b.example:6443/x?t=1")), "value") == (
        "https://b.example:6443/x"
    )
    assert server_of(secret(kubeconfig("https://[::1]:6443")), "value") == "https://[::1]:6443"
    assert server_of(secret(kubeconfig()), "other") == ""
    assert server_of(None, "value") == ""
    assert server_of({"data": {"value": "not base64!"}}, "value") == ""


def ready(reason: str, status: str = "False", when: str = "2026-12-01T10:00:00Z") -> Any:
    return [
        {
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": f"m-{reason}",
            "lastTransitionTime": when,
        }
    ]


def test_clusters_are_grouped_by_secret_with_their_health() -> None:
    b = {"kubeConfig": {"secretRef": {"name": "b"}}}
    c = {"kubeConfig": {"secretRef": {"name": "c", "key": "cfg"}}}
    apps = [
        app(b, "one", conditions=ready("Succeeded", "True", "2026-12-01T09:00:00Z")),
        app(b, "two", conditions=ready("ClusterUnreachable")),
        app(c, "three", conditions=ready("Succeeded", "True")),
        app(c, "four"),
        app({}, "local", conditions=ready("Succeeded", "True")),
        app({"kubeConfig": {"secretRef": {"name": "d"}}}, "five", conditions=ready("X")),
        app({"kubeConfig": {"secretRef": {"name": "e"}}}, "six"),
    ]
    apps[5]["status"]["conditions"][0]["reason"] = "ClusterConfigInvalid"
    rows = summarize(apps, {("team", "c"): secret(kubeconfig(), "cfg")})
    assert [(r.secret, r.applications, r.health, r.server) for r in rows] == [
        ("b", ["one", "two"], "Unreachable", ""),
        ("c", ["four", "three"], "Reachable", "https://10.0.0.1:6443"),
        ("d", ["five"], "Invalid", ""),
        ("e", ["six"], "Unknown", ""),
    ]
    assert (rows[0].since, rows[0].message) == ("2026-12-01T10:00:00Z", "m-ClusterUnreachable")
    assert "s3cret" not in repr(rows)


def test_last_contact_is_the_newest_sync_of_its_applications() -> None:
    b = {"kubeConfig": {"secretRef": {"name": "b"}}}
    one, two, three = app(b, "one"), app(b, "two"), app(b, "three")
    one["status"]["history"] = [{"time": "2026-12-01T08:00:00Z"}, {"time": "2026-11-30T08:00:00Z"}]
    two["status"]["history"] = [{"time": "2026-12-02T08:00:00Z"}]
    [row] = summarize([one, two, three], {})
    assert row.last_contact == "2026-12-02T08:00:00Z"
    [never] = summarize([three], {})
    assert never.last_contact == ""
