"""The one back-off policy every connector runs under (providers/base.py RetryPolicy, on tenacity).

Waits go to a recording `sleep`, never to the clock. The right values: RFC 9110 section 10.2.3 for
Retry-After (delay-seconds or an HTTP-date), and "full jitter" (uniform between 0 and the
exponential step, capped) for waits the server did not name.
"""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from integrations.providers.base import (
    ConnectionProblem,
    RetryPolicy,
    TransientError,
    retry_after_seconds,
)


class Server:
    """Answers each call with the next of `answers`: an exception to raise, or a value."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_server_wait_is_slept_in_full_even_above_the_back_off_cap():
    sleeps: list[float] = []
    server = Server(TransientError("busy", retry_after=12), "done")
    policy = RetryPolicy(max_delay=0.5, max_inline_wait=20, sleep=sleeps.append)

    assert policy.call(server) == "done"
    assert sleeps == [12]


def test_a_wait_above_the_inline_limit_is_never_slept_and_carries_the_wait():
    sleeps: list[float] = []
    server = Server(TransientError("busy", retry_after=40), "never reached")
    policy = RetryPolicy(attempts=4, max_inline_wait=5, sleep=sleeps.append)

    with pytest.raises(TransientError) as raised:
        policy.call(server)

    assert raised.value.retry_after == 40
    assert sleeps == []
    assert server.calls == 1


def test_a_wait_at_the_inline_limit_is_slept():
    sleeps: list[float] = []
    policy = RetryPolicy(max_inline_wait=5, sleep=sleeps.append)

    assert policy.call(Server(TransientError("busy", retry_after=5), "done")) == "done"
    assert sleeps == [5]


def test_without_a_server_wait_the_back_off_is_exponential_with_full_jitter():
    sleeps: list[float] = []
    failures = [TransientError("timeout") for _ in range(5)]
    policy = RetryPolicy(attempts=6, base_delay=1, max_delay=6, sleep=sleeps.append)

    assert policy.call(Server(*failures, "done")) == "done"

    # Before try n+1: uniform(0, min(6, 1 * 2**(n-1))) -> bounds 1, 2, 4, 6, 6.
    assert len(sleeps) == 5
    for wait, bound in zip(sleeps, [1, 2, 4, 6, 6], strict=True):
        assert 0 <= wait <= bound


def test_the_jitter_spreads_the_waits():
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=2, base_delay=10, max_delay=10, sleep=sleeps.append)
    for _ in range(30):
        policy.call(Server(TransientError("timeout"), "done"))

    assert len(set(sleeps)) > 20  # not one fixed wait for every worker at once


def test_the_last_transient_error_is_raised_when_the_tries_run_out():
    sleeps: list[float] = []
    server = Server(*[TransientError(f"try {n}", retry_after=1) for n in range(1, 4)])

    with pytest.raises(TransientError, match="try 3") as raised:
        RetryPolicy(attempts=3, sleep=sleeps.append).call(server)

    assert raised.value.retry_after == 1
    assert sleeps == [1, 1]


def test_other_errors_are_not_retried():
    sleeps: list[float] = []
    server = Server(ConnectionProblem("wrong password"), "never reached")

    with pytest.raises(ConnectionProblem):
        RetryPolicy(sleep=sleeps.append).call(server)

    assert (server.calls, sleeps) == (1, [])


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        ("0", 0.0),
        (" 120 ", 120.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("²", None),
        ("٣", None),
    ],
)
def test_retry_after_in_seconds(header, seconds):
    """RFC 9110 10.2.3: delay-seconds is 1*DIGIT, ASCII digits (RFC 5234 B.1); "²" was a crash (float() refuses it)."""
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date():
    now = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("Mon, 30 Nov 2026 03:00:40 GMT", now=now) == 40
    assert retry_after_seconds(format_datetime(now + timedelta(minutes=2), usegmt=True), now=now) == 120
    assert retry_after_seconds("Mon, 30 Nov 2026 02:59:00 GMT", now=now) == 0  # already past
