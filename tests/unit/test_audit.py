"""The audit trail's pure parts: a record holds the commit, outcome and the references of the
objects created, configured or deleted — never data, so never a Secret value; trails are
bounded by record count and by bytes (dropping the oldest, with hysteresis, and never losing
the newest sync); the ConfigMap is named, labelled and owned as documented; ``clew audit``
parses times and durations, selects a half-open range across trails, warns when the bound cut
into the range, and prints the golden JSON, CSV and table; and it fails with exit 2 and a hint
on a bad range before connecting to anything."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from clew.cli import audit as cli
from clew.model import Action, Change, ChangeSet, ClewError, CommitInfo, ObjectRef
from clew.report import audit

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.UTC)
COMMIT = CommitInfo(
    sha="a" * 40,
    author="Ada Lovelace",
    email="ada@example.com",
    subject="Scale web to 3",
    time="2026-11-26T09:59:00+00:00",
)


def ref(kind: str, name: str, namespace: str = "shop", group: str = "") -> ObjectRef:
    return ObjectRef(group, kind, namespace, name)


def changes(*items: tuple[Action, ObjectRef]) -> ChangeSet:
    return ChangeSet([Change(r, action) for action, r in items])


def text(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=240, color_system=None, highlight=False)
    console.print(renderable)
    out = console.file.getvalue()
    assert isinstance(out, str)
    return out


# -- records ----------------------------------------------------------------------------------


def test_record_lists_changed_objects_with_their_action_and_group() -> None:
    change_set = changes(
        (Action.UNCHANGED, ref("ConfigMap", "same")),
        (Action.CREATED, ref("Deployment", "web", group="apps")),
        (Action.CONFIGURED, ref("ConfigMap", "settings")),
        (Action.FAILED, ref("Service", "broken")),
        (Action.DELETED, ref("Namespace", "old", namespace="")),
    )
    entry = audit.record(
        revision="a" * 40,
        commit=COMMIT,
        result="ApplyFailed",
        changes=change_set,
        message="Service/shop/broken: invalid",
        duration=1.23456,
        time="2026-11-26T10:00:00.000Z",
    )
    assert entry == {
        "time": "2026-11-26T10:00:00.000Z",
        "revision": "a" * 40,
        "subject": "Scale web to 3",
        "author": "Ada Lovelace <ada@example.com>",
        "commitTime": "2026-11-26T09:59:00+00:00",
        "result": "ApplyFailed",
        "message": "Service/shop/broken: invalid",
        "durationSeconds": 1.235,
        "counts": {"created": 1, "configured": 1, "deleted": 1, "unchanged": 1, "failed": 1},
        "objects": [
            {"action": "created", "object": "Deployment/shop/web", "group": "apps"},
            {"action": "configured", "object": "ConfigMap/shop/settings", "group": ""},
            {"action": "deleted", "object": "Namespace/old", "group": ""},
        ],
        "objectsOmitted": 0,
    }


def test_record_never_holds_object_data_or_diffs() -> None:
    secret = "hunter2-very-secret"  # a value that must not leak
    change_set = ChangeSet(
        [
            Change(
                ref("Secret", "db"),
                Action.CONFIGURED,
                reason="password changed",
                diff=f"-  password: old\n+  password: {secret}\n",
                version="42",
            )
        ]
    )
    entry = audit.record(revision="r", commit=None, result="Succeeded", changes=change_set)
    assert entry["objects"] == [{"action": "configured", "object": "Secret/shop/db", "group": ""}]
    dumped = json.dumps(entry) + audit.encode([entry])
    assert secret not in dumped
    assert "password" not in json.dumps(entry)
    assert (entry["subject"], entry["author"], entry["commitTime"]) == ("", "", "")


def test_record_caps_texts_and_objects() -> None:
    long = CommitInfo("s", "A" * 300, "a@example.com", "S" * 300, "t")
    many = changes(*((Action.CREATED, ref("ConfigMap", f"cm-{i}")) for i in range(5)))
    entry = audit.record(
        revision="r",
        commit=long,
        result="ApplyFailed",
        changes=many,
        message="m" * 2000,
        max_objects=2,
    )
    assert len(entry["subject"]) == len(entry["author"]) == 200
    assert len(entry["message"]) == 512
    assert [o["object"] for o in entry["objects"]] == ["ConfigMap/shop/cm-0", "ConfigMap/shop/cm-1"]
    assert entry["objectsOmitted"] == 3
    assert entry["counts"]["created"] == 5


def test_a_no_op_sync_like_the_last_record_is_a_repeat() -> None:
    def entry(revision: str, result: str, *objects: tuple[Action, ObjectRef]) -> dict[str, Any]:
        return audit.record(
            revision=revision, commit=COMMIT, result=result, changes=changes(*objects)
        )

    last = entry("a", "Succeeded", (Action.CREATED, ref("ConfigMap", "x")))
    assert audit.repeats(last, entry("a", "Succeeded"))
    assert not audit.repeats(None, entry("a", "Succeeded"))
    assert not audit.repeats(last, entry("b", "Succeeded"))  # a new commit
    assert not audit.repeats(last, entry("a", "HealthCheckFailed"))  # a new outcome
    drift = entry("a", "Succeeded", (Action.CONFIGURED, ref("ConfigMap", "x")))
    assert not audit.repeats(last, drift)  # something changed


def test_timestamp_is_utc_with_milliseconds() -> None:
    moment = dt.datetime(2026, 11, 26, 11, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert audit.timestamp(moment) == "2026-11-26T10:00:00.123Z"


# -- encoding and bounds ---------------------------------------------------------------------


def noisy(index: int, objects: int = 20) -> dict[str, Any]:
    """A record that compresses badly (random names), so byte bounds are reached quickly."""
    rng = random.Random(index)
    names = ("".join(rng.choices(string.ascii_lowercase, k=16)) for _ in range(objects))
    return audit.record(
        revision=f"{index:040x}",
        commit=COMMIT,
        result="Succeeded",
        changes=changes(*((Action.CONFIGURED, ref("ConfigMap", n)) for n in names)),
        time=f"2026-11-26T10:{index // 60:02d}:{index % 60:02d}.000Z",
    )


def test_encode_round_trips_and_is_deterministic() -> None:
    records = [noisy(i, 3) for i in range(4)]
    payload = audit.encode(records)
    assert audit.decode(payload) == records
    assert audit.encode(records) == payload  # gzip without a timestamp: re-applying is a no-op
    assert audit.decode(audit.encode([])) == []


def packed(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "payload",
    [
        "not base64!",
        packed(b"hello"),  # not gzip
        packed(gzip.compress(b'{"time": "t"}\n')[:-6]),  # cut short
        packed(gzip.compress(b"{not json\n")),
        packed(gzip.compress(b"[1, 2]\n")),  # JSON, but not a record
    ],
)
def test_decode_rejects_a_corrupt_payload(payload: str) -> None:
    with pytest.raises(audit.CorruptTrail):
        audit.decode(payload)


def test_bound_keeps_the_newest_records_up_to_the_count() -> None:
    records = [noisy(i, 1) for i in range(7)]
    bounded = audit.bound(records, max_records=5)
    assert bounded.records == records[2:]
    assert bounded.dropped == 2
    assert audit.decode(bounded.payload) == records[2:]


def test_bound_drops_the_oldest_until_under_the_low_water_mark() -> None:
    records = [noisy(i) for i in range(60)]
    size = len(audit.encode(records))
    limit = size // 2
    bounded = audit.bound(records, max_bytes=limit)
    assert len(bounded.payload) <= int(limit * audit.LOW_WATER)
    assert bounded.records == records[-len(bounded.records) :]  # the newest, in order
    assert bounded.dropped == len(records) - len(bounded.records)
    # One more record: under the bound again, nothing is dropped (no search at every sync).
    grown = audit.bound([*bounded.records, noisy(60)], max_bytes=limit)
    assert grown.dropped == 0
    # Keeping one more old record than the search chose would have passed the low-water mark.
    one_more = records[-len(bounded.records) - 1 :]
    assert len(audit.encode(one_more)) > int(limit * audit.LOW_WATER)


def test_bound_keeps_the_newest_sync_even_when_it_alone_is_too_large() -> None:
    records = [noisy(0, 5), noisy(1, 400)]
    bounded = audit.bound(records, max_bytes=2048)
    [newest] = bounded.records
    assert (newest["revision"], newest["objects"], newest["objectsOmitted"]) == (
        records[1]["revision"],
        [],
        400,
    )
    assert bounded.dropped == 1
    assert len(bounded.payload) <= 2048


def test_a_full_size_trail_fits_a_configmap() -> None:
    records = [noisy(i, 200) for i in range(audit.MAX_RECORDS)]
    bounded = audit.bound(records)
    assert len(bounded.payload) <= audit.MAX_BYTES < 1024 * 1024
    assert 0 < len(bounded.records) < audit.MAX_RECORDS


# -- the ConfigMap ----------------------------------------------------------------------------


def application(name: str = "shop", namespace: str = "team-a") -> dict[str, Any]:
    return {
        "apiVersion": "clew.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "uid": "uid-1"},
    }


def test_configmap_is_named_labelled_and_owned_by_the_application() -> None:
    records = [noisy(0, 2)]
    cm = audit.configmap(application(), audit.bound(records), dropped_before=3)
    meta = cm["metadata"]
    assert (meta["name"], meta["namespace"]) == ("clew-audit-shop", "team-a")
    assert meta["labels"][audit.AUDIT_LABEL] == "true"
    assert meta["labels"][audit.APPLICATION_LABEL] == "shop"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "clew.dev/v1alpha1",
            "kind": "Application",
            "name": "shop",
            "uid": "uid-1",
            "controller": True,
        }
    ]
    assert meta["annotations"]["clew.dev/audit-dropped"] == "3"
    assert set(cm["binaryData"]) == {audit.DATA_KEY}
    trail = audit.AuditTrail.of(cm)
    assert (trail.namespace, trail.application, trail.owner_uid) == ("team-a", "shop", "uid-1")
    assert (trail.records, trail.dropped) == (records, 3)


def test_long_names_stay_valid_and_distinct() -> None:
    first, second = "a" * 250 + "x", "a" * 250 + "y"
    names = {audit.configmap_name(first), audit.configmap_name(second)}
    assert len(names) == 2
    assert all(len(n) <= 253 for n in names)
    cm = audit.configmap(application(first), audit.bound([]))
    assert len(cm["metadata"]["labels"][audit.APPLICATION_LABEL]) <= 63
    assert audit.AuditTrail.of(cm).application == first  # from the owner, not the label


def test_a_corrupt_configmap_names_itself() -> None:
    cm = audit.configmap(application(), audit.bound([]))
    cm["binaryData"][audit.DATA_KEY] = "garbage"
    with pytest.raises(audit.CorruptTrail, match="ConfigMap/team-a/clew-audit-shop"):
        audit.AuditTrail.of(cm)


# -- time ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-01T00:00:00Z", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("2026-11-01T01:30:00+01:00", dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC)),
        ("2026-11-01T00:00:00.250Z", dt.datetime(2026, 11, 1, 0, 0, 0, 250000, tzinfo=dt.UTC)),
        ("2026-11-01T08:00:00", dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)),  # no offset: UTC
        ("2026-11-01", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("24h", NOW - dt.timedelta(hours=24)),
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("1h30m", NOW - dt.timedelta(minutes=90)),
        ("7d", NOW - dt.timedelta(days=7)),
        ("2w", NOW - dt.timedelta(weeks=2)),
        ("90s", NOW - dt.timedelta(seconds=90)),
        ("1.5h", NOW - dt.timedelta(minutes=90)),
    ],
)
def test_parse_moment(given: str, expected: dt.datetime) -> None:
    assert cli.parse_moment(given, NOW) == expected


@pytest.mark.parametrize("given", ["", "yesterday", "24", "h", "-1h", "2026-13-01", "5y"])
def test_parse_moment_rejects_what_it_cannot_read(given: str) -> None:
    with pytest.raises(ClewError, match="neither a time nor a duration"):
        cli.parse_moment(given, NOW)


def test_time_range_is_half_open_and_ordered() -> None:
    span = cli.TimeRange.parse("2026-11-01", "2026-11-02", NOW)
    assert dt.datetime(2026, 11, 1, tzinfo=dt.UTC) in span
    assert dt.datetime(2026, 11, 2, tzinfo=dt.UTC) not in span
    assert dt.datetime(2026, 10, 31, 23, 59, tzinfo=dt.UTC) not in span
    assert NOW in cli.TimeRange.parse(None, None, NOW)
    with pytest.raises(ClewError, match="not before"):
        cli.TimeRange.parse("1h", "2h", NOW)  # an hour ago is after two hours ago


# -- export -----------------------------------------------------------------------------------


FAILURES = {
    "FetchFailed": "git ls-remote https://git.example/blog.git: connection refused",
    "HealthCheckFailed": "Deployment/shop/web: timed out",
}


def synced(time: str, revision: str, subject: str, result: str, *objects: Any) -> dict[str, Any]:
    commit = CommitInfo(revision, "Ada", "ada@example.com", subject, "2026-11-26T09:00:00+00:00")
    return audit.record(
        revision=revision,
        commit=commit,
        result=result,
        changes=changes(*objects),
        message=FAILURES.get(result, ""),
        duration=0.5,
        time=time,
    )


def trails() -> list[audit.AuditTrail]:
    shop = audit.AuditTrail(
        "team-a",
        "shop",
        [
            synced(
                "2026-11-26T10:00:00.000Z",
                "a" * 40,
                "Add shop",
                "Succeeded",
                (Action.CREATED, ref("ConfigMap", "settings")),
                (Action.CREATED, ref("Deployment", "web", group="apps")),
            ),
            synced(
                "2026-11-26T11:00:00.000Z",
                "c" * 40,
                'Scale web, "carefully"',
                "HealthCheckFailed",
                (Action.CONFIGURED, ref("Deployment", "web", group="apps")),
                (Action.DELETED, ref("ConfigMap", "settings")),
            ),
        ],
        dropped=4,
    )
    blog = audit.AuditTrail(
        "team-b",
        "blog",
        [synced("2026-11-26T10:30:00.000Z", "b" * 40, "Render nothing new", "FetchFailed")],
    )
    return [shop, blog]


def golden(name: str, actual: str) -> None:
    path = FIXTURES / name
    assert actual == path.read_text(), f"{name} differs; compare with {path}"


def test_select_merges_trails_by_time_within_the_range() -> None:
    rows = cli.select(trails(), cli.TimeRange())
    assert [(r["application"], r["time"]) for r in rows] == [
        ("shop", "2026-11-26T10:00:00.000Z"),
        ("blog", "2026-11-26T10:30:00.000Z"),
        ("shop", "2026-11-26T11:00:00.000Z"),
    ]
    since = cli.TimeRange.parse("2026-11-26T10:30:00Z", "2026-11-26T11:00:00Z", NOW)
    assert [r["application"] for r in cli.select(trails(), since)] == ["blog"]


def test_a_range_reaching_before_a_trimmed_trail_says_so() -> None:
    [note] = cli.truncated(trails(), cli.TimeRange())
    assert "team-a/shop: 4 older record(s) were dropped" in note
    assert "2026-11-26T10:00:00.000Z" in note
    later = cli.TimeRange.parse("2026-11-26T10:15:00Z", None, NOW)
    assert cli.truncated(trails(), later) == []


def test_json_export_is_golden() -> None:
    rows = cli.select(trails(), cli.TimeRange())
    golden("export.json", cli.audit_json(rows))
    assert json.loads(cli.audit_json(rows))[0]["objects"][1]["group"] == "apps"


def test_csv_export_is_golden_with_one_line_per_changed_object() -> None:
    rows = cli.select(trails(), cli.TimeRange())
    golden("export.csv", cli.audit_csv(rows))


def test_csv_counts_objects_a_record_left_out() -> None:
    row = {"time": "t", "objects": [], "objectsOmitted": 7}
    lines = cli.audit_csv([row]).splitlines()
    assert lines[1].endswith(",omitted,,7")


def test_table_shows_one_row_per_sync() -> None:
    rows = cli.select(trails(), cli.TimeRange())
    shown = text(cli.audit_table(rows, many=True))
    assert "NAMESPACE" in shown
    assert "APPLICATION" in shown
    assert "2026-11-26T10:00:00Z" in shown
    assert "aaaaaaaaaaaa " in shown  # revisions shortened to 12
    assert "+2 ~0 -0" in shown
    assert "deleted ConfigMap/shop/settings" in shown
    one = text(cli.audit_table(rows[:1], many=False))
    assert "APPLICATION" not in one


def test_table_lists_at_most_ten_objects_per_sync() -> None:
    many = changes(*((Action.CREATED, ref("ConfigMap", f"cm-{i:02d}")) for i in range(12)))
    entry = audit.record(revision="r", commit=None, result="Succeeded", changes=many)
    shown = text(cli.audit_table([entry], many=False))
    assert "cm-09" in shown
    assert "cm-10" not in shown
    assert "and 2 more" in shown


def test_wide_table_shows_every_object_and_whole_revisions() -> None:
    many = changes(*((Action.CREATED, ref("ConfigMap", f"cm-{i:02d}")) for i in range(12)))
    entry = audit.record(revision="f" * 40, commit=None, result="Succeeded", changes=many)
    shown = text(cli.audit_table([entry], many=False, wide=True))
    assert "cm-11" in shown
    assert "more" not in shown
    assert "f" * 40 in shown
    assert cli.AuditFormat("wide") is cli.AuditFormat.WIDE


def test_subjects_are_printed_as_written_not_as_markup() -> None:
    entry = {"time": "2026-11-26T10:00:00Z", "subject": "[bold]not bold[/bold]"}
    assert "[bold]not bold[/bold]" in text(cli.audit_table([entry], many=False))


# -- the command without a cluster ------------------------------------------------------------


def test_a_bad_range_fails_with_exit_2_before_connecting(tmp_path: Path) -> None:
    missing = tmp_path / "no-kubeconfig"
    result = CliRunner().invoke(
        cli.app, ["app", "shop", "--since", "yesterday", "--kubeconfig", str(missing)]
    )
    assert result.exit_code == 2
    assert "neither a time nor a duration" in result.output
    assert "no-kubeconfig" not in result.output  # never got as far as the kubeconfig


def test_no_cluster_is_exit_2_with_a_hint(tmp_path: Path) -> None:
    missing = tmp_path / "no-kubeconfig"
    for args in (["-A"], ["app", "shop", "-o", "json"]):
        result = CliRunner().invoke(cli.app, [*args, "--kubeconfig", str(missing)])
        assert result.exit_code == 2, result.output
        assert "kubeconfig" in result.output
