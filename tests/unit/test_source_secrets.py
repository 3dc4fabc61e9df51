"""Secrets stay secret, and git's stderr becomes the right typed error with a hint.

Proves: ``Credentials``/``GitSource`` reprs and error messages never show a password, token or
URL userinfo; credentials written into a URL are moved out of it; the per-call session puts
secrets only in 0600 files inside a 0700 directory that is gone afterwards, and refuses an SSH
remote without known_hosts; real stderr samples from git/curl/ssh map to the documented classes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from clew.model import SourceError
from clew.source import GitSource
from clew.source.credentials import Credentials, git_session, is_ssh_url, split_userinfo
from clew.source.errors import (
    AuthenticationFailed,
    HostNotTrusted,
    RefNotFound,
    RepositoryNotFound,
    Unreachable,
)
from clew.source.git import classify, redact, redact_url

TOKEN = "ghp_s3cr3tT0kenValue1234567890"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END"


def test_reprs_hide_secrets() -> None:
    creds = Credentials(username="bot", password=TOKEN, ssh_private_key=KEY, known_hosts="h k\n")
    source = GitSource(f"https://bot:{TOKEN}@git.example/app.git", "main", creds)
    for text in (repr(creds), str(creds), repr(source)):
        assert TOKEN not in text
        assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in text
    assert "username='bot'" in repr(creds)
    assert "password='***'" in repr(creds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://bot:{TOKEN}@git.example/x", "https://***@git.example/x"),
        (
            f"fatal: unable to access 'https://{TOKEN}@h/x/'",
            "fatal: unable to access 'https://***@h/x/'",
        ),
        ("ssh://git@host:22/x", "ssh://***@host:22/x"),
        ("https://git.example/x", "https://git.example/x"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),  # scp-like: a login
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


def test_redact_removes_secret_in_any_form() -> None:
    secret = "p@ss word/1"
    text = f"password {secret} or encoded p%40ss%20word%2F1 in https://u:x@h/"
    assert redact(text, [secret]) == "password *** or encoded *** in https://***@h/"


def test_url_credentials_are_moved_out_of_the_url() -> None:
    assert split_userinfo("https://bot:p%40ss@git.example/app.git") == (
        "https://git.example/app.git",
        "bot",
        "p@ss",
    )
    assert split_userinfo(f"https://{TOKEN}@h/x") == ("https://h/x", TOKEN, None)
    assert split_userinfo("ssh://git@h/x") == ("ssh://git@h/x", None, None)


@pytest.mark.parametrize(
    ("url", "ssh"),
    [
        ("ssh://git@h/x", True),
        ("git+ssh://h/x", True),
        ("git@github.com:org/repo", True),
        ("host:path/repo", True),
        ("https://h/x", False),
        ("/srv/repo.git", False),
        ("./repo", False),
    ],
)
def test_is_ssh_url(url: str, ssh: bool) -> None:
    assert is_ssh_url(url) is ssh


def test_https_session_keeps_secret_in_private_files_only() -> None:
    creds = Credentials(username="bot", password=TOKEN)
    with git_session("https://git.example/x", creds) as env:
        assert not any(TOKEN in value for value in env.values())
        askpass = Path(env["GIT_ASKPASS"])
        directory = askpass.parent
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert (directory / "password").read_text() == TOKEN
        assert stat.S_IMODE((directory / "password").stat().st_mode) == 0o600
        assert env["GIT_TERMINAL_PROMPT"] == "0"
        assert env["GIT_CONFIG_GLOBAL"] == os.devnull
        assert env["GIT_CONFIG_NOSYSTEM"] == "1"
        assert env["LC_ALL"] == "C"
    assert not directory.exists()


def test_ssh_session_writes_key_and_known_hosts_and_pins_host_keys() -> None:
    creds = Credentials(ssh_private_key=KEY, known_hosts="[h]:22 ssh-ed25519 AAAA")
    with git_session("ssh://git@h/x", creds) as env:
        command = env["GIT_SSH_COMMAND"]
        assert KEY not in command
        assert "StrictHostKeyChecking=yes" in command
        assert "BatchMode=yes" in command
        assert "IdentitiesOnly=yes" in command
        key_file = Path(command.split(" -i ")[1].split()[0])
        assert key_file.read_text() == KEY + "\n"  # the missing final newline added
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.exists()


def test_ssh_without_known_hosts_is_refused_unless_explicitly_insecure() -> None:
    with pytest.raises(HostNotTrusted) as caught, git_session("git@h:x", Credentials()):
        pass
    assert "known_hosts" in caught.value.hint
    with git_session("git@h:x", Credentials(insecure_ignore_host_key=True)) as env:
        assert "StrictHostKeyChecking=no" in env["GIT_SSH_COMMAND"]


# stderr as git 2.39 / curl / OpenSSH 9 print it.
@pytest.mark.parametrize(
    ("stderr", "cls", "hint_word"),
    [
        (
            "remote: Authentication required\nfatal: Authentication failed for 'http://h/r.git/'",
            AuthenticationFailed,
            "credentials",
        ),
        (
            "fatal: unable to access 'https://h/r/': The requested URL returned error: 403",
            AuthenticationFailed,
            "credentials",
        ),
        (
            "fatal: could not read Username for 'http://h': terminal prompts disabled",
            AuthenticationFailed,
            "credentials",
        ),
        ("git@h: Permission denied (publickey).\nfatal: Could not read", AuthenticationFailed, ""),
        (
            "No ED25519 host key is known for [h]:22 and you have requested strict checking.\n"
            "Host key verification failed.\nfatal: Could not read from remote repository.",
            HostNotTrusted,
            "known_hosts",
        ),
        (
            "@@@\n@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @\n@@@\n"
            "Host key verification failed.",
            HostNotTrusted,
            "known_hosts",
        ),
        ("fatal: unable to access 'https://h/': SSL certificate problem", HostNotTrusted, "CA"),
        ("fatal: couldn't find remote ref refs/heads/nope", RefNotFound, "ref"),
        ("fatal: remote error: upload-pack: not our ref 0000", RefNotFound, "ref"),
        ("fatal: repository 'http://h/x.git/' not found", RepositoryNotFound, "URL"),
        ("fatal: '/srv/x' does not appear to be a git repository", RepositoryNotFound, "URL"),
        (
            "fatal: unable to access 'http://h:1/x/': Failed to connect to h port 1 after 0 ms",
            Unreachable,
            "",
        ),
        ("fatal: unable to access 'http://n/': Could not resolve host: n", Unreachable, "DNS"),
        ("ssh: connect to host h port 22: Connection refused", Unreachable, ""),
        ("fatal: unable to access 'h': The requested URL returned error: 503", Unreachable, ""),
        ("fatal: something new and strange", SourceError, ""),
    ],
)
def test_stderr_is_classified(stderr: str, cls: type[SourceError], hint_word: str) -> None:
    error = classify(stderr, action="fetch", url=f"https://u:{TOKEN}@h/r.git", secrets=[TOKEN])
    assert type(error) is cls
    assert error.hint
    assert hint_word in error.hint
    assert TOKEN not in str(error)
    assert "https://***@h/r.git" in error.message
    # An error git has not told us about is retried with backoff, like a network failure.
    assert error.retryable is (cls in (Unreachable, SourceError))


def test_classified_message_redacts_secret_echoed_by_git() -> None:
    error = classify(f"fatal: bad password {TOKEN}", action="ls-remote", url="u", secrets=[TOKEN])
    assert TOKEN not in str(error)
    assert "***" in str(error)
