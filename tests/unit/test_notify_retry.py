"""Retry classification and the retry loop. 2xx is delivered; no answer, 408, 429 and 5xx are
retried, as is GitHub's rate-limit 403; every other 4xx (and 3xx: redirects are never followed)
gives up at once. Delays double with jitter up to the maximum, honour Retry-After (seconds or a
date) within it, and attempts are bounded. The recorded error names the status and the server's
short reason, never the request. The transport here is a scripted Sender (the real one is
exercised against loopback servers in tests/integration/test_notify.py)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from clew.notify.http import HttpRequest, HttpResponse, TransportError
from clew.notify.retry import Backoff, Delivery, Verdict, classify, retry_after, send_with_retries

DEFAULT = Backoff()
REQUEST = HttpRequest("POST", "https://hooks.example.com/T000/B000/XXXX", {}, b"{}")


@pytest.mark.parametrize(
    ("status", "headers", "verdict"),
    [
        (200, {}, Verdict.DELIVERED),
        (201, {}, Verdict.DELIVERED),
        (204, {}, Verdict.DELIVERED),
        (408, {}, Verdict.RETRY),
        (429, {}, Verdict.RETRY),
        (500, {}, Verdict.RETRY),
        (502, {}, Verdict.RETRY),
        (503, {"retry-after": "3"}, Verdict.RETRY),
        (403, {"x-ratelimit-remaining": "0"}, Verdict.RETRY),
        (403, {"retry-after": "60"}, Verdict.RETRY),
        (403, {"x-ratelimit-remaining": "12"}, Verdict.GIVE_UP),
        (400, {}, Verdict.GIVE_UP),
        (401, {}, Verdict.GIVE_UP),
        (404, {}, Verdict.GIVE_UP),
        (410, {}, Verdict.GIVE_UP),
        (422, {}, Verdict.GIVE_UP),
        (301, {}, Verdict.GIVE_UP),
        (307, {}, Verdict.GIVE_UP),
    ],
)
def test_classify(status: int, headers: dict[str, str], verdict: Verdict) -> None:
    assert classify(HttpResponse(status, headers)) is verdict


def test_no_answer_is_retried() -> None:
    assert classify(None) is Verdict.RETRY


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after(HttpResponse(429, {"retry-after": "7"})) == 7.0
    date = {"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}
    assert retry_after(HttpResponse(503, date), now=1445412500.0) == pytest.approx(10.0)
    assert retry_after(HttpResponse(503, date), now=1445412600.0) == 0.0
    assert retry_after(HttpResponse(503, {"retry-after": "soon"})) is None
    assert retry_after(HttpResponse(503)) is None
    assert retry_after(None) is None


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(attempts=6, initial=1.0, maximum=5.0)
    assert [backoff.delay(n, lambda: 0.5) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.delay(1, lambda: 0.0) == pytest.approx(0.8)
    assert backoff.delay(1, lambda: 1.0) == pytest.approx(1.2)


class Script:
    """A Sender answering from a list: an HttpResponse, or a TransportError to raise."""

    def __init__(self, answers: Iterable[HttpResponse | TransportError]) -> None:
        self.answers = list(answers)
        self.sent: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, TransportError):
            raise answer
        return answer


async def run(
    answers: list[HttpResponse | TransportError], backoff: Backoff = DEFAULT
) -> tuple[Delivery, list[float], Script]:
    script, slept = Script(answers), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    delivery = await send_with_retries(script, REQUEST, backoff, sleep=sleep, rng=lambda: 0.5)
    return delivery, slept, script


async def test_server_errors_then_success() -> None:
    delivery, slept, script = await run([HttpResponse(500), HttpResponse(502), HttpResponse(201)])
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 3, 201)
    assert slept == [1.0, 2.0]
    assert script.sent == [REQUEST] * 3  # the same request (delivery id, signature) each time


async def test_connection_errors_are_retried_until_attempts_run_out() -> None:
    refused = TransportError("ConnectionRefusedError: [Errno 111] Connection refused")
    delivery, slept, _ = await run([refused] * 3, Backoff(attempts=3))
    assert not delivery.ok
    assert (
        delivery.error == "ConnectionRefusedError: [Errno 111] Connection refused after 3 attempts"
    )
    assert len(slept) == 2


async def test_client_errors_give_up_at_once_with_the_servers_reason() -> None:
    body = b'{"message": "Validation Failed", "errors": [{"code": "custom"}]}'
    delivery, slept, _ = await run([HttpResponse(422, {}, body)])
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 422)
    assert delivery.error == "HTTP 422: Validation Failed"
    assert slept == []
    delivery, _, _ = await run([HttpResponse(404, {}, b"no_service\n")])
    assert delivery.error == "HTTP 404: no_service"


async def test_retry_after_is_honoured_within_the_maximum() -> None:
    _, slept, _ = await run(
        [
            HttpResponse(429, {"retry-after": "7"}),
            HttpResponse(429, {"retry-after": "900"}),
            HttpResponse(200),
        ],
        Backoff(attempts=3, initial=1.0, maximum=30.0),
    )
    assert slept == [7.0, 30.0]


async def test_a_long_error_body_is_cut() -> None:
    delivery, _, _ = await run([HttpResponse(400, {}, b"x" * 5000)])
    assert len(delivery.error) < 220
