"""The one interface every external calendar system is reached through.

A provider (caldav.py; the exchange/ package, the shape graph and google follow) turns RemoteEvents into its
system's protocol and back with its client library, and never touches the ORM. The sync engine
only ever sees the types below, so a new system plugs in without the engine changing.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import ParamSpec, Protocol, TypeVar

import tenacity
from django.core.exceptions import ImproperlyConfigured

from helpdesk.parsing import is_whole_number
from integrations.sync.normalise import normalise_text

logger = logging.getLogger(__name__)

# Longest text we accept from an external calendar; external text is untrusted.
MAX_SUBJECT = 255
MAX_LOCATION = 255
MAX_BODY = 20_000
# Longest id, marker or version tag we keep (SyncLink.marker / remote_id hold 1000, version 255).
MAX_ID = 1000
MAX_VERSION = 255
# Years an external entry may fall in (start, end, cancelled and extra starts, moved occurrences):
# far enough for any real plan, near enough that zone arithmetic never reaches datetime's limits.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999
# Longest reminder we keep, in minutes: four weeks, the most Google allows (events resource,
# reminders.overrides[].minutes: 0 to 40320) and beyond Outlook's two weeks.
MAX_REMINDER_MINUTES = 40_320


def cut_text(value: str, limit: int) -> str:
    """`value` cut to at most `limit` characters, ending with a note that says it was cut."""
    if len(value) <= limit:
        return value
    note = f"\n\n[Cut to {limit} characters by the helpdesk; the whole text stays in the external calendar.]"
    return value[: max(0, limit - len(note))] + note[:limit]


def cut_note(limit: int) -> str:
    """The log line's sentence for a text cut by `cut_text`."""
    return (
        f"The description is longer than {limit} characters: it is cut, with a note; "
        "the whole text stays in the external calendar."
    )


def unknown_zone_note(name: object, reading: str) -> str:
    """The log line's sentence for a time zone name the helpdesk cannot map to an IANA zone (an
    unknown TZID, Windows or Graph zone name, Google timeZone); `reading` says how the times were
    read instead ("as UTC", "on the technician's wall clock")."""
    shown = _clean(str(name)).strip()[:80] or "(empty)"
    return f"Unknown time zone “{shown}”: the times are read {reading}; fix the zone in the external calendar."


# --- errors: each carries the message a person needs -------------------------------------


class ProviderError(Exception):
    """Anything that went wrong talking to an external calendar."""


class ConnectionProblem(ProviderError):
    """Fix needed by an admin: wrong credentials, unreachable server, missing right, no calendar.

    The message says what is wrong and how to fix it, e.g. "The service account cannot
    impersonate alice@example.com: grant it the ApplicationImpersonation role."
    """


class RightsLost(ConnectionProblem):
    """The account lost a right on the whole calendar (it may no longer read it, or only read it):
    said by the server's answer itself (Google's requiredAccessLevel) or found by asking the
    calendar's rights after a refused entry (`judge_refusal`). The calendar is failing with this
    reason; the writes it refused wait, pending, for the right to come back."""


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


class EntryRefused(ProviderError):
    """The server refused a request that named one entry (HTTP 403 on its URL, Graph or EWS
    ErrorAccessDenied in that item's own answer, a Google 403 on one event): a private item, an
    invitation only its organiser may change, or the account's rights on the whole calendar gone.
    The answer alone seldom says which: unless `entry_alone` (the answer names a reason that only
    concerns this entry, e.g. Google's forbiddenForNonOrganizer), the engine asks the calendar's
    effective rights once (`CalendarProvider.rights`) and reads the refusal with `judge_refusal`.
    `write`: the refused request was a create, update or delete (else a read)."""

    def __init__(self, message: str, *, write: bool, entry_alone: bool = False) -> None:
        super().__init__(message)
        self.write = write
        self.entry_alone = entry_alone


@dataclass(frozen=True)
class CalendarRights:
    """What the connection's account may do on one calendar now, as the server answers when asked
    (Graph calendar `canEdit`; CalDAV DAV:current-user-privilege-set, RFC 3744 5.4; EWS folder
    EffectiveRights, MS-OXWSCDATA 2.2.4.32; Google calendarList `accessRole`). `source` names the
    answer ("canEdit false"), `fix` says in the system's words what an admin does to give back
    the right that is missing (one sentence, no trailing full stop)."""

    read: bool
    write: bool
    source: str
    fix: str


def judge_refusal(error: EntryRefused, rights: CalendarRights | None, mailbox: str) -> ProviderError:
    """What a refusal of one entry means, given the calendar's effective rights asked right after it
    (None: they could not be asked). The calendar's own loss of rights is a ConnectionProblem (an
    admin must act) saying which right is gone: no longer readable ("no access"), or readable but
    no longer writable for a refused write ("read-only now"). Otherwise the refusal is the entry's
    alone: `error` itself, which fails that entry only. The ConnectionProblem is a RightsLost."""
    if error.entry_alone or rights is None:
        return error
    if not rights.read:
        return RightsLost(f"The account may no longer open {mailbox}'s calendar ({rights.source}): {rights.fix}.")
    if error.write and not rights.write:
        return RightsLost(
            f"The account may only read {mailbox}'s calendar now ({rights.source}): the helpdesk's changes wait "
            f"until it may write there again; {rights.fix}."
        )
    return error


class UnreadableEntry(ProviderError):
    """One entry the external calendar sent cannot be read or held: malformed, of the wrong type,
    out of range. The message names the system and says what is wrong in plain words; the entry
    is left out whole (nothing of it is written), the rest of the calendar is unaffected."""


# --- why a server cannot be reached, in one plain sentence -----------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DNS_TEXT = (
    "failed to resolve",
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated",
    "unable to find the server",
)


def _error_chain(error: BaseException) -> list[BaseException]:
    """`error` and every error it wraps: causes, contexts, urllib3's `reason`, exceptions in args."""
    seen: list[BaseException] = []
    todo = [error]
    while todo and len(seen) < 30:
        current = todo.pop(0)
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
        todo = [item for item in todo if isinstance(item, BaseException)]
    return seen


def unreachable_reason(error: BaseException, address: str) -> str | None:
    """One plain sentence saying why the server at `address` (the URL called) could not be reached,
    or None when `error` is not about reaching it. Causes, read from the whole chain of wrapped
    errors (requests, urllib3, niquests, httplib2, exchangelib all wrap the socket's error):
    refused port (ECONNREFUSED), unknown host (getaddrinfo, RFC 6761's .invalid never resolves),
    TLS failure (ssl.SSLError: certificate not trusted, or no TLS on that port), no answer in time
    (socket timeout). No Python reprs or object addresses in the sentence."""
    import errno
    import socket
    import ssl
    from urllib.parse import urlsplit

    parts = urlsplit(address or "")
    host = parts.hostname or address or "the server"
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = None
    chain = _error_chain(error)
    text = " ".join(str(item) for item in chain).lower()
    names = " ".join(type(item).__name__ for item in chain).lower()

    def has(kind) -> bool:
        return any(isinstance(item, kind) for item in chain)

    refused = has(ConnectionRefusedError) or any(getattr(item, "errno", None) == errno.ECONNREFUSED for item in chain)
    if refused or "connection refused" in text or "[errno 111]" in text:
        where = f"port {port} of {host}" if port else host
        return (
            f"Nothing answers on {where}: the connection was refused; check the port in the address and that "
            "the server runs."
        )
    if has(socket.gaierror) or "nameresolution" in names or any(phrase in text for phrase in _DNS_TEXT):
        return f"The host name {host} was not found (DNS): check the server address."
    if has(ssl.SSLError) or "sslerror" in names or "ssl:" in text or "certificate verify failed" in text:
        if "certificate" in text:
            why = "its certificate is not trusted (self-signed, expired or for another name)"
        elif "wrong version number" in text or "record layer" in text or "unknown protocol" in text:
            why = "the server does not speak TLS on this port (try http:// or the TLS port)"
        else:
            why = "the TLS handshake failed"
        return f"The secure connection to {host} failed: {why}."
    if has(TimeoutError) or has(socket.timeout) or "timeout" in names or "timed out" in text:
        return f"{host} did not answer in time: check the address, or whether a firewall drops the connection."
    return None


# --- data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteCalendar:
    """Which calendar: the technician's mailbox (e-mail / principal) and the system's id for the calendar."""

    mailbox: str
    calendar_id: str


def connection_tested(account: str, then: str = "") -> str:
    """The one-line outcome of a connection test that worked, saying what was tested: `account`
    names who signed in where, e.g. "the connection's account 'helpdesk' on the CalDAV server
    https://dav.example.com/" (the connection's own account, service account or app, never the
    technician whose calendar was opened through it); `then` what was done through it, e.g.
    "through it, alice@example.com's calendar opens by impersonation"."""
    return f"Signed in as {account}; {then}." if then else f"Signed in as {account}."


@dataclass(frozen=True)
class NamedCalendar:
    """One calendar a provider listed, for `choose_calendar`: the name people see (display name,
    folder name), other names it answers to that are spelled by people (the last segment of its
    address), names that are matched exactly (its whole address), and its id."""

    name: str
    calendar_id: str
    aliases: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()


def choose_calendar(wanted: str, calendars: list[NamedCalendar], *, where: str) -> NamedCalendar:
    """The one calendar of `calendars` that the admin's `wanted` names: a calendar whose address
    (`exact`) is `wanted` as given, else the calendars whose name or an alias equals it ignoring
    case and surrounding blanks (Unicode case folding; Outlook and Exchange compare folder names
    so too, MS-OXWSFLDR). `where` says whose calendars were searched ("the account 'alice' on
    https://dav.example.com/"), for the message.

    Raises ConnectionProblem naming the calendars that exist when none matches, and naming the
    matches when several do (nothing is chosen for the admin)."""
    given = wanted.strip()
    for calendar in calendars:
        if given in calendar.exact:
            return calendar
    folded = given.casefold()
    found = [c for c in calendars if any(folded == n.strip().casefold() for n in (c.name, *c.aliases) if n)]
    if len(found) == 1:
        return found[0]
    if found:
        raise ConnectionProblem(
            f"{len(found)} calendars of {where} match {given!r} ({_names(found)}): give the one you mean by the last "
            "part of its address, or rename all but one."
        )
    if not calendars:
        raise ConnectionProblem(f"No calendar of {where} is called {given!r}: it has no calendar at all.")
    raise ConnectionProblem(
        f"No calendar of {where} is called {given!r}: its calendars are {_names(calendars)}. Give one of these "
        "names (case does not matter), or leave the name empty for the default calendar."
    )


def _names(calendars: list[NamedCalendar]) -> str:
    """'Work' (work), 'Home' (home): each calendar's name and, where it differs, its address's last part."""
    shown = []
    for calendar in calendars:
        alias = next((a for a in calendar.aliases if a and a != calendar.name), "")
        shown.append(f"{calendar.name!r} ({alias})" if alias else repr(calendar.name or alias))
    return ", ".join(shown)


@dataclass(frozen=True)
class RemoteRef:
    """Where our entry lives remotely and its version tag (etag, change key)."""

    remote_id: str
    version: str | None = None
    # The entry as written, in the system's own form (CalDAV: the iCalendar text we PUT), when the
    # system has one: the engine keeps it as the `base` of the next update.
    raw: str | None = None


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
    # This occurrence alone is marked private (CLASS:PRIVATE on a RECURRENCE-ID override, EWS
    # Sensitivity, Graph sensitivity, Google visibility on an exception): calendars.privacy.
    private: bool = False

    def own_text(self, name: str, series: RemoteEvent) -> str | None:
        """This occurrence's own value of a text field ("subject", "body" or "location"): None when
        it has none, or when it reads as the series' (`normalise_text`), i.e. it shows the series' text."""
        value = getattr(self, name)
        if value is None or normalise_text(value) == normalise_text(getattr(series, name)):
            return None
        return value


OCCURRENCE_TEXTS = ("subject", "body", "location")


def own_text_key(occurrence: RemoteOccurrence, series: RemoteEvent) -> tuple:
    """The occurrence's own texts (`RemoteOccurrence.own_text`) in a comparable form: two sides whose
    keys are equal show the same text on that occurrence."""
    key: list = []
    for name in OCCURRENCE_TEXTS:
        own = occurrence.own_text(name, series)
        key.append(None if own is None else normalise_text(own))
    return tuple(key)


def occurrence_texts_to_write(
    wanted: RemoteOccurrence, series: RemoteEvent, have: RemoteOccurrence | None
) -> dict[str, str]:
    """The text fields to write on one occurrence of `series` so that it shows what `wanted` holds,
    by name (OCCURRENCE_TEXTS); empty when its text is right already.

    `have`: the occurrence as last read (None: it holds no text of its own). Only an occurrence's own
    text is written: an exception of Exchange (EWS) and Microsoft 365 (Graph) keeps any text written
    on it as its own (MS-OXOCAL 2.2.1.44.2: the exception's override flags), so writing the series'
    text there would pin it, and a later rename of the series in Outlook would no longer reach that
    occurrence. The series' text is written only over an own text the occurrence no longer has
    (neither protocol can make an exception follow the series again)."""
    held = own_text_key(have, series) if have is not None else (None,) * len(OCCURRENCE_TEXTS)
    texts = {}
    for name, want, had in zip(OCCURRENCE_TEXTS, own_text_key(wanted, series), held, strict=True):
        if want != had:
            own = wanted.own_text(name, series)
            texts[name] = own if own is not None else getattr(series, name)
    return texts


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
    # The entry has an alarm that no "minutes before the start" says (one after the start, one at a
    # time of its own on a series, one of more than MAX_REMINDER_MINUTES): the person's own, so
    # `reminder_minutes` None is not "no reminder" and the helpdesk's reminder stays (SPEC S3.5).
    # Graph's reminderMinutesBeforeStart, Google's reminders.overrides[].minutes and EWS's
    # ReminderMinutesBeforeStart are always minutes before the start: only CalDAV sets it.
    reminder_kept: bool = field(default=False, compare=False)
    time_zone: str = "UTC"
    # A series whose VTIMEZONE no IANA zone matches (Outlook's "Customized Time Zone" blocks): that
    # block's text, the wall clock its rule repeats on (RFC 5545 3.3.10); `time_zone` is then "UTC",
    # what a system that takes only IANA zones gets (calendars.ical_zones.zone_from_block). "" else.
    zone_block: str = ""
    # Did the reader name a real zone for the start (an IANA zone, a Windows or Graph name it maps, a
    # VTIMEZONE an IANA zone matches, UTC written as such)? False when `time_zone` is only what it
    # fell back to: a floating time (no TZID), a TZID or zone name no table resolves (Graph's
    # "tzone://Microsoft/Custom", an EWS item exchangelib left without a zone), a series on its own
    # VTIMEZONE (`zone_block`), a date. The engine takes a pulled change of a series' zone only from a
    # named one (integrations.sync.inbound._new_series_zone). A reading mark: never compared.
    zone_named: bool = field(default=True, compare=False)
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
    # Plain sentences about what the helpdesk changed or doubted while reading the entry (a cut
    # text, a bounded series, an unknown time zone): logged with the import, never compared.
    notes: list[str] = field(default_factory=list, compare=False, repr=False)
    # On a create: the remote id of the entry this one stands in for, gone from the server (a change
    # beat its deletion), else None. A provider that de-duplicates creates by a client token (Graph's
    # transactionId) gives a re-create a token of its own; a retry of one create keeps its token.
    replaces: str | None = field(default=None, compare=False, repr=False)
    # The calendar's owner answered an invitation to this entry with "decline" and the entry stays
    # in their calendar, marked so: EWS MyResponseType "Decline" (MS-OXWS t:ResponseTypeType), Graph
    # responseStatus.response "declined", Google attendees[self].responseStatus "declined". They
    # do not take part: the engine reads it as gone from their calendar.
    declined: bool = field(default=False, compare=False)

    @property
    def is_recurring(self) -> bool:
        return bool(self.rrules)

    def trimmed(self) -> RemoteEvent:
        """The same event with untrusted text cut to the sizes we store (a long body ending with a
        note saying so), NUL characters (which PostgreSQL text cannot hold) dropped; raises
        UnreadableEntry when the event is not one the helpdesk can hold (see `check_event`)."""
        removed = _nul_count(self.subject, self.location, self.body)
        self.subject = _clean(self.subject)[:MAX_SUBJECT]
        self.location = _clean(self.location)[:MAX_LOCATION]
        body = _clean(self.body)
        if len(body) > MAX_BODY:
            body = cut_text(body, MAX_BODY)
            self.notes.append(cut_note(MAX_BODY))
        self.body = body
        for occurrence in self.overrides:
            if isinstance(occurrence, RemoteOccurrence):
                for name, limit in (("subject", MAX_SUBJECT), ("location", MAX_LOCATION), ("body", MAX_BODY)):
                    value = getattr(occurrence, name)
                    if value is not None:
                        removed += _nul_count(value)
                        setattr(occurrence, name, _clean(value)[:limit])
        if removed:
            self.notes.append(nul_note(removed))
        return check_event(self)


def _nul_count(*values: object) -> int:
    return sum(value.count("\x00") for value in values if isinstance(value, str))


def nul_note(removed: int) -> str:
    """The log line's sentence for NUL characters left out of an entry's text."""
    return f"{removed} character(s) the database cannot store (NUL) were left out of the entry's text."


def _clean(value: object) -> str:
    """Untrusted text as we store it: a str without NUL characters; UnreadableEntry for a non-text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UnreadableEntry(f"a text field holds {type(value).__name__}, not text")
    return value.replace("\x00", "")


def no_such_time(what: str, value: object) -> UnreadableEntry:
    """The refusal of a date or time value that names no day or time ("hour 25", "30 February"):
    RFC 5545 3.3.4/3.3.5 and RFC 3339 5.6 (hour 00-23, minute 00-59, a day the month has). `what`
    names the field (DTSTART, start); the value is quoted, cut to 40 characters."""
    return UnreadableEntry(f"its {what} {str(value)[:40]!r} is not a date or time that exists")


def read_iso(text: object, what: str, *, day: bool = False) -> datetime | date:
    """`text` as an ISO 8601 / RFC 3339 date-time (`day`: a date) by Python's fromisoformat; an
    aware datetime when it names an offset, else naive. Raises `no_such_time` for anything else
    (not text, or a time that does not exist), so the sync log names the bad value (trial 6)."""
    try:
        return date.fromisoformat(text) if day else datetime.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise no_such_time(what, text) from error


def _check_moment(value: object, what: str) -> None:
    if not isinstance(value, date):  # datetime is a date too
        raise UnreadableEntry(f"its {what} is {type(value).__name__}, not a date or a time")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise UnreadableEntry(f"its {what} ({value.isoformat()}) is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value.utcoffset()
        except (ValueError, TypeError, OverflowError) as error:
            raise UnreadableEntry(f"its {what} has an unusable time zone ({error})") from error


def _same_kind(start: object, end: object, what: str) -> None:
    """RFC 5545 3.8.2.2: DTEND has DTSTART's value type (DATE or DATE-TIME); instants are compared
    as instants, so a zoned and a floating time cannot both be read on one entry."""
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise UnreadableEntry(f"its {what} start and end are not both dates or both times")
    if isinstance(start, datetime) and (start.tzinfo is None) != (end.tzinfo is None):
        raise UnreadableEntry(f"its {what} start and end are not both zoned or both floating times")


def _check_rule(rule: object, start: datetime | date) -> None:
    """An RRULE value (RFC 5545 3.3.10) that dateutil reads from this start."""
    from dateutil.rrule import rrulestr

    if not isinstance(rule, str) or not rule.strip() or "\n" in rule or "\r" in rule:
        raise UnreadableEntry(f"its repeat rule {str(rule)[:80]!r} is not one RRULE value")
    first = start if isinstance(start, datetime) else datetime(start.year, start.month, start.day)
    text = rule.strip()
    text = text[6:] if text.upper().startswith("RRULE:") else text
    if "UNTIL=" in text.upper():
        first = first.replace(tzinfo=None)  # UNTIL's form is settled by the mapping; only the rule is read here
        text = ";".join(p for p in text.split(";") if not p.strip().upper().startswith("UNTIL="))
    try:
        rrulestr(text, dtstart=first)
        possible = gives_a_date(text)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        reason = str(error) or type(error).__name__
        raise UnreadableEntry(f"its repeat rule {rule[:80]!r} cannot be read ({reason})") from error
    if not possible:
        raise UnreadableEntry(f"its repeat rule {rule[:80]!r} never gives a date (such as a 30 February)")
    interval = re.search(r"(?:^|;)\s*INTERVAL\s*=\s*([^;]*)", text, re.I)
    if interval and not (is_whole_number(interval.group(1).strip()) and int(interval.group(1)) >= 1):
        # dateutil takes INTERVAL=0 and gives the same start for ever: every walk that collects
        # starts up to a bound, rather than a number of them, never ends.
        raise UnreadableEntry(f"its repeat rule {rule[:80]!r} has an INTERVAL that is not a positive whole number")


# The Gregorian calendar repeats itself every 400 years (146,097 days, a whole number of weeks):
# a day filter that matches no day in the last 400 years dateutil counts matches no day ever.
_CYCLE_START = datetime(9599, 1, 1)
_DAY_PARTS = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
_TIME_PARTS = {
    "DAILY": ("BYHOUR", "BYMINUTE", "BYSECOND"),
    "HOURLY": ("BYMINUTE", "BYSECOND"),
    "MINUTELY": ("BYSECOND",),
}


def gives_a_date(rule: str) -> bool:
    """Whether an RRULE value (RFC 5545 3.3.10, without "RRULE:") gives any start at all.

    dateutil walks a rule period by period and checks UNTIL only on a start it found, so a rule no
    day can meet (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) walks to the year 9999 wherever it is asked
    to stop: 17 s for DAILY, longer for finer ones. Its day filters are tried instead as a YEARLY
    rule over one 400-year cycle (at most 400 periods), and a BYSETPOS beyond every period's set
    is caught by counting the set (RFC 5545 3.3.10: BYSETPOS picks from the period's starts).
    Raises ValueError for a rule dateutil cannot read."""
    from dateutil.rrule import rrulestr

    parts = {key.strip().upper(): value.strip() for key, _, value in (p.partition("=") for p in rule.split(";"))}
    freq = parts.get("FREQ", "").upper()
    days = {key: parts[key] for key in _DAY_PARTS if key in parts}
    if freq not in ("MONTHLY", "YEARLY") and "BYDAY" in days:  # ordinals belong to MONTHLY and YEARLY only
        days["BYDAY"] = ",".join(day.lstrip("+-0123456789") for day in days["BYDAY"].split(","))
    elif freq == "MONTHLY" and "BYMONTH" not in days:  # ordinals count within the month, as in MONTHLY
        days["BYMONTH"] = "1,2,3,4,5,6,7,8,9,10,11,12"
    if days:
        yearly = "FREQ=YEARLY;" + ";".join(f"{key}={value}" for key, value in days.items())
        if next(iter(rrulestr(yearly, dtstart=_CYCLE_START)), None) is None:
            return False
    if "BYSETPOS" not in parts:
        return True
    positions = [abs(int(p)) for p in parts["BYSETPOS"].split(",") if p.strip()]
    if freq in _TIME_PARTS:  # one period is a day, hour or minute: its set is the times the rule names
        size = 1
        for key in _TIME_PARTS[freq]:
            size *= len([v for v in parts.get(key, "0").split(",") if v.strip()])
        return any(position <= size for position in positions)
    if freq == "SECONDLY":
        return 1 in positions
    # YEARLY, MONTHLY, WEEKLY: at most 20,871 periods in a cycle, walked once with INTERVAL=1.
    kept = ";".join(f"{key}={value}" for key, value in parts.items() if key not in ("COUNT", "UNTIL", "INTERVAL"))
    return next(iter(rrulestr(kept, dtstart=_CYCLE_START)), None) is not None


def check_event(event: RemoteEvent) -> RemoteEvent:
    """`event` when the helpdesk can hold it, else UnreadableEntry saying why (without the system's
    name: `reads_untrusted` adds it). Checked: start/end of one kind (RFC 5545 3.8.2.2) within
    EARLIEST_YEAR..LATEST_YEAR, as are cancelled and extra starts and moved occurrences; texts are
    text; each rule one RRULE value dateutil reads; ids and version tags short text. A reminder
    the helpdesk cannot hold (not a whole number of minutes in 0..MAX_REMINDER_MINUTES) is
    dropped, the entry kept: it only ever reminds."""
    _check_moment(event.start, "start")
    _check_moment(event.end, "end")
    _same_kind(event.start, event.end, "")
    for name in ("subject", "body", "location", "time_zone"):
        if not isinstance(getattr(event, name), str):
            raise UnreadableEntry(f"its {name.replace('_', ' ')} is not text")
    for name, limit in (("marker", MAX_ID), ("remote_id", MAX_ID), ("version", MAX_VERSION)):
        value = getattr(event, name)
        if value is not None and (not isinstance(value, str) or len(value) > limit or "\x00" in value):
            raise UnreadableEntry(f"its {name.replace('_', ' ')} is not text of at most {limit} characters")
    minutes = event.reminder_minutes
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_REMINDER_MINUTES
    ):
        event.reminder_minutes = None
        event.reminder_kept = True  # an alarm all the same: not "no reminder"
    for value in [*event.exdates, *event.rdates]:
        _check_moment(value, "cancelled or extra start")
    for occurrence in event.overrides:
        if not isinstance(occurrence, RemoteOccurrence):
            raise UnreadableEntry("a moved occurrence is unreadable")
        _check_moment(occurrence.original_start, "moved occurrence's original start")
        _check_moment(occurrence.start, "moved occurrence's start")
        _check_moment(occurrence.end, "moved occurrence's end")
        _same_kind(occurrence.start, occurrence.end, "moved occurrence's")
    for rule in event.rrules:
        _check_rule(rule, event.start)
    return event


P = ParamSpec("P")
R = TypeVar("R")

# What reading malformed input raises in Python and in the client libraries we parse with
# (icalendar, exchangelib, dateutil, zoneinfo): all of them mean "this entry cannot be read".
# zoneinfo opens a file named by the zone text: an overlong name raises OSError (ENAMETOOLONG).
_READ_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, ArithmeticError, OSError)


# How each format marks an entry private (RFC 5545 3.8.1.3 CLASS, EWS Sensitivity, Graph
# `sensitivity`, Google `visibility`), looked for in the raw payload of an entry that cannot be read.
_PRIVATE_IN_TEXT = re.compile(
    rb"^CLASS:(PRIVATE|CONFIDENTIAL)\s*$|<t:Sensitivity>\s*(Private|Confidential)\s*<", re.IGNORECASE | re.MULTILINE
)
_PRIVATE_VALUES = {"private", "confidential"}


def refuse_own_zone(event: RemoteEvent, system: str) -> None:
    """Raise ProviderError when a series repeats on its organiser's own VTIMEZONE (`event.zone_block`,
    one no IANA zone matches) and `system` takes only IANA or Windows zone names (Microsoft 365,
    Exchange, Google). Written on UTC or on the nearest zone, its occurrences after that zone's clock
    changes would be an hour off there, and the helpdesk's cancels and moves (named on the zone's
    clock, RFC 5545 3.8.5.1, 3.8.4.4) would name instances that calendar does not have: cancels lost,
    moves doubled. So the write is refused with a message for the sync log and nothing changes on
    either side; the series stays in the helpdesk and in the CalDAV calendar it came from."""
    if event.is_recurring and event.zone_block:
        from calendars.ical_zones import block_tzid

        name = _clean(block_tzid(event.zone_block) or "").strip()[:80]
        raise ProviderError(
            f"{system} cannot hold a series that repeats on its organiser's own time zone “{name}”: no IANA or "
            "Windows zone has its offsets, so its times there would be an hour off after that zone's clock "
            "changes. The series was not written there; it stays in the helpdesk and its own calendar."
        )


def refuse_extra_dates(event: RemoteEvent, system: str) -> None:
    """Raise ProviderError when a series carries extra starts (RFC 5545 RDATE, `event.rdates`) that
    `system` cannot hold: Microsoft's recurrence (Graph patternedRecurrence, EWS Recurrence) is one
    pattern and a range, with no list of extra dates. Writing the series without them would drop
    the user's occurrences in that calendar silently, so the write is refused with a message for
    the sync log instead and nothing changes on either side."""
    if event.is_recurring and event.rdates:
        count = len(event.rdates)
        raise ProviderError(
            f"{system} cannot hold a series with extra dates (RDATE: {count} date{'s' if count != 1 else ''}"
            " besides the repeat rule); the series was not written there. Make the extra dates"
            " appointments of their own to see them in that calendar."
        )


# Graph's id form of an extended property ("Get singleValueLegacyExtendedProperty": the type, then a
# property set GUID with a Name or an Id, or a proptag alone); EWS names the same MAPI property by the
# same parts (MS-OXWSCORE t:ExtendedFieldURI).
_PROPERTY_ID = re.compile(
    r"^(?P<type>[A-Za-z]+)\s+(?:\{(?P<set>[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})\}\s+"
    r"(?:Name\s+(?P<name>\S(?:.*\S)?)|Id\s+(?P<number>0x[0-9A-Fa-f]{1,8}))|(?P<tag>0x[0-9A-Fa-f]{1,4}))$"
)


@dataclass(frozen=True)
class KeptProperty:
    """An extended property of another tool that a split's new half keeps (`kept_properties`).
    `id`: Graph's id form; `type`: its MAPI type as Graph and EWS spell it ("String", "StringArray",
    "Integer", "Binary", "SystemTime", ...); then either `property_set` (a GUID) with `name` or
    `number`, or `tag` alone (a proptag number)."""

    id: str
    type: str
    property_set: str | None = None
    name: str | None = None
    number: int | None = None
    tag: int | None = None

    @property
    def multi(self) -> bool:
        """A multi-valued property (Graph multiValueExtendedProperties, EWS t:Values)."""
        return self.type.endswith("Array")


class KeptPropertiesRefused(ProviderError, ImproperlyConfigured):
    """SYNC_KEPT_EXTENDED_PROPERTIES names a value the helpdesk cannot keep (`kept_properties`): an
    ImproperlyConfigured for the system check (manage.py check), and a ProviderError for a worker,
    which runs no check, so the sync log shows it per calendar and the value is never used."""


# Our marker's property set (graph.mapping.MARKER_PROPERTY_ID, exchange.mapping.HelpdeskLinkId): the
# new half gets its own marker, never the old one's.
OWN_PROPERTY_SET = "4a3b7c2e-5d1f-4e8a-9b6c-0f2d8e7a1c55"

# Property sets whose properties Outlook and Exchange own, most of them behind an event's first-class
# fields (subject, start, recurrence, time zones, reminders, meeting state) [MS-OXPROPS]; Graph's
# "Outlook extended properties overview" says not to use extended properties for such data.
_OWNED_SETS = {
    "00062002-0000-0000-c000-000000000046": "PSETID_Appointment",
    "6ed8da90-450b-101b-98da-00aa003f1305": "PSETID_Meeting",
    "00062008-0000-0000-c000-000000000046": "PSETID_Common",
    OWN_PROPERTY_SET: "the helpdesk's own marker",
}

# Proptags [MS-OXPROPS] of what an event exposes as first-class fields or Exchange itself maintains.
_OWNED_TAGS = {
    0x0017: "PidTagImportance",
    0x001A: "PidTagMessageClass",
    0x0036: "PidTagSensitivity",
    0x0037: "PidTagSubject",
    0x003D: "PidTagSubjectPrefix",
    0x0042: "PidTagSentRepresentingName",
    0x0049: "PidTagOriginalSubject",
    0x0060: "PidTagStartDate",
    0x0061: "PidTagEndDate",
    0x0070: "PidTagConversationTopic",
    0x0E04: "PidTagDisplayTo",
    0x0E07: "PidTagMessageFlags",
    0x0E1D: "PidTagNormalizedSubject",
    0x0FF9: "PidTagRecordKey",
    0x0FFF: "PidTagEntryId",
    0x1000: "PidTagBody",
    0x1009: "PidTagRtfCompressed",
    0x1013: "PidTagBodyHtml",
    0x1016: "PidTagNativeBody",
    0x1035: "PidTagInternetMessageId",
    0x3007: "PidTagCreationTime",
    0x3008: "PidTagLastModificationTime",
    0x300B: "PidTagSearchKey",
    0x65E0: "PidTagSourceKey",
    0x65E2: "PidTagChangeKey",
    0x65E3: "PidTagPredecessorChangeList",
}

# PS_PUBLIC_STRINGS' Keywords is an event's categories (first-class on Graph and EWS).
_OWNED_NAMES = {("00020329-0000-0000-c000-000000000046", "keywords"): "PidNameKeywords (the categories)"}

_EXAMPLES = '("String {guid} Name CrmCaseId", "StringArray {guid} Name Tags", "Integer {guid} Id 0x1234")'


def _property_types() -> dict[str, str]:
    """The MAPI type names Graph and exchangelib share, by their lower case: {lower: as written}.
    Graph writes them capitalised ("String", "StringArray", "Integer", "SystemTime"; "Extended
    properties overview"), exchangelib compares them case-sensitively."""
    from exchangelib.extended_properties import ExtendedProperty

    return {name.lower(): name for name in ExtendedProperty.PROPERTY_TYPES}


def _refused(text: str, why: str) -> KeptPropertiesRefused:
    return KeptPropertiesRefused(f"SYNC_KEPT_EXTENDED_PROPERTIES: {text!r} {why}")


@functools.lru_cache(maxsize=8)
def _parsed(texts: tuple[str, ...]) -> tuple[KeptProperty, ...]:
    """`kept_properties` for one value of the setting, validated once per process (a failure is not
    cached: it is raised again at each read)."""
    types = _property_types()
    found = []
    for text in texts:
        match = _PROPERTY_ID.match(text)
        if match is None:
            raise _refused(text, f"is not an extended property id as Microsoft Graph writes it {_EXAMPLES}.")
        kind = types.get(match["type"].lower())
        if kind is None:
            raise _refused(
                text,
                f"has the type {match['type']!r}, which is no MAPI type Graph and EWS share "
                f"({', '.join(sorted(types.values()))}).",
            )
        tag = int(match["tag"], 16) if match["tag"] else None
        if tag is not None and not 0 < tag < 0x8000:
            raise _refused(
                text,
                f"names the proptag 0x{tag:04X}, which is no property's own tag: tags from 0x8000 are named "
                "properties', named by their property set GUID with a Name or an Id; 0x0000 is none.",
            )
        prop_set = match["set"].lower() if match["set"] else None
        owner = (
            _OWNED_TAGS.get(tag)
            if tag is not None
            else _OWNED_SETS.get(prop_set) or _OWNED_NAMES.get((prop_set, (match["name"] or "").lower()))
        )
        if owner:
            raise _refused(
                text,
                f"is {owner}, which the helpdesk or Exchange owns: kept from the old series it would overwrite "
                'what the new half is given (Graph\'s "Outlook extended properties overview": extended '
                "properties are not for data exposed as first-class properties). Name only another tool's own "
                "properties, in its own property set.",
            )
        found.append(
            KeptProperty(
                id=kind + text[len(match["type"]) :],  # Graph's own spelling of the type
                type=kind,
                property_set=prop_set,
                name=match["name"],
                number=int(match["number"], 16) if match["number"] else None,
                tag=tag,
            )
        )
    return tuple(found)


def kept_properties() -> tuple[KeptProperty, ...]:
    """The other tools' extended properties named in SYNC_KEPT_EXTENDED_PROPERTIES (Graph's id form;
    the type's case as Graph writes it). Neither Graph nor EWS lists an entry's extended properties,
    so only named ones can be read and kept. Raises KeptPropertiesRefused (an ImproperlyConfigured
    and a ProviderError) naming the value for one not in that form, of a type Graph and EWS do not
    share, a proptag at or above 0x8000 (a named property's range), or a property the helpdesk or
    Exchange owns (`_OWNED_TAGS`, `_OWNED_SETS`, `_OWNED_NAMES`, our own marker's set)."""
    from django.conf import settings

    texts = (" ".join(str(text).split()) for text in getattr(settings, "SYNC_KEPT_EXTENDED_PROPERTIES", ()) or ())
    return _parsed(tuple(text for text in texts if text))


def json_template(raw: str | None) -> dict:
    """The JSON object a create starts from (`RemoteEvent.raw` on a create: the entry of the series a
    "this and following" split ended, as last read, on Google and Microsoft 365); {} for none or for
    text that is no JSON object. Never raises."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def marks_private(raw: object) -> bool:
    """Whether a raw entry (iCalendar or EWS XML text, a Graph or Google JSON object, a list of
    them, an exchangelib item) says anywhere that it is private. Read even where the entry as a
    whole cannot be: the reason it cannot be read must not show a private entry's text."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    if isinstance(raw, bytes):
        return _PRIVATE_IN_TEXT.search(raw) is not None
    if isinstance(raw, dict):  # only a text value marks it: no str() of whatever else a hostile entry sends there
        values = (raw.get("sensitivity"), raw.get("visibility"))
        return any(isinstance(value, str) and value.strip().lower() in _PRIVATE_VALUES for value in values)
    if isinstance(raw, list | tuple):
        return any(marks_private(part) for part in raw[:1000])
    sensitivity = getattr(raw, "sensitivity", None)
    return isinstance(sensitivity, str) and sensitivity.lower() in _PRIVATE_VALUES


def reads_untrusted(system: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a provider's parser of one entry (answer -> RemoteEvent): any error reading the
    untrusted input comes out as UnreadableEntry "<system> sent an entry the helpdesk cannot read
    (<id>): <why>", never as a Python error; ProviderErrors the parser raises itself pass with
    the system's name put in front of an UnreadableEntry's message. For an entry marked private
    the reason names no part of it (a library's message may quote the line it could not read)."""

    def decorate(parse: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(parse)
        def read(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return parse(*args, **kwargs)
            except UnreadableEntry as error:
                if marks_private(args[:2]):
                    raise UnreadableEntry(_private_unreadable(system)) from error
                if str(error).startswith(system):  # named already by an inner parser
                    raise
                raise UnreadableEntry(f"{system} sent an entry the helpdesk cannot read: {error}") from error
            except ProviderError:
                raise
            except _READ_ERRORS as error:
                if marks_private(args[:2]):
                    raise UnreadableEntry(_private_unreadable(system)) from error
                reason = str(error)[:200] or type(error).__name__
                raise UnreadableEntry(f"{system} sent an entry the helpdesk cannot read: {reason}") from error
            except RecursionError as error:
                raise UnreadableEntry(f"{system} sent an entry nested too deeply to read") from error

        return read

    return decorate


def _private_unreadable(system: str) -> str:
    return (
        f"{system} sent a private entry the helpdesk cannot read (the reason is not shown: it would "
        "quote the entry); open it in the external calendar and save it again."
    )


@dataclass
class ChangePage:
    """What changed since a token, or (full=True) everything in the window.

    `deleted` holds remote ids. On a full listing, an id we know that is missing from `changed`
    counts as deleted, subject to the engine's safety rule against empty answers. `unchanged` holds
    remote ids the server reported as changed whose version tag is the one the engine already
    holds (`known_versions`), so they were not read again (our own writes coming back).
    """

    changed: list[RemoteEvent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    next_token: str | None = None
    full: bool = False
    # Entries listed that could not be read (remote id -> the UnreadableEntry's plain reason): the
    # engine logs each by its id and reads it again at the next pull; the rest of the page stands.
    unreadable: dict[str, str] = field(default_factory=dict)


class CalendarProvider(Protocol):
    def test_connection(self, mailbox: str | None = None) -> str:
        """A one-line description of what works; raises ConnectionProblem saying what does not."""

    def find_calendar(self, mailbox: str, name: str | None = None) -> RemoteCalendar:
        """The technician's default calendar, or the one named; ConnectionProblem if none."""

    def list_changes(
        self,
        calendar: RemoteCalendar,
        token: str | None,
        window: Window,
        *,
        known_versions: Mapping[str, str] | None = None,
        known_series: Collection[str] | None = None,
    ) -> ChangePage:
        """Changes since `token` with the system's incremental mechanism; with no token, a full
        listing of the window. Raises SyncTokenExpired when the server refuses the token.

        `known_versions` (remote id -> version tag the engine holds): a system whose change report
        carries version tags (CalDAV sync-collection's getetag, RFC 6578 section 3.2) need not read
        an entry whose tag is the known one; it lists the id in `ChangePage.unchanged` instead.
        `known_series`: of those, the ones that are (or may be) recurring series; a system that
        reports an occurrence's removal without its series (Graph calendarView delta) asks only
        these whether they changed. None: any of them may be."""

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

    def get(self, calendar: RemoteCalendar, ref: RemoteRef, window: Window | None = None) -> RemoteEvent | None:
        """The entry as the server holds it now, or None when it is gone: in the same shape as
        `list_changes` gives it over `window` (a series with its rule, cancelled occurrences and
        exceptions, never its master alone), so that the engine can plan with it as with a listed
        entry. Servers that hold a series whole (CalDAV, EWS, Google) need no window."""

    def find_by_marker(self, calendar: RemoteCalendar, marker: str, window: Window | None = None) -> RemoteEvent | None:
        """The entry that carries our `marker` (as `get` gives it), wherever its start is, or None
        when the calendar holds none: how a create whose answer was lost is found again when no
        listing of the import window can show it (CalDAV: its UID; EWS, Graph: our extended
        property; Google: the event id derived from the marker)."""

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        """Delete the entry; an entry that is already gone counts as deleted."""

    def rights(self, calendar: RemoteCalendar) -> CalendarRights:
        """The connection's effective rights on the calendar now, asked of the server in one request;
        a calendar the account can no longer see at all has neither right. What the engine asks
        once a run after an EntryRefused (`judge_refusal`). Raises ProviderError when the server
        cannot be asked (unreachable, busy)."""


@dataclass(frozen=True)
class BulkOp:
    """One write of a batch: "create" (event), "update" (ref, event, base) or "delete" (ref)."""

    kind: str
    event: RemoteEvent | None = None
    ref: RemoteRef | None = None
    base: RemoteEvent | None = None


@dataclass(frozen=True)
class BulkResult:
    """What became of one BulkOp: the entry's new ref (create, update), or the error that item alone
    met (VersionConflict, RemoteNotFound, TransientError with its retry_after, ...); a delete of an
    entry already gone is a success."""

    ref: RemoteRef | None = None
    error: ProviderError | None = None


class BulkCalendarProvider(CalendarProvider, Protocol):
    """A system that takes many writes in one request (Graph $batch of 20, Google batch of 50, EWS
    CreateItem/UpdateItem/DeleteItem with many items). The engine sends at most `max_batch` ops
    a call; a provider without `apply_bulk` gets one call per item."""

    max_batch: int

    def apply_bulk(self, calendar: RemoteCalendar, ops: list[BulkOp]) -> list[BulkResult]:
        """One result per op, in the same order; a failure of one item fails that item only. An error
        of the whole request (auth, unreachable) is raised as for a single call."""


# --- the one retry policy for every external call -------------------------------------------

T = TypeVar("T")

# Longest wait a policy sleeps through in the worker; a longer one is left to a later run.
DEFAULT_MAX_INLINE_WAIT = 5.0


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP Retry-After value (RFC 9110 section 10.2.3): either
    delay-seconds ("120") or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT", counted from `now`,
    UTC, default the current time). None when the value is missing or unreadable; a date in the
    past gives 0. Graph and Google send the same header on 429 and 503."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if is_whole_number(text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less form is read as such
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _server_hint(state: tenacity.RetryCallState) -> float | None:
    """The wait the server asked for with the last failure (TransientError.retry_after), if any."""
    error = state.outcome.exception() if state.outcome is not None else None
    hint = getattr(error, "retry_after", None)
    return float(hint) if hint else None


@dataclass(frozen=True)
class RetryPolicy:
    """The one back-off policy every connector runs its calls under, built on tenacity.

    A TransientError is retried up to `attempts` calls in all. The wait before the next try is
    the server's own hint when the error carries one (TransientError.retry_after, in seconds:
    HTTP Retry-After on 429/503, EWS ErrorServerBusy BackOffMilliseconds, Graph's and
    Google's Retry-After), honoured in full and never cut short by `max_delay`; without a hint it
    is exponential back-off with full jitter: uniform(0, min(max_delay, base_delay * 2**(n-1)))
    seconds before try n+1 (AWS architecture blog, "Exponential Backoff And Jitter").

    A hinted wait longer than `max_inline_wait` seconds is not slept: the error is raised at
    once, still carrying its retry_after, so the caller reschedules the item or the calendar
    that much later and no worker is held asleep. When the tries run out the last error is
    raised the same way. Other errors are raised unchanged at once. `sleep` (seconds) is where
    the waits go; tests pass a recorder.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_inline_wait: float = DEFAULT_MAX_INLINE_WAIT
    sleep: Callable[[float], None] = time.sleep

    def _wait(self, state: tenacity.RetryCallState) -> float:
        hint = _server_hint(state)
        if hint is not None:
            return hint
        return self._jitter(state)

    @property
    def _jitter(self) -> tenacity.wait.wait_base:
        return tenacity.wait_random_exponential(multiplier=self.base_delay, max=self.max_delay)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.attempts:
            return True
        hint = _server_hint(state)
        return hint is not None and hint > self.max_inline_wait

    @staticmethod
    def _log(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0
        logger.info("Transient error (%s); retry %d in %.2f s", error, state.attempt_number, wait)

    def call(self, fn: Callable[[], T]) -> T:
        """fn() under this policy: its result, or the error that ended the tries (see the class)."""
        retrying = tenacity.Retrying(
            sleep=self.sleep,
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(TransientError),
            before_sleep=self._log,
            reraise=True,
        )
        return retrying(fn)


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    max_inline_wait: float = DEFAULT_MAX_INLINE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """call() under a RetryPolicy with these values (seconds); see RetryPolicy for what is retried,
    how long each wait is, and what is raised."""
    policy = RetryPolicy(
        attempts=attempts, base_delay=base_delay, max_delay=max_delay, max_inline_wait=max_inline_wait, sleep=sleep
    )
    return policy.call(call)


def on_entry_zone(event: RemoteEvent, base: RemoteEvent | None) -> RemoteEvent:
    """`event` (the helpdesk's side of an entry, written over `base`, the entry as last read) on
    `base`'s own zone when both are single timed entries and the reader named that zone
    (`RemoteEvent.zone_named`: Google's start.timeZone, Graph's and EWS's start zone): the helpdesk
    owns the instants of a single entry, not the zone its organiser wrote it in, so a moved entry
    goes back on its own zone (and the same instants on it are no change to write). The zone name
    is the tz database's canonical one (`times.canonical_zone_name`: never a "backward" alias such
    as "US/Eastern"). A series keeps the zone the helpdesk stores for it. Returns `event` or a copy."""
    import dataclasses

    from calendars.times import canonical_zone_name

    single = base is not None and not (event.is_recurring or base.is_recurring or event.all_day or base.all_day)
    if not single or not base.zone_named or not isinstance(base.start, datetime) or not base.time_zone:
        return event
    zone = canonical_zone_name(base.time_zone)
    return event if zone == event.time_zone else dataclasses.replace(event, time_zone=zone)
