"""The one interface every external calendar system is reached through.

A provider module (caldav.py, exchange.py, graph.py, google.py) turns RemoteEvents into its
system's protocol and back with its client library, and never touches the ORM. The sync engine
only ever sees the types below, so a new system plugs in without the engine changing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, TypeVar

logger = logging.getLogger(__name__)

# Longest text we accept from an external calendar; external text is untrusted.
MAX_SUBJECT = 255
MAX_LOCATION = 255
MAX_BODY = 20_000


# --- errors: each carries the message a person needs -------------------------------------


class ProviderError(Exception):
    """Anything that went wrong talking to an external calendar."""


class ConnectionProblem(ProviderError):
    """Fix needed by an admin: wrong credentials, unreachable server, missing right, no calendar.

    The message says what is wrong and how to fix it, e.g. "The service account cannot
    impersonate alice@example.com: grant it the ApplicationImpersonation role."
    """


class TransientError(ProviderError):
    """Worth retrying later: timeout, dropped connection, 429, 5xx, server busy."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SyncTokenExpired(ProviderError):
    """The server refused our sync token / state / delta link: do a full resync of the window."""


class VersionConflict(ProviderError):
    """The remote item changed since the version tag we hold (stale etag / change key / 412)."""


class RemoteNotFound(ProviderError):
    """The remote item is not there (for delete this counts as success)."""


# --- data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteCalendar:
    """Which calendar: the technician's mailbox (e-mail / principal) and the system's id for the calendar."""

    mailbox: str
    calendar_id: str


@dataclass(frozen=True)
class RemoteRef:
    """Where our entry lives remotely and its version tag (etag, change key)."""

    remote_id: str
    version: str | None = None


@dataclass(frozen=True)
class Window:
    """The import window: only entries overlapping [start, end) are listed."""

    start: datetime
    end: datetime


@dataclass
class RemoteOccurrence:
    """A moved or edited occurrence of a recurring series, keyed by the start the rule gave it."""

    original_start: datetime | date
    start: datetime | date
    end: datetime | date
    subject: str | None = None
    body: str | None = None
    location: str | None = None


@dataclass
class RemoteEvent:
    """One entry as an external calendar holds it, in plain data.

    start/end are aware datetimes, or dates for all-day entries (end exclusive), or naive
    datetimes for floating times (RFC 5545 3.3.5: the reader's wall clock; the inbound side puts
    them on the technician's). `time_zone` is the IANA zone whose wall clock a recurrence repeats
    on, "" for dates and floating times (the technician's). Providers turn their system's zone
    names into IANA ones with calendars.times (Windows names, custom VTIMEZONE blocks). `marker` is the id we stamp on
    entries we create (CalDAV UID, EWS extended property, Graph/Google property); an entry
    without our marker was made in the external calendar.
    """

    start: datetime | date
    end: datetime | date
    subject: str = ""
    body: str = ""
    location: str = ""
    all_day: bool = False
    private: bool = False
    busy: bool = True
    reminder_minutes: int | None = None
    time_zone: str = "UTC"
    # Recurring master: RRULE values without the "RRULE:" prefix, cancelled original starts, moved ones.
    rrules: list[str] = field(default_factory=list)
    exdates: list[datetime | date] = field(default_factory=list)
    overrides: list[RemoteOccurrence] = field(default_factory=list)
    # Extra starts of a series besides its rules (RFC 5545 RDATE).
    rdates: list[datetime | date] = field(default_factory=list)
    marker: str | None = None
    remote_id: str | None = None
    version: str | None = None
    # The entry in the system's own form as last read (CalDAV: the iCalendar object text), kept so
    # an update can edit it and send back everything the helpdesk does not model untouched.
    raw: str | None = None

    @property
    def is_recurring(self) -> bool:
        return bool(self.rrules)

    def trimmed(self) -> RemoteEvent:
        """The same event with untrusted text cut to the sizes we store."""
        self.subject = (self.subject or "")[:MAX_SUBJECT]
        self.location = (self.location or "")[:MAX_LOCATION]
        self.body = (self.body or "")[:MAX_BODY]
        return self


@dataclass
class ChangePage:
    """What changed since a token, or (full=True) everything in the window.

    `deleted` holds remote ids. On a full listing, an id we know that is missing from `changed`
    counts as deleted, subject to the engine's safety rule against empty answers.
    """

    changed: list[RemoteEvent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    next_token: str | None = None
    full: bool = False


class CalendarProvider(Protocol):
    def test_connection(self, mailbox: str | None = None) -> str:
        """A one-line description of what works; raises ConnectionProblem saying what does not."""

    def find_calendar(self, mailbox: str, name: str | None = None) -> RemoteCalendar:
        """The technician's default calendar, or the one named; ConnectionProblem if none."""

    def list_changes(self, calendar: RemoteCalendar, token: str | None, window: Window) -> ChangePage:
        """Changes since `token` with the system's incremental mechanism; with no token, a full
        listing of the window. Raises SyncTokenExpired when the server refuses the token."""

    def create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        """Create the entry; idempotent on event.marker (a retried create finds the first one)."""

    def update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, *, base: RemoteEvent | None = None
    ) -> RemoteRef:
        """Merge `event` into the entry: only the fields the helpdesk owns are written, and only
        where they differ from `base` (the entry as we last read it, with its `raw` form when the
        system has one); categories, the user's own alarms, attendees, X- properties and anything
        else the entry holds are kept. Without `base`, every owned field is written (still keeping
        what the helpdesk does not own where the system allows it).
        VersionConflict if ref.version is stale, RemoteNotFound if gone."""

    def get(self, calendar: RemoteCalendar, ref: RemoteRef) -> RemoteEvent | None:
        """The entry as the server holds it now, or None when it is gone."""

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        """Delete the entry; an entry that is already gone counts as deleted."""


# --- the one retry policy for every external call -------------------------------------------

T = TypeVar("T")


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying TransientError with exponential back-off and full jitter.

    A server's Retry-After (TransientError.retry_after) is honoured when given. The last
    TransientError is raised when the attempts run out, so the task can try again later.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransientError as error:
            if attempt == attempts:
                raise
            delay = error.retry_after
            if delay is None:
                delay = random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            delay = min(delay, max_delay)
            logger.info("Transient error (%s); retry %d in %.1f s", error, attempt, delay)
            sleep(delay)
    raise AssertionError("unreachable")
