"""What one external entry may cost, applied to every RemoteEvent before the helpdesk writes it.

Every connector (CalDAV, Exchange, Microsoft 365, Google) hands the engine RemoteEvents; the
engine passes each one through `bound_event` as it is read, so the rules hold at one depth for
all of them. The rules only shape what the helpdesk stores: the external calendar keeps its
entry untouched (the engine records what it read and what it stored side by side, so a bounded
series or a cut text is never written back unless someone edits it in the helpdesk).

The limits are settings with safe defaults (helpdesk/settings.py):

- SYNC_MAX_OCCURRENCES_PER_SERIES (1000): a rule finer than daily (RFC 5545 3.3.10 FREQ
  SECONDLY, MINUTELY, HOURLY) or with a COUNT beyond it is stored as its first that many
  occurrences (COUNT=N); a rule's own smaller end is kept. Extra starts (RDATE), cancelled ones
  (EXDATE) and moved ones (RECURRENCE-ID) are cut to as many.
- SYNC_MAX_OCCURRENCES_PER_SYNC (20000): occurrences one sync may make; a series beyond it waits
  for the next pull (the engine counts, `occurrence_budget`).
- SYNC_MAX_BODY_CHARS (20000): a longer description is cut, with a note saying so.
- SYNC_MAX_OBJECT_BYTES (10 MiB): an entry whose object is larger is not imported
  (`EntryTooLarge`, with a plain reason).

Text PostgreSQL refuses (NUL, U+0000, and lone surrogates, which UTF-8 cannot hold) is removed
from every text, so neither the entry's write nor its log line can fail on it.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from calendars.rule_parts import rule_text_parts
from helpdesk.parsing import is_whole_number
from integrations.providers.base import MAX_BODY, RemoteEvent, cut_note, cut_text, nul_note

# RFC 5545 3.3.10: frequencies finer than a day.
FINE_FREQUENCIES = {"SECONDLY", "MINUTELY", "HOURLY"}
# NUL (PostgreSQL text cannot hold it) and lone UTF-16 surrogates (not encodable as UTF-8).
_REFUSED = re.compile("[\x00\ud800-\udfff]")


class EntryTooLarge(ValueError):
    """An external entry larger than SYNC_MAX_OBJECT_BYTES: not imported, the reason says why."""


def occurrences_per_series() -> int:
    return max(1, int(getattr(settings, "SYNC_MAX_OCCURRENCES_PER_SERIES", 1000)))


def occurrence_budget() -> int:
    """Occurrence rows one sync of one calendar may make (SYNC_MAX_OCCURRENCES_PER_SYNC)."""
    return max(1, int(getattr(settings, "SYNC_MAX_OCCURRENCES_PER_SYNC", 20_000)))


def clean_text(value: str | None) -> str:
    """`value` without the characters a database refuses (NUL, lone surrogates); "" for None."""
    return _REFUSED.sub("", value or "")


def name_of(event: RemoteEvent) -> str:
    """How a log line names an entry: its subject ("(private)" for a private one) and its id."""
    subject = "(private)" if event.private else (clean_text(event.subject).strip()[:80] or "(no subject)")
    return f"“{subject}” ({clean_text(event.remote_id or event.marker or 'no id')[:120]})"


def bound_event(event: RemoteEvent) -> RemoteEvent:
    """Apply the limits to `event` in place and return it; each limit that changed something adds a
    plain sentence to `event.notes`. Deterministic in the event alone (no clock), so the same
    remote entry always gives the same stored form and the same content hash.

    Raises EntryTooLarge for an object beyond SYNC_MAX_OBJECT_BYTES.
    """
    max_bytes = int(getattr(settings, "SYNC_MAX_OBJECT_BYTES", 10 * 1024 * 1024))
    size = len(event.raw.encode("utf-8", "surrogatepass")) if event.raw else 0
    if size > max_bytes:
        raise EntryTooLarge(
            f"The entry {name_of(event)} is {size / 1_048_576:.1f} MiB, more than the "
            f"{max_bytes / 1_048_576:.1f} MiB the helpdesk imports (SYNC_MAX_OBJECT_BYTES); it stays "
            "in the external calendar only."
        )
    _clean_texts(event)
    _cut_body(event)
    _bound_series(event)
    _check_span(event)
    _note_date_until(event)
    return event


_DATE_UNTIL = re.compile(r"(?:^|;)\s*UNTIL=(\d{8})\s*(?:;|$)", re.IGNORECASE)


def _note_date_until(event: RemoteEvent) -> None:
    """A timed series whose RRULE ends on a date (UNTIL=20270329): RFC 5545 3.3.10 wants UNTIL of
    DTSTART's type, but some clients write it. The helpdesk reads it as that day's midnight, as
    dateutil and recurring-ical-events do (`calendars.times.rule_starts`), so that day has no
    occurrence; the log says so. The rule's text on the server is left as the client wrote it."""
    if not isinstance(event.start, datetime):
        return
    for rule in event.rrules:
        found = _DATE_UNTIL.search(rule)
        if found:
            day = datetime.strptime(found.group(1), "%Y%m%d").date()
            event.notes.append(
                f"The series starts at a time but its rule ends on a date (UNTIL={found.group(1)}), which "
                f"RFC 5545 does not allow; it is read as the start of {day.isoformat()} on the series' clock, "
                f"as other calendar programs read it, so the series has no occurrence on {day.isoformat()}."
            )
            return


def _clean_texts(event: RemoteEvent) -> None:
    removed = 0
    for holder in (event, *event.overrides):
        for name in ("subject", "body", "location"):
            value = getattr(holder, name)
            if value:
                cleaned = clean_text(value)
                removed += len(value) - len(cleaned)
                setattr(holder, name, cleaned)
    if event.raw and _REFUSED.search(event.raw):
        event.raw = clean_text(event.raw)  # kept for merge updates; the database cannot hold NUL either
    if removed:
        event.notes.append(nul_note(removed))


def _cut_body(event: RemoteEvent) -> None:
    limit = int(getattr(settings, "SYNC_MAX_BODY_CHARS", MAX_BODY))
    cut = False
    for holder in (event, *event.overrides):
        if holder.body and len(holder.body) > limit:
            holder.body, cut = cut_text(holder.body, limit), True
    if cut:
        event.notes.append(cut_note(limit))


def _first_starts(event: RemoteEvent, rule: str, limit: int) -> int | None:
    """How many starts (up to limit + 1) the rule gives from the entry's start; None when dateutil
    cannot expand it (the calendar's own validation then says why)."""
    from dateutil.rrule import rrulestr

    start = event.start
    if isinstance(start, datetime):
        try:
            first = start.astimezone(ZoneInfo(event.time_zone)) if start.tzinfo and event.time_zone else start
        except (ZoneInfoNotFoundError, ValueError):
            first = start
    else:
        first = datetime.combine(start, datetime.min.time())
    until_fixed = rule
    if first.tzinfo is None:  # dateutil wants UNTIL without a zone on a floating start
        until_fixed = re.sub(r"(UNTIL=\d{8}T\d{6})Z", r"\1", rule, flags=re.IGNORECASE)
    elif re.search(r"UNTIL=\d{8}(;|$)", rule, flags=re.IGNORECASE):
        until_fixed = re.sub(r"(UNTIL=\d{8})(;|$)", r"\1T235959Z\2", rule, flags=re.IGNORECASE)
    elif re.search(r"UNTIL=\d{8}T\d{6}(;|$)", rule, flags=re.IGNORECASE):
        until_fixed = re.sub(r"(UNTIL=\d{8}T\d{6})(;|$)", r"\1Z\2", rule, flags=re.IGNORECASE)
    try:
        return sum(1 for _ in itertools.islice(rrulestr(until_fixed, dtstart=first), limit + 1))
    except (ValueError, TypeError, OverflowError):
        return None


def _bound_series(event: RemoteEvent) -> None:
    if not event.rrules:
        return
    limit = occurrences_per_series()
    per_rule = max(1, limit // len(event.rrules))
    bounded = []
    for rule in event.rrules:
        parts = rule_text_parts(rule)
        values = dict(parts)
        freq = values.get("FREQ", "")
        count = int(values["COUNT"]) if is_whole_number(values.get("COUNT", "")) else None
        needs_bound = False
        if count is not None:
            needs_bound = count > per_rule
        elif freq in FINE_FREQUENCIES:
            # An endless rule, or one with UNTIL: bound it when it gives more than the limit.
            needs_bound = "UNTIL" not in values or (_first_starts(event, rule, per_rule) or 0) > per_rule
        if needs_bound:
            kept = [(name, value) for name, value in parts if name not in ("COUNT", "UNTIL")]
            rule = ";".join(f"{name}={value}" for name, value in [*kept, ("COUNT", str(per_rule))])
            how = f"FREQ={freq}" if freq in FINE_FREQUENCIES and count is None else f"COUNT={count}"
            event.notes.append(
                f"The series repeats without a useful end ({how}); it is kept as its first {per_rule} "
                "occurrences (SYNC_MAX_OCCURRENCES_PER_SERIES). The external calendar keeps the whole series."
            )
        bounded.append(rule)
    event.rrules = bounded
    for name in ("rdates", "exdates", "overrides"):
        values = getattr(event, name)
        if len(values) > limit:
            setattr(event, name, values[:limit])
            event.notes.append(f"The series has {len(values)} {_WORDS[name]}; the first {limit} are kept.")


_WORDS = {"rdates": "extra dates (RDATE)", "exdates": "cancelled dates (EXDATE)", "overrides": "changed occurrences"}


def _check_span(event: RemoteEvent) -> None:
    start, end = event.start, event.end
    if isinstance(start, datetime) != isinstance(end, datetime):
        return
    first, last = start, end
    if isinstance(start, datetime) and start.tzinfo is not None and end.tzinfo is not None:
        # As instants: one zone's times compare by wall clock, and a start in the spring-forward gap
        # is the instant after it (RFC 5545 3.3.5), so 02:30-03:30 that day has no length (trial F2).
        first, last = start.astimezone(UTC), end.astimezone(UTC)
    try:
        backwards = last < first
    except TypeError:  # one floating, one zoned: nothing to compare
        return
    if last == first and isinstance(start, datetime) and _nonexistent(start):
        event.notes.append(
            f"The entry starts at {_wall(start)}, a time that does not exist that day (clocks go forward), which "
            f"reads as {_wall(first.astimezone(start.tzinfo))}, when it ends: no length; it is kept as 1 minute."
        )
    elif backwards:
        shown = "1 minute" if isinstance(start, datetime) else "1 day"
        event.notes.append(f"The entry ends ({_text(end)}) before it starts ({_text(start)}); it is kept as {shown}.")
    elif last == first and isinstance(start, datetime):
        # RFC 5545 3.6.1 allows it (a VEVENT of no length); an appointment here always has a length.
        event.notes.append(f"The entry starts and ends at {_text(start)} (no length); it is kept as 1 minute.")
    elif end == start:
        # RFC 5545 3.8.2.2: DTEND is later than DTSTART. A server that could not read a time (hour 25)
        # may have kept only its date, on both (Radicale through vobject does, trial 6).
        event.notes.append(
            f"The all-day entry ends on the day it starts ({_text(start)}), which names no day: it is kept as "
            "1 day. The calendar server may have kept only the date of a time it could not read."
        )


def _nonexistent(value: datetime) -> bool:
    """A zoned wall-clock time the clocks skip (spring forward): the round trip through UTC moves it."""
    if value.tzinfo is None:
        return False
    return value.astimezone(UTC).astimezone(value.tzinfo).replace(tzinfo=None) != value.replace(tzinfo=None)


def _wall(value: datetime) -> str:
    zone = getattr(value.tzinfo, "key", None) or str(value.tzinfo)
    return f"{value:%H:%M} on {value:%Y-%m-%d} in {zone}"


def _text(value: datetime | date) -> str:
    return value.isoformat(sep=" ", timespec="minutes") if isinstance(value, datetime) else value.isoformat()


def describe(error: BaseException) -> str:
    """A plain reason for a failure, never empty: MemoryError and others carry no message."""
    text = clean_text(str(error)).strip()
    if isinstance(error, MemoryError):
        return "The entry needed more memory than the worker has (MemoryError)" + (f": {text}" if text else ".")
    if isinstance(error, RecursionError):
        return "The entry is nested too deeply to read (RecursionError)" + (f": {text}" if text else ".")
    if not text:
        return f"{type(error).__name__} (the error gave no message)."
    if isinstance(error, (EntryTooLarge,)) or type(error).__module__.startswith("integrations"):
        return text
    return f"{type(error).__name__}: {text}"
