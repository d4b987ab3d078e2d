"""Windows zone names <-> IANA zones, shared by the connectors that speak Microsoft's names (Exchange
over EWS, Microsoft 365 over Graph): CLDR's windowsZones table as exchangelib ships it, with
exchangelib's additions for the IANA names CLDR keys under an older name (Europe/Kyiv is CLDR's
Europe/Kiev, Asia/Kolkata is Asia/Calcutta, US/Eastern is America/New_York)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calendars.times import zone_named

from .base import ProviderError, unknown_zone_note


@functools.cache
def _windows_tables() -> tuple[dict, dict]:
    """exchangelib's (IANA -> Windows, Windows -> IANA) tables, read when first needed: importing
    `exchangelib.winzone` imports the whole exchangelib package (about 20 MiB), which a CalDAV or
    Google sync never needs (issue 14's import bench: peak memory)."""
    from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

    return IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP


# Every 6 hours over a year: catches every DST rule (changes fall on whole hours, last months).
_PROBES = tuple(timedelta(hours=6 * step) for step in range(4 * 366))


def windows_zone_for(iana: str | None) -> str:
    """The Windows zone id ("W. Europe Standard Time") Exchange and Graph use for an IANA zone
    ("Europe/Amsterdam"; current names, links and backward aliases alike: "Europe/Kyiv",
    "Europe/Kiev" both give "FLE Standard Time"). "UTC" for no zone or UTC itself.

    Source: CLDR windowsZones.xml via exchangelib's IANA_TO_MS_TIMEZONE_MAP. The Windows zone must
    give the zone's UTC offsets over the coming year (read back through `iana_zone_for`); where the
    table is older than the zone's rules (Antarctica/Vostok, America/Scoresbysund), another Windows
    zone with the same offsets is taken.
    Raises ProviderError when no Windows zone has the zone's offsets: writing its wall clock under
    "UTC" would move every time by the zone's offset."""
    if not iana or iana in ("UTC", "Etc/UTC"):
        return "UTC"
    found = _windows_zone(iana, datetime.now(UTC).year)
    if found is None:
        raise ProviderError(
            f"The time zone {iana} has no Windows counterpart, so Microsoft calendars cannot hold its times; "
            "choose another zone for this entry."
        )
    return found


@functools.cache
def _windows_zone(iana: str, year: int) -> str | None:
    try:
        zone = ZoneInfo(iana)
    except (KeyError, ValueError, OSError):  # not a zone name (ZoneInfoNotFoundError is a KeyError)
        return None
    first = datetime(year, 1, 1, tzinfo=UTC)
    offsets = tuple((first + step).astimezone(zone).utcoffset() for step in _PROBES)
    listed = _windows_tables()[0].get(iana)
    candidates = ([listed[0]] if listed else []) + sorted(_windows_tables()[1])
    for windows in candidates:
        other = ZoneInfo(_windows_tables()[1][windows])
        if all(
            (first + step).astimezone(other).utcoffset() == offset
            for step, offset in zip(_PROBES, offsets, strict=True)
        ):
            return windows
    return None


def zone_for_name(name: str | None) -> str | None:
    """The IANA zone a calendar's zone name stands for, read the same way for every time of an
    entry (start, end, EXDATE, RDATE) on every connector that gets names as text (Graph, Google):
    an IANA name or link, a Windows id (CLDR windowsZones via exchangelib, then icalendar's table),
    Graph's names for UTC, a TZID ending in an IANA name. None when no table holds the name (the
    caller reads the time another way and notes it). External text never names a file to open."""
    if not name or not isinstance(name, str):
        return None
    if name in ("UTC", "tzone://Microsoft/Utc", "Coordinated Universal Time"):
        return "UTC"
    if name in _windows_tables()[1]:
        return _windows_tables()[1][name]
    known = zone_named(name)
    return known.key if known is not None else None


def on_series_zone(moment: datetime, series_zone: str | None) -> datetime:
    """An EXDATE or RDATE date-time whose TZID names no zone the reader knows (`moment`: naive,
    the wall clock as written), read on the zone of the series' DTSTART (`series_zone`, an IANA
    name): RFC 5545 3.8.5.1 and 3.8.5.2 give these times in the same zone as DTSTART, so an unusable
    TZID costs the line its own zone, not the series' wall clock. A series with no zone of its own
    (floating or all-day, `series_zone` None or "") leaves `moment` naive: the technician's wall
    clock (RFC 5545 3.3.5). The rule Google and CalDAV both read by; `series_zone_note` says so."""
    if moment.tzinfo is not None or not series_zone:
        return moment
    return moment.replace(tzinfo=ZoneInfo(series_zone))


def series_zone_note(tzid: object, series_zone: str | None) -> str:
    """The sync log's sentence for an EXDATE or RDATE TZID read by `on_series_zone`."""
    reading = f"on the series' zone {series_zone}" if series_zone else "on the technician's wall clock"
    return unknown_zone_note(tzid, reading)


def iana_zone_for(windows: str) -> str:
    """The IANA zone for a Windows zone id; "UTC" for ids the table does not know."""
    return _windows_tables()[1].get(windows, "UTC")
