"""When each calendar is pulled: pure arithmetic, no database, no clock of its own.

Many calendars: the beat ticks once per pull interval, but each calendar is pulled at its own
fixed slot within that interval (a hashed offset from the Unix epoch), so a thousand pulls are
spread evenly instead of all starting at :00, and a calendar keeps its slot whatever the tick's
phase, across restarts and on every machine (the hash is SHA-256, not Python's salted `hash`).

A calendar whose last pull failed backs off: no pull before the last failure plus
`backoff_seconds(failures)`, doubling per failure up to a cap, reset by the next good pull
(truncated exponential back-off, as in RFC 6298 section 5.5 and Google's API guidance).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta


def pull_offset(agent_calendar_id: int, interval: int) -> int:
    """The calendar's slot: whole seconds in [0, interval) after each multiple of `interval`
    seconds since the Unix epoch (UTC). Deterministic for a calendar id and interval."""
    if interval <= 0:
        raise ValueError("The pull interval must be a positive number of seconds.")
    digest = hashlib.sha256(f"agent-calendar:{agent_calendar_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % interval


def pull_delay(agent_calendar_id: int, interval: int, now: datetime) -> float:
    """Seconds from `now` (aware) until the calendar's next slot, in [0, interval): the countdown
    the beat gives the calendar's pull."""
    position = now.timestamp() % interval
    return (pull_offset(agent_calendar_id, interval) - position) % interval


def backoff_seconds(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after `failures` failed pulls in a row: 0 for none, then base, 2 x base,
    4 x base ... never more than cap."""
    if failures <= 0:
        return 0.0
    # 2**60 overflows nothing and already exceeds any sensible cap.
    return float(min(cap, base * 2 ** min(failures - 1, 60)))


def next_pull_after_failure(failures: int, failed_at: datetime, *, base: float, cap: float) -> datetime:
    """The earliest moment (aware, like `failed_at`) the beat queues the calendar's next pull."""
    return failed_at + timedelta(seconds=backoff_seconds(failures, base=base, cap=cap))


def plan_round(
    calendars: Iterable[tuple[int, datetime | None]], *, interval: int, now: datetime
) -> list[tuple[int, float]]:
    """One beat tick: (agent calendar id, next_pull_at or None) in, (id, countdown seconds) out
    for every calendar due by its slot, in slot order. A calendar still backing off at its slot is
    left for a later tick."""
    plan = []
    for pk, next_pull_at in calendars:
        delay = pull_delay(pk, interval, now)
        if next_pull_at is not None and next_pull_at > now + timedelta(seconds=delay):
            continue
        plan.append((pk, delay))
    plan.sort(key=lambda item: item[1])
    return plan
