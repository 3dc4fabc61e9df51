"""The source flags of `clew apply/diff/render`: exactly one source, --chart with --helm-repo,
--version only for charts and OCI artifacts, Git's --ref refused for a registry; each mistake is
an error naming the form to use, before anything is fetched. --username and --ca-file become the
HTTPS login of charts and registries, the password never in its repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.cli.sources import Charts, fetcher, http_auth
from clew.model import ClewError
from clew.source import Credentials


@pytest.mark.parametrize(
    ("src", "repo", "ref", "charts", "message"),
    [
        (None, None, "main", Charts(chart="web"), "--chart needs --helm-repo"),
        (Path("."), "https://g/a.git", "main", Charts(), "give one source"),
        (None, None, "main", Charts(repo="https://charts"), "give one source"),
        (None, "https://g/a.git", "main", Charts(version="1.0"), "--version is a chart's"),
        (None, "oci://reg/app", "v1", Charts(), "tags, not Git refs: use --version"),
    ],
)
def test_usage_errors(
    src: Path | None, repo: str | None, ref: str, charts: Charts, message: str
) -> None:
    with pytest.raises(ClewError, match=message):
        fetcher(src, repo, ref, ".", None, charts)


def test_http_auth(tmp_path: Path) -> None:
    assert http_auth(None, None) is None
    (tmp_path / "ca.pem").write_text("PEM")
    only_ca = http_auth(None, tmp_path / "ca.pem")
    assert only_ca is not None
    assert (only_ca.username, only_ca.password, only_ca.ca_pem) == (None, None, "PEM")
    login = http_auth(Credentials(username="me", password="s3cret"), None)
    assert login is not None
    assert login.header() == "Basic bWU6czNjcmV0"
    assert "s3cret" not in repr(login)
