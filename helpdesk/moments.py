"""Dates and times as every page and message writes them: one format, on the signed-in user's
wall clock (the zone the pages activate), in the project's formats module's words (trial 13:
pages said "Tue 1 Dec 2026 08:00", messages "Tue 01 Dec 08:00", an entry "Mon 7 Dec 2026 09:30 -
Mon 7 Dec 2026 09:45").

`WHEN_FORMAT` is Django's date-format syntax (weekday, day without a leading zero, month, year,
24-hour time); day and month names come from Django's translations of the active language."""

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateformat import time_format
from django.utils.dateparse import parse_datetime

WHEN_FORMAT = "D j M Y H:i"
TIME_FORMAT = "H:i"


def when_text(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """An aware datetime on `zone`'s wall clock (default: the user's): "Tue 1 Dec 2026 08:00";
    a naive one (floating, RFC 5545 3.3.5 form 1: the same wall clock everywhere) as it is;
    "" for None."""
    if moment is None:
        return ""
    if timezone.is_naive(moment):
        return date_format(moment, WHEN_FORMAT)
    return date_format(timezone.localtime(moment, zone), WHEN_FORMAT)


def zoned_when_text(moment: datetime, zone: tzinfo) -> str:
    """An aware datetime on `zone`'s wall clock with that clock's abbreviation, for a line read by
    people on other clocks (a request's history): "Thu 3 Dec 2026 09:00 EST"."""
    local = timezone.localtime(moment, zone)
    return f"{date_format(local, WHEN_FORMAT)} {local.tzname()}"


# A history line keeps its instants, not a wall clock baked into its text (trial F-HIST-TZ: a
# coordinator in Amsterdam read "13:00 GMT" under "Planned 14:00" for the same moment). A writer
# marks each instant in the sentence (`history_moment`); tickets.services.record_history stores the
# sentence as parts, and the page and the API write each instant on the reader's clock.
MOMENT_MARK = "\ue000"  # a private-use character: no calendar text or name carries it
_MARKED = re.compile(f"{MOMENT_MARK}([^{MOMENT_MARK}]+){MOMENT_MARK}")


def history_moment(moment: datetime) -> str:
    """An aware instant marked inside a history sentence, to be written on each reader's clock:
    f"Moved to {history_moment(start)}" becomes "Moved to Thu 3 Dec 2026 14:00 CET" for a reader
    in Amsterdam and "... 13:00 GMT" for one in London (`history_text`). Raises ValueError for a
    naive datetime (it names no instant)."""
    if timezone.is_naive(moment):
        raise ValueError("A history line's moment must be aware.")
    return f"{MOMENT_MARK}{moment.astimezone(UTC).isoformat()}{MOMENT_MARK}"


def history_parts(sentence: str) -> list[str | dict[str, str]]:
    """A sentence with marked instants (`history_moment`) as stored parts: text as strings, each
    instant as {"at": ISO 8601 UTC}. "" parts are left out; a sentence with no instant is [text]."""
    parts: list[str | dict[str, str]] = []
    last = 0
    for found in _MARKED.finditer(sentence):
        if found.start() > last:
            parts.append(sentence[last : found.start()])
        parts.append({"at": found.group(1)})
        last = found.end()
    if last < len(sentence):
        parts.append(sentence[last:])
    return parts


def history_text(parts: list, zone: tzinfo) -> str:
    """Stored parts (`history_parts`) as one sentence, each instant on `zone`'s wall clock with
    that clock's abbreviation (`zoned_when_text`): "Unplanned from Carol's calendar on Mon 30 Nov
    2026 23:50 CET". A part that is not an instant is written as it is."""
    written = []
    for part in parts:
        moment = parse_datetime(part["at"]) if isinstance(part, dict) and "at" in part else None
        written.append(zoned_when_text(moment, zone) if moment is not None else str(part))
    return "".join(written)


def hours_text(start: datetime | time, end: datetime | time) -> str:
    """Two times of a day as they stand (an aware datetime: already on the wall clock meant; a
    time: working hours), without the day: "09:30-10:45" (an en dash)."""
    return f"{time_format(start, TIME_FORMAT)}\u2013{time_format(end, TIME_FORMAT)}"


def span_text(start: datetime, end: datetime, zone: tzinfo | None = None) -> str:
    """A start and end (aware) on `zone`'s wall clock (default: the user's), the day written once
    when both are on it: "Mon 7 Dec 2026 09:30-09:45", else "Mon 7 Dec 2026 22:00 - Tue 8 Dec
    2026 02:00" (en dashes)."""
    begin, finish = timezone.localtime(start, zone), timezone.localtime(end, zone)
    if begin.date() == finish.date():
        return f"{date_format(begin, WHEN_FORMAT)}\u2013{date_format(finish, TIME_FORMAT)}"
    return f"{date_format(begin, WHEN_FORMAT)} \u2013 {date_format(finish, WHEN_FORMAT)}"


DAY_FORMAT = "D j M Y"


def day_text(day: date) -> str:
    """A day, the same on every clock: "Wed 16 Dec 2026"."""
    return date_format(day, DAY_FORMAT)


def days_text(first: date, after: date) -> str:
    """An all-day entry's days: `first` and `after`, the day after its last (RFC 5545 3.6.1: DTEND
    is exclusive). Days are the same on every clock, so no zone: "Wed 16 Dec 2026 (all day)", or
    "Wed 16 Dec 2026 - Fri 18 Dec 2026 (all day)" (an en dash) for several (trial fault 7)."""
    last = max(first, after - timedelta(days=1))
    if last == first:
        return f"{day_text(first)} (all day)"
    return f"{day_text(first)} – {day_text(last)} (all day)"


def entry_span_text(
    start: datetime, end: datetime, zone: tzinfo | None = None, *, days: tuple[date, date] | None = None
) -> str:
    """What a message says of an entry's time: its `days` (first, day after the last) when it is
    all-day (`days_text`), else its start and end on `zone`'s wall clock (`span_text`)."""
    return days_text(*days) if days else span_text(start, end, zone)


def end_before_start_text(
    written: dict[str, str | None], zone: tzinfo, *, read: tuple[datetime, datetime] | None = None
) -> str:
    """Why an end read as not after its start: a time `written` (field name -> text as typed or
    sent, ISO 8601) that `zone`'s clock skips is named ("02:30 does not exist on 28 Mar 2027 in
    Europe/Amsterdam (clocks go forward)"): it was read with the offset before the gap (RFC 5545
    3.3.5), so 02:30-03:30 became 03:30-03:30. Otherwise the rule, with the (start, end) `read`
    on `zone`'s clock when given (a PATCH may give only one of them)."""
    from calendars.times import is_skipped, read_wall_clock

    for text in written.values():
        try:
            moment = parse_datetime(text.strip()) if isinstance(text, str) else None
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None and is_skipped(moment, zone):
            read = read_wall_clock(moment, zone)
            return (
                f"{date_format(moment, TIME_FORMAT)} does not exist on {date_format(moment, 'j M Y')} in {zone} "
                f"(clocks go forward): it reads as {date_format(read, TIME_FORMAT)}, so the end is not after the "
                "start. Give times that exist."
            )
    if read is None:
        return "The end must be after the start."
    start, end = (when_text(moment, zone) for moment in read)
    return (
        f"The end must be after the start: the end is {end}, the start {start}. Give a later end or an earlier start."
    )
