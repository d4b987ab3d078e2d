"""What calendar systems rewrite, normalised in one place before anything is compared.

Pure functions of text, no Django: the engine's content hash, the inbound writes and the
providers' merge updates all compare through these, so a form one system writes and another
rewrites (an HTML body, CRLF, trailing spaces, RRULE part order and defaults, UNTIL forms) is
never taken for a change.
"""

from __future__ import annotations

import functools
import html
import itertools
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from integrations.providers.base import RemoteEvent

# Beyond this many occurrences a series counts as endless (no end worth computing).
MAX_OCCURRENCES = 5000

_HTML_START = re.compile(r"^\s*(<!doctype|<html|<body|<div|<p[\s>]|<span|<br)", re.IGNORECASE)
_HTML_BREAKS = re.compile(r"<br\s*/?>|</p>|</div>", re.IGNORECASE)
_HTML_TAGS = re.compile(r"<(script|style|head)[^>]*>.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def html_to_text(value: str) -> str:
    """An HTML body's text: line breaks for <br>, </p> and </div>, tags (and scripts, styles,
    heads) dropped, entities decoded, no-break spaces as spaces."""
    return html.unescape(_HTML_TAGS.sub("", _HTML_BREAKS.sub("\n", value))).replace("\xa0", " ")


def normalise_text(value: str | None, *, is_html: bool = False) -> str:
    """Text as a person reads it: an HTML body (Outlook writes those) as its text, CRLF as LF,
    no trailing spaces on a line, no blank lines around it. `is_html`: the system says the text
    is HTML (EWS BodyType="HTML"); otherwise HTML is recognised by its opening tag."""
    text = value or ""
    if not is_html and "\n" not in text and "\r" not in text and "<" not in text:
        return text.strip()  # one line, no tag: what the steps below give it (the usual subject)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if is_html or _HTML_START.match(text):
        text = html_to_text(text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def same_text(a: str | None, b: str | None) -> bool:
    return normalise_text(a) == normalise_text(b)


def normalise_rrule(rule: str) -> str:
    """An RRULE value (no "RRULE:" prefix), parts upper-cased and sorted: the form we send."""
    rule = rule.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    return ";".join(sorted(part.strip().upper() for part in rule.split(";") if part.strip()))


# RFC 5545 3.3.10 defaults: a part holding its default says nothing, so Exchange adding INTERVAL=1
# or a client adding WKST=MO is not a change.
_RRULE_DEFAULTS = {"INTERVAL": "1", "WKST": "MO"}


def rrule_key(rule: str, time_zone: str = "UTC", start: datetime | date | None = None) -> str:
    """An RRULE in the form two systems agree on when they mean the same series: parts in one
    order, defaults dropped, list values sorted, UNTIL as the date it falls on in the series' zone
    (Exchange keeps only an end date; others write a date, a local or a UTC date-time).

    With the series' first start (`start`, aware or floating or a date; read on the wall clock of
    `time_zone`), parts that only repeat what DTSTART gives are dropped too (RFC 5545 3.3.10: what
    the rule leaves out comes from DTSTART): Exchange and Graph always name the days of a weekly
    pattern, so "FREQ=WEEKLY;BYDAY=MO" from a Monday is the same series as "FREQ=WEEKLY"."""
    parts = {}
    for part in normalise_rrule(rule).split(";"):
        name, _, value = part.partition("=")
        if _RRULE_DEFAULTS.get(name) == value:
            continue
        if "," in value:
            value = ",".join(sorted(value.split(",")))
        if name == "UNTIL":
            value = _until_date(value, time_zone)
        parts[name] = value
    if "WKST" in parts and not _week_start_matters(parts):
        del parts["WKST"]
    if start is not None:
        _drop_implied(parts, _wall_clock(start, time_zone))
    return ";".join(f"{name}={parts[name]}" for name in sorted(parts))


def _week_start_matters(parts: dict[str, str]) -> bool:
    """RFC 5545 3.3.10: WKST changes the dates for WEEKLY with INTERVAL > 1 and BYDAY, and for
    YEARLY with BYWEEKNO; also (as dateutil's expansion shows, review 5) for WEEKLY with BYDAY and
    BYSETPOS, which picks from the days of a week that WKST begins. Elsewhere Graph's "WKST=SU"
    (firstDayOfWeek) says nothing."""
    frequency = parts.get("FREQ")
    if frequency == "WEEKLY":
        # INTERVAL=1 was dropped as the default.
        return "BYDAY" in parts and ("INTERVAL" in parts or "BYSETPOS" in parts)
    return frequency == "YEARLY" and "BYWEEKNO" in parts


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _wall_clock(start: datetime | date, time_zone: str) -> date:
    """The day DTSTART falls on in the series' zone (RFC 5545 expands a rule on that wall clock)."""
    if isinstance(start, datetime) and start.tzinfo is not None:
        try:
            return start.astimezone(ZoneInfo(time_zone)).date()
        except (ValueError, ZoneInfoNotFoundError):
            return start.date()
    return start.date() if isinstance(start, datetime) else start


def _drop_implied(parts: dict[str, str], first: date) -> None:
    """Drop BY parts that only restate DTSTART's day (`first`), as RFC 5545 3.3.10 derives them."""
    frequency = parts.get("FREQ")
    by = {name for name in parts if name.startswith("BY")}
    if frequency == "WEEKLY" and by == {"BYDAY"} and parts["BYDAY"] == _WEEKDAYS[first.weekday()]:
        del parts["BYDAY"]
    elif frequency == "MONTHLY" and by == {"BYMONTHDAY"} and parts["BYMONTHDAY"] == str(first.day):
        del parts["BYMONTHDAY"]
    elif (
        frequency == "YEARLY"
        and by
        and by <= {"BYMONTH", "BYMONTHDAY"}
        and parts.get("BYMONTH", str(first.month)) == str(first.month)
        and parts.get("BYMONTHDAY", str(first.day)) == str(first.day)
    ):
        parts.pop("BYMONTH", None)
        parts.pop("BYMONTHDAY", None)


def _until_date(value: str, time_zone: str) -> str:
    if "T" not in value:
        return value[:8]
    if value.endswith("Z"):
        try:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%d")
        except (ValueError, ZoneInfoNotFoundError):
            return value[:8]
    return value[:8]


def span_of(event: RemoteEvent) -> tuple[datetime | None, datetime | None]:
    """The time a link's entry covers, for the import window; a series without an end has no end."""

    def aware(value: datetime | date) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)  # floating: near enough here
        return datetime(value.year, value.month, value.day, tzinfo=UTC)

    start = aware(event.start)
    if event.is_recurring:
        last = _last_occurrence_start(event)
        if last is None:
            return start, None
        ends = [aware(last) + (aware(event.end) - start)] + [aware(o.end) for o in event.overrides]
        return start, max(ends)
    return start, aware(event.end)


def _last_occurrence_start(event: RemoteEvent) -> datetime | date | None:
    """Where a series with COUNT or UNTIL ends (its last rule-given start); None for an endless one.

    A finished series must not count as "missing" when a full listing of the window leaves it out.
    """
    start = event.start
    # Equal datetimes may differ in zone or fold (the wall clock the rule repeats on): both in the key.
    shape = (start.tzinfo, start.fold) if isinstance(start, datetime) else None
    return _last_start(tuple(event.rrules), start, shape, event.time_zone)


# An import asks three times for each series (listing, plan, link), each a walk of its whole rule.
@functools.lru_cache(maxsize=256)
def _last_start(rrules: tuple[str, ...], start: datetime | date, _shape, time_zone: str) -> datetime | date | None:
    from dateutil.rrule import rrulestr

    rules = [normalise_rrule(rule) for rule in rrules]
    if not rules or any("COUNT=" not in rule and "UNTIL=" not in rule for rule in rules):
        return None
    if isinstance(start, datetime):
        try:
            first: datetime = start.astimezone(ZoneInfo(time_zone))
        except (ZoneInfoNotFoundError, ValueError):
            first = start
    else:
        first = datetime.combine(start, datetime.min.time())
    last = None
    for rule in rules:
        try:
            starts = list(itertools.islice(rrulestr(rule, dtstart=first), MAX_OCCURRENCES + 1))
        except (ValueError, TypeError):
            return None  # a rule dateutil cannot expand on this footing: treat the series as endless
        if not starts or len(starts) > MAX_OCCURRENCES:
            return None
        last = starts[-1] if last is None else max(last, starts[-1])
    return last if isinstance(start, datetime) else last.date()


def moment_key(value: datetime | date | None) -> str | None:
    """A moment as the sync snapshot keeps and compares it: "T" + aware UTC ISO 8601, "F" +
    floating wall clock (the technician's), "D" + a date; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return "F" + value.isoformat()  # floating: the technician's wall clock
        return "T" + value.astimezone(UTC).isoformat()
    return "D" + value.isoformat()


def rrule_end(original: datetime | date, event: RemoteEvent) -> str | None:
    """The end of the series' occurrence at `original` (the master's length), as `moment_key`.

    The length is exact and added in exact time for aware values (RFC 5545 3.8.5.3; `times.exact_length`,
    `times.end_after`): on one zone, Python's wall-clock arithmetic put the end of the occurrence of
    an autumn night an hour late (01:30 + 2 h = 03:30, three real hours)."""
    from calendars import times

    try:
        length = times.exact_length(event.start, event.end)
        aware = isinstance(original, datetime) and original.tzinfo is not None
        return moment_key(times.end_after(original, length) if aware else original + length)
    except TypeError:  # a date and a datetime mixed: not the rule's occurrence
        return None


def override_items(event: RemoteEvent) -> dict[str, tuple]:
    """The occurrences of a series changed on their own, by original start (`to_data`'s form), each
    as what it shows that its own series does not: (`"overrides"`, start, end, subject, body,
    location, private), a text the same as the series' own being None, as `content_hash` reads an
    override. Each side is read against its own series (RFC 5545 3.8.4.4: a RECURRENCE-ID component
    that only repeats the series changes nothing), so a series renamed on one side is no change of
    an occurrence that carried the series' text. An override that is the rule's occurrence is left
    out."""
    found = {}

    def own(text: str | None, series: str) -> str | None:
        return None if text is None or normalise_text(text) == normalise_text(series) else normalise_text(text)

    for o in event.overrides:
        original = moment_key(o.original_start)
        entry = (
            moment_key(o.start),
            moment_key(o.end),
            own(o.subject, event.subject),
            own(o.body, event.body),
            own(o.location, event.location),
            bool(o.private and not event.private),
        )
        if entry == (original, rrule_end(o.original_start, event), None, None, None, False):
            continue
        found[original] = ("overrides", *entry)
    return found


def exception_items(event: RemoteEvent) -> dict[str, tuple]:
    """A series' exceptions as items for `planner.merge_items`: by original start (`to_data`'s
    form), `("exdates",)` for a left-out date (RFC 5545 3.8.5.1 EXDATE) or `override_items`' tuple
    for an occurrence changed on its own; a date both left out and overridden is left out (the
    EXDATE removes the instance). Empty for a single entry."""
    items = override_items(event)
    for moment in event.exdates:
        items[moment_key(moment)] = ("exdates",)
    return items
