"""The Application commands' pure parts, from fixed dicts: the get/history/events tables and
their JSON, YAML and CSV forms, describe, the reconcile annotation's RFC 3339 format, revision
prefixes and the default rollback target, the revert helpers, and that the commands are
registered under both spellings and fail with exit 2 and a hint without a cluster."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from clew.cli import apps
from clew.cli import apps_view as view
from clew.cli.apps_describe import describe
from clew.cli.apps_revert import Identity, push_rejected
from clew.cli.apps_rollback import flag_credentials, pin_target
from clew.model import ClewError

NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.UTC)
A = "a" * 40
B = "b" * 8 + "1" * 32
B2 = "b" * 8 + "2" * 32
C = "c" * 40


def text(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=240, color_system=None, highlight=False)
    console.print(renderable)
    out = console.file.getvalue()
    assert isinstance(out, str)
    return out


def application(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "clew.dev/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "shop",
            "namespace": "team-a",
            "creationTimestamp": "2026-11-26T09:00:00Z",
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "source": {"repoURL": "https://git.example/shop.git", "ref": "main", "path": "deploy"},
            "destination": {"namespace": "shop"},
            "suspend": False,
        },
        "status": status,
    }


HISTORY = [
    {"revision": C, "subject": "Scale, to 3", "author": "Ada <ada@x>",
     "time": "2026-11-26T11:00:00Z", "result": "Succeeded", "created": 0, "configured": 1,
     "deleted": 0},
    {"revision": B2, "subject": "broken", "author": "Ada <ada@x>", "time": "2026-11-26T10:30:00Z",
     "result": "RenderFailed", "created": 0, "configured": 0, "deleted": 0},
    {"revision": B, "subject": 'Say "hi"', "author": "Bob <bob@x>", "time": "2026-11-26T10:00:00Z",
     "result": "Succeeded", "created": 1, "configured": 0, "deleted": 2},
    {"revision": A, "subject": "[red]first[/red]", "author": "Bob <bob@x>",
     "time": "2026-11-26T09:00:00Z", "result": "Succeeded", "created": 3, "configured": 0,
     "deleted": 0},
]  # fmt: skip

READY_APP = application(
    conditions=[
        {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "applied"},
    ],
    lastAppliedRevision=C,
    healthCounts={"current": 3, "inProgress": 1, "failed": 0, "other": 0},
    inventory={"entries": 4},
    history=HISTORY,
)


# -- time --------------------------------------------------------------------------------------


def test_reconcile_timestamp_is_rfc3339_utc_with_microseconds() -> None:
    stamp = view.reconcile_timestamp(dt.datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=dt.UTC))
    assert stamp == "2026-11-26T10:00:00.123456Z"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    local = view.reconcile_timestamp(dt.datetime(2026, 11, 26, 12, 0, 0, 5, tzinfo=plus_two))
    assert local == "2026-11-26T10:00:00.000005Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", view.reconcile_timestamp())
    # Two requests within one second must differ, or the second changes nothing.
    first = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert view.reconcile_timestamp(first) != view.reconcile_timestamp(
        first + dt.timedelta(microseconds=1)
    )


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2026-11-26T11:59:15Z", "45s"),
        ("2026-11-26T11:58:30Z", "90s"),
        ("2026-11-26T11:30:00Z", "30m"),
        ("2026-11-26T09:00:00Z", "3h"),
        ("2026-11-23T12:00:00Z", "3d"),
        ("", "-"),
        ("yesterday", "-"),
    ],
)
def test_age(created: str, expected: str) -> None:
    assert view.age(created, NOW) == expected


# -- get apps ----------------------------------------------------------------------------------


def test_app_row() -> None:
    assert view.app_row(READY_APP, NOW) == {
        "NAMESPACE": "team-a",
        "NAME": "shop",
        "READY": "True",
        "REASON": "Succeeded",
        "REVISION": "c" * 12,
        "HEALTH": "3/4",
        "SUSPENDED": "false",
        "AGE": "3h",
    }


def test_health_reads_the_counts_and_status_written_by_earlier_clew() -> None:
    listed = copy.deepcopy(READY_APP)  # status.resources is the list of objects now
    listed["status"]["resources"] = [{"kind": "ConfigMap", "name": "a", "health": "Current"}]
    assert view.app_row(listed, NOW)["HEALTH"] == "3/4"
    legacy = copy.deepcopy(READY_APP)  # earlier clew kept the counts in status.resources
    legacy["status"]["resources"] = legacy["status"].pop("healthCounts")
    assert view.app_row(legacy, NOW)["HEALTH"] == "3/4"
    del legacy["status"]["resources"]
    assert view.app_row(legacy, NOW)["HEALTH"] == "-"


def test_wide_table_adds_source_destination_and_last_sync() -> None:
    app = copy.deepcopy(READY_APP)
    app["spec"]["source"]["repoURL"] = "https://bot:s3cret@git.example/shop.git"
    shown = text(view.apps_table([app], NOW, all_namespaces=False, wide=True))
    header, row = shown.splitlines()[:2]
    assert header.split() == [
        "NAME", "READY", "REASON", "REVISION", "HEALTH", "SUSPENDED", "AGE",
        "REPO", "REF", "PATH", "DESTINATION", "LAST", "SYNC",
    ]  # fmt: skip
    assert row.split()[7:] == ["https://***@git.example/shop.git", "main", "deploy", "shop", "60m"]
    assert "s3cret" not in shown
    assert "REPO" not in text(view.apps_table([app], NOW, all_namespaces=False))
    # Before the first sync, the wide columns say so.
    fresh = view.wide_row(application(), NOW)
    assert fresh["LAST SYNC"] == "-"


def test_wide_history_shows_whole_revisions() -> None:
    assert C in text(view.history_table(HISTORY, wide=True))
    assert C not in text(view.history_table(HISTORY))


def test_app_row_before_the_controller_saw_it() -> None:
    app = application()
    app["spec"]["suspend"] = True
    row = view.app_row(app, NOW)
    assert (row["READY"], row["REASON"], row["REVISION"], row["HEALTH"], row["SUSPENDED"]) == (
        "-",
        "-",
        "-",
        "-",
        "true",
    )


def test_apps_table_shows_namespace_only_for_all_namespaces() -> None:
    one = text(view.apps_table([READY_APP], NOW, all_namespaces=False))
    every = text(view.apps_table([READY_APP], NOW, all_namespaces=True))
    assert one.split()[:7] == ["NAME", "READY", "REASON", "REVISION", "HEALTH", "SUSPENDED", "AGE"]
    assert "NAMESPACE" not in one
    assert "team-a" not in one
    assert every.split()[:8] == list(view.APP_COLUMNS)
    assert every.splitlines()[1].split() == [
        "team-a", "shop", "True", "Succeeded", "c" * 12, "3/4", "false", "3h",
    ]  # fmt: skip


def test_apps_json_and_yaml_are_kubectl_lists_without_managed_fields() -> None:
    for parsed in (
        json.loads(view.apps_json([READY_APP])),
        yaml.safe_load(view.apps_yaml([READY_APP])),
    ):
        assert (parsed["apiVersion"], parsed["kind"]) == ("v1", "List")
        (item,) = parsed["items"]
        assert "managedFields" not in item["metadata"]
        assert item["metadata"]["name"] == "shop"
        assert item["status"]["lastAppliedRevision"] == C
    assert READY_APP["metadata"]["managedFields"]  # the input is not modified


# -- history -----------------------------------------------------------------------------------


def test_history_table_short_revisions_and_literal_subjects() -> None:
    out = text(view.history_table(HISTORY))
    lines = out.splitlines()
    assert lines[0].split() == [f.upper() for f in view.HISTORY_FIELDS]
    assert lines[1].startswith("c" * 12 + " ")
    assert C not in out
    assert "[red]first[/red]" in out  # printed as written, not read as markup


def test_history_json_keeps_full_revisions_in_order() -> None:
    parsed = json.loads(view.history_json(HISTORY))
    assert [e["revision"] for e in parsed] == [C, B2, B, A]
    assert parsed[0] == HISTORY[0]


def test_history_csv_round_trips() -> None:
    rows = list(csv.reader(io.StringIO(view.history_csv(HISTORY))))
    assert rows[0] == list(view.HISTORY_FIELDS)
    assert rows[1] == [
        C, "Scale, to 3", "Ada <ada@x>", "2026-11-26T11:00:00Z", "Succeeded", "0", "1", "0",
    ]  # fmt: skip
    assert rows[3][1] == 'Say "hi"'
    assert len(rows) == 5


def test_resolve_revision_by_unique_prefix() -> None:
    assert view.resolve_revision(HISTORY, "cccc") == C
    assert view.resolve_revision(HISTORY, "BBBBBBBB1") == B
    assert view.resolve_revision(HISTORY, A) == A


def test_resolve_revision_refuses_ambiguous_short_and_unknown() -> None:
    with pytest.raises(ClewError, match="matches 2 revisions") as ambiguous:
        view.resolve_revision(HISTORY, "bbbbbbbb")
    assert not isinstance(ambiguous.value, view.NotInHistory)
    for bad in ("abc", "main", "--exec=x"):
        with pytest.raises(ClewError, match="not a commit SHA") as caught:
            view.resolve_revision(HISTORY, bad)
        assert not isinstance(caught.value, view.NotInHistory)
    with pytest.raises(view.NotInHistory):
        view.resolve_revision(HISTORY, "dddd")


def test_default_rollback_target_is_the_newest_other_success() -> None:
    assert view.default_rollback_target(HISTORY, C) == HISTORY[2]  # skips the failed B2
    assert view.default_rollback_target(HISTORY, B) == HISTORY[0]
    assert view.default_rollback_target(HISTORY[:2], C) is None
    assert view.default_rollback_target([], "") is None


def test_pin_target() -> None:
    assert pin_target(READY_APP, None, force=False)["revision"] == B
    assert pin_target(READY_APP, "aaaa", force=False)["subject"] == "[red]first[/red]"
    with pytest.raises(view.NotInHistory):
        pin_target(READY_APP, "d" * 40, force=False)
    assert pin_target(READY_APP, "D" * 40, force=True) == {"revision": "d" * 40}
    with pytest.raises(ClewError, match="full commit SHA"):
        pin_target(READY_APP, "dddd", force=True)
    with pytest.raises(ClewError, match="no earlier successful revision"):
        pin_target(application(lastAppliedRevision=C, history=HISTORY[:1]), None, force=False)


# -- events and describe -------------------------------------------------------------------------


EVENTS = [
    {"type": "Warning", "reason": "OutOfSync", "note": "changed outside Git",
     "eventTime": "2026-11-26T11:00:00.000001Z"},
    {"type": "Normal", "reason": "Synced", "note": "applied revision aaaa",
     "eventTime": "2026-11-26T10:00:00.5Z"},
    {"type": "Normal", "reason": "DriftCorrected", "note": "reverted",
     "eventTime": "2026-11-26T09:00:00Z", "series": {"lastObservedTime": "2026-11-26T11:30:00Z"}},
]  # fmt: skip


def test_events_oldest_first_and_limited() -> None:
    assert view.event_rows(EVENTS) == [
        ("2026-11-26T10:00:00Z", "Normal", "Synced", "applied revision aaaa"),
        ("2026-11-26T11:00:00Z", "Warning", "OutOfSync", "changed outside Git"),
        ("2026-11-26T11:30:00Z", "Normal", "DriftCorrected", "reverted"),
    ]
    same_second = [
        {"reason": "Second", "eventTime": "2026-11-26T10:00:00.900000Z"},
        {"reason": "First", "eventTime": "2026-11-26T10:00:00.100000Z"},
    ]
    assert [r[2] for r in view.event_rows(same_second)] == ["First", "Second"]
    limited = text(view.events_table(EVENTS, limit=1))
    assert "DriftCorrected" in limited
    assert "Synced" not in limited


def test_describe_shows_every_section() -> None:
    app = application(**READY_APP["status"])
    app["spec"]["pin"] = {"revision": B}
    app["spec"]["dependsOn"] = [{"name": "platform", "namespace": "infra"}]
    out = text(describe(app, EVENTS, NOW))
    for expected in (
        r"Repository\s+https://git.example/shop.git",
        r"Path\s+deploy",
        rf"Pinned to\s+{B}",
        r"Depends on\s+infra/platform",
        r"Ready\s+True \(Succeeded\) applied",
        r"Objects\s+4",
        r"In progress\s+1",
        r"Retry\s+5s doubling up to 5m",
        r"Detected\s+-",
        "Scale, to 3",
        "OutOfSync",
    ):
        assert re.search(expected, out), expected
    for heading in ("Source", "Destination", "Options", "Conditions", "Inventory", "Drift"):
        assert f"\n{heading}\n" in out
    secret_url = application()
    secret_url["spec"]["source"]["repoURL"] = "https://me:s3cret@git.example/shop.git"
    assert "s3cret" not in text(describe(secret_url, [], NOW))
    empty = text(describe(application(), [], NOW))
    assert "none yet (is the controller running?)" in empty
    assert "no syncs yet" in empty


# -- revert helpers ------------------------------------------------------------------------------


def test_identity() -> None:
    assert Identity.parse("Ada Lovelace <ada@example.com>") == Identity(
        "Ada Lovelace", "ada@example.com"
    )
    for bad in ("ada@example.com", "<ada@example.com>", "Ada <a b>", "Ada <x> <y>"):
        with pytest.raises(ClewError, match="Name <email>"):
            Identity.parse(bad)


def test_push_rejected_only_when_the_branch_moved() -> None:
    moved = (
        "To http://127.0.0.1:1/repo.git\n ! [rejected]        HEAD -> main (fetch first)\n"
        "error: failed to push some refs to 'http://127.0.0.1:1/repo.git'\n"
    )
    assert push_rejected(moved)
    assert push_rejected(" ! [rejected]        HEAD -> main (non-fast-forward)\n")
    assert not push_rejected("fatal: Authentication failed for 'http://127.0.0.1:1/repo.git/'\n")
    assert not push_rejected("fatal: unable to access 'x': Could not resolve host: x\n")


def test_flag_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert flag_credentials(None, "CLEW_GIT_PASSWORD", None, None) is None
    monkeypatch.delenv("EMPTY_VAR", raising=False)
    with pytest.raises(ClewError, match=r"\$EMPTY_VAR is empty"):
        flag_credentials("me", "EMPTY_VAR", None, None)
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    creds = flag_credentials("me", "MY_TOKEN", None, None)
    assert creds is not None
    assert (creds.username, creds.password) == ("me", "s3cret")
    key, hosts = tmp_path / "id", tmp_path / "known_hosts"
    key.write_text("KEY\n")
    hosts.write_text("host ssh-ed25519 AAAA\n")
    ssh = flag_credentials(None, "MY_TOKEN", key, hosts)
    assert ssh is not None
    assert (ssh.password, ssh.ssh_private_key) == (None, "KEY\n")


# -- registration --------------------------------------------------------------------------------


@pytest.fixture
def root() -> typer.Typer:
    app = typer.Typer()
    app.command("version")(lambda: None)  # a second command, as in clew's real root
    apps.register(app)
    return app


@pytest.mark.parametrize(
    "argv",
    [
        ["app", "get"],
        ["get", "apps"],
        ["get", "app"],
        ["describe", "app", "x"],
        ["app", "describe", "x"],
        ["reconcile", "app", "x"],
        ["suspend", "app", "x"],
        ["resume", "app", "x"],
        ["history", "app", "x"],
        ["events", "app", "x"],
        ["rollback", "app", "x"],
        ["app", "diff", "x"],
    ],
)
def test_every_spelling_is_registered_and_reports_a_bad_kubeconfig(
    root: typer.Typer, argv: list[str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(root, [*argv, "--kubeconfig", str(tmp_path / "missing")])
    assert result.exit_code == 2, result.output
    assert "cannot load kubeconfig" in result.output
    assert "check --kubeconfig" in result.output


def test_diff_app_returns_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert apps.diff_app("x", "ns", tmp_path / "missing", None) == 2
    assert "cannot load kubeconfig" in capsys.readouterr().err


def test_rollback_usage_errors_exit_2(root: typer.Typer, tmp_path: Path) -> None:
    bad_author = CliRunner().invoke(root, ["rollback", "app", "x", "--revert", "--author", "me"])
    assert bad_author.exit_code == 2
    assert "Name <email>" in bad_author.output
    no_password = CliRunner(env={"CLEW_GIT_PASSWORD": ""}).invoke(
        root, ["rollback", "app", "x", "--revert", "--username", "me"]
    )
    assert no_password.exit_code == 2
    assert "CLEW_GIT_PASSWORD" in no_password.output
