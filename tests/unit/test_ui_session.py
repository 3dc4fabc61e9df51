"""UI sessions: a cookie opens only with the key that sealed it, within its lifetime, and
unchanged; its bearer token is not readable in the cookie; CSRF tokens are compared exactly
(an empty or different token never matches)."""

from __future__ import annotations

import time

from cryptography.fernet import Fernet

from clew.ui.session import SessionCodec, csrf_matches


def test_a_sealed_session_opens_with_its_key() -> None:
    codec = SessionCodec()
    session, cookie = codec.new("the-bearer-token")
    opened = codec.open(cookie)
    assert opened == session
    assert "the-bearer-token" not in cookie
    assert len(session.csrf) >= 40


def test_forged_tampered_or_foreign_cookies_are_refused() -> None:
    codec = SessionCodec()
    _, cookie = codec.new("token")
    flipped = cookie[:-5] + ("A" if cookie[-5] != "A" else "B") + cookie[-4:]
    assert codec.open(flipped) is None
    assert codec.open("not-a-cookie") is None
    assert codec.open(None) is None
    assert codec.open("") is None
    other = SessionCodec(Fernet.generate_key())
    assert other.open(cookie) is None


def test_sessions_expire() -> None:
    key = Fernet.generate_key()
    _, cookie = SessionCodec(key, ttl=60).new("token")
    # The same cookie, checked as if issued 61 s ago: Fernet stores the issue time.
    stale = Fernet(key).encrypt_at_time(Fernet(key).decrypt(cookie), int(time.time()) - 61)
    assert SessionCodec(key, ttl=60).open(stale.decode()) is None
    assert SessionCodec(key, ttl=60).open(cookie) is not None


def test_csrf_tokens_match_exactly() -> None:
    session, _ = SessionCodec().new("token")
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, session.csrf + "x")
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, None)
