"""The UI's pure presenters, from golden fixtures (tests/unit/fixtures/ui): a list row says what
the Application's status says (Ready, reason, revision, health counts, suspended, pinned, last
sync) with one status word per state; the filters (namespace, status, label, search) select
exactly the matching rows. The resource tree is clew.wait's (tests/unit/test_resource_tree.py),
the same as ``clew tree app`` draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.ui import present

FIXTURES = Path(__file__).parent / "fixtures" / "ui"


def load(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text())


def apps() -> list[dict[str, Any]]:
    return [load(f"application-{s}.yaml") for s in ("ready", "failed", "suspended", "new")]


def test_row_of_a_ready_application() -> None:
    row = present.row(load("application-ready.yaml"))
    assert (row.namespace, row.name, row.ready, row.reason) == (
        "team-a",
        "shop",
        "True",
        "Succeeded",
    )
    assert row.revision.startswith("3f2a1c0d9e8b")
    assert row.health_text() == "3/4"
    assert row.status == "ready"
    assert row.last_sync == "2026-12-01T10:00:00Z"
    assert (row.suspended, row.pinned, row.destination) == (False, "", "team-a")
    assert row.id == "app-team-a.shop"
    assert row.repo == "https://git.example/shop.git"
    assert row.cluster == ""  # the controller's own cluster


def test_the_cluster_column_names_the_kubeconfig_secret() -> None:
    app = load("application-ready.yaml")
    app["spec"]["destination"]["kubeConfig"] = {"secretRef": {"name": "prod-eu", "key": "cfg"}}
    assert present.row(app).cluster == "prod-eu"


@pytest.mark.parametrize(
    ("state", "status"),
    [("ready", "ready"), ("failed", "failed"), ("suspended", "suspended"), ("new", "unknown")],
)
def test_one_status_word_per_state(state: str, status: str) -> None:
    assert present.row(load(f"application-{state}.yaml")).status == status


def test_a_pin_and_an_application_the_controller_has_not_seen() -> None:
    failed = present.row(load("application-failed.yaml"))
    assert failed.pinned.startswith("0123456789ab")
    assert "mapping values" in failed.message
    new = present.row(load("application-new.yaml"))
    assert (new.ready, new.reason, new.revision, new.health_text(), new.last_sync) == (
        "-",
        "-",
        "",
        "-",
        "",
    )


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        (present.Filters(), ["cart", "shop", "billing", "search"]),
        (present.Filters(namespace="team-a"), ["cart", "shop"]),
        (present.Filters(status="failed"), ["billing"]),
        (present.Filters(label="team"), ["shop", "billing"]),
        (present.Filters(label="team=shop, tier=web"), ["shop"]),
        (present.Filters(label="team=shop,tier=db"), []),
        (present.Filters(query="MAPPING"), ["billing"]),
        (present.Filters(query="3f2a1c"), ["shop"]),
        (present.Filters(query="team-c/sea"), ["search"]),
        (present.Filters(namespace="team-a", status="suspended"), ["cart"]),
    ],
)
def test_filters(filters: present.Filters, names: list[str]) -> None:
    assert [r.name for r in present.filter_rows(apps(), filters)] == names


def test_row_ids_are_unique_and_urls_carry_no_credentials() -> None:
    one = {"metadata": {"namespace": "a-b", "name": "c"}}
    two = {"metadata": {"namespace": "a", "name": "b-c"}}
    assert present.row(one).id != present.row(two).id
    app = {
        "metadata": {"namespace": "a", "name": "b"},
        "spec": {"source": {"repoURL": "https://u:s3cret@git.example/x.git"}},
    }
    assert "s3cret" not in present.row(app).repo


def test_since() -> None:
    assert present.since("") == "-"
    assert present.since("2026-12-01T10:00:00Z").endswith(" ago")
