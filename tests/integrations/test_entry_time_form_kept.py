"""Trial L-UTC and L-TZALIAS: a helpdesk change writes an external entry's times in the form the
entry has (RFC 5545 3.3.5): a UTC time stays "...Z" (form 2), a floating one floating (form 1), a
TZID one on its own TZID and VTIMEZONE (form 3); a series' override (RECURRENCE-ID, DTSTART) goes
out in its master's form; and no TZID or timeZone we write is a deprecated tz alias ("US/Eastern",
tz's "backward" file). Expected values come from icalendar, recurring-ical-events and dateutil's
tzical, never from our code. TZIDs are unique to this file (icalendar keeps one zone per TZID for
the whole process)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz
from django.utils import timezone

from calendars import services as calendar_services
from calendars import times
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.providers.base import RemoteEvent, RemoteOccurrence
from integrations.providers.caldav import merge_calendar, parse_event
from integrations.providers.google.mapping import patch_body
from integrations.providers.graph.mapping import changed_values
from integrations.sync import engine

HOUR = timedelta(hours=1)
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
# Outlook's custom zone with New York's rules (the trial's t14.py), under a TZID of this file.
NY_TZID = "Customized Time Zone form"
NY_BLOCK = "\r\n".join(
    [
        "BEGIN:VTIMEZONE",
        f"TZID:{NY_TZID}",
        "BEGIN:STANDARD",
        "DTSTART:16010101T020000",
        "TZOFFSETFROM:-0400",
        "TZOFFSETTO:-0500",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010101T020000",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0400",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    ]
)
# A block no IANA zone matches: +01:30 all year.
ODD_TZID = "Office Clock form"
ODD_BLOCK = "\r\n".join(
    [
        "BEGIN:VTIMEZONE",
        f"TZID:{ODD_TZID}",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        "TZOFFSETFROM:+0130",
        "TZOFFSETTO:+0130",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]
)
SERIES_UID = "outlook-form-series-0001"


def _object(uid: str, times_lines: str, block: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n"
        + (block + "\r\n" if block else "")
        + f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261001T100000Z\r\n{times_lines}SUMMARY:Entry\r\n"
        + "X-BOOKING-ID:rec-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _zone_of_block(block: str):
    return dateutil_tz.tzical(io.StringIO(block.replace("\r\n", "\n"))).get()


def _moved_single(raw: str, start: datetime, technician_zone: str = "Europe/Amsterdam") -> RemoteEvent:
    """The helpdesk's side after a move: a one-off on the technician's zone, as `local_event` gives it."""
    event = parse_event(raw, remote_id="/alice/work/x.ics")
    event.start, event.end, event.time_zone = start, start + HOUR, technician_zone
    return event


def _master(text: str):
    return next(v for v in icalendar.Calendar.from_ical(text).walk("VEVENT") if v.get("recurrence-id") is None)


def _unfolded(text: str) -> str:
    return text.replace("\r\n ", "")


# --- single entries ---------------------------------------------------------------------------


def test_a_moved_booking_tool_utc_entry_goes_back_in_utc_form():
    raw = _object("booking-utc-1", "DTSTART:20261217T130000Z\r\nDTEND:20261217T140000Z\r\n")
    start = datetime(2026, 12, 17, 14, 0, tzinfo=UTC)

    text = merge_calendar(raw, _moved_single(raw, start))

    vevent = _master(text)
    assert vevent.decoded("dtstart") == start and vevent.decoded("dtstart").utcoffset() == timedelta(0)
    assert "TZID" not in vevent["dtstart"].params and "TZID" not in vevent["dtend"].params
    assert "DTSTART:20261217T140000Z" in text and "DTEND:20261217T150000Z" in text
    assert "VTIMEZONE" not in text and "X-BOOKING-ID:rec-1" in text


def test_a_moved_floating_entry_stays_floating_on_the_technicians_wall_clock():
    raw = _object("floating-1", "DTSTART:20261217T130000\r\nDTEND:20261217T140000\r\n")
    # 15:00 on the technician's (Amsterdam) clock, the clock the floating time was read on.
    start = datetime(2026, 12, 17, 14, 0, tzinfo=UTC)

    text = merge_calendar(raw, _moved_single(raw, start))

    vevent = _master(text)
    assert vevent.decoded("dtstart") == datetime(2026, 12, 17, 15, 0)  # naive: floating
    assert vevent.decoded("dtend") == datetime(2026, 12, 17, 16, 0)
    assert "TZID" not in _unfolded(text) and "VTIMEZONE" not in text


def test_a_moved_entry_on_its_own_block_that_no_iana_zone_matches_keeps_the_block_and_its_tzid():
    raw = _object(
        "odd-1",
        f"DTSTART;TZID={ODD_TZID}:20261217T100000\r\nDTEND;TZID={ODD_TZID}:20261217T110000\r\n",
        ODD_BLOCK,
    )
    zone = _zone_of_block(ODD_BLOCK)
    start = datetime(2026, 12, 17, 11, 0, tzinfo=zone).astimezone(UTC)  # an hour later on that clock

    text = merge_calendar(raw, _moved_single(raw, start))

    assert f"DTSTART;TZID={ODD_TZID}:20261217T110000" in _unfolded(text)
    assert f"DTEND;TZID={ODD_TZID}:20261217T120000" in _unfolded(text)
    assert re.findall(r"TZID:(.*)\r\n", text) == [ODD_TZID]  # its own block, no other


def test_a_moved_entry_on_a_deprecated_alias_tzid_is_written_on_the_canonical_name():
    raw = _object("alias-1", "DTSTART;TZID=US/Eastern:20261217T090000\r\nDTEND;TZID=US/Eastern:20261217T100000\r\n")
    start = datetime(2026, 12, 17, 15, 0, tzinfo=UTC)  # 10:00 EST

    text = merge_calendar(raw, _moved_single(raw, start))

    assert "DTSTART;TZID=America/New_York:20261217T100000" in _unfolded(text)
    assert "US/Eastern" not in _master(text).to_ical().decode()


# --- series: an override in the master's form -------------------------------------------------


def _series_raw() -> str:
    return _object(
        SERIES_UID,
        f"DTSTART;TZID={NY_TZID}:20261026T090000\r\nDTEND;TZID={NY_TZID}:20261026T100000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=3\r\n",
        NY_BLOCK,
    )


def _expanded(text: str) -> list[tuple[datetime, datetime]]:
    found = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)
    )
    return sorted((e.start.astimezone(UTC), e.end.astimezone(UTC)) for e in found)


@pytest.mark.parametrize("stored_zone", ["US/Eastern", "America/New_York"], ids=["alias-stored", "canonical-stored"])
def test_an_override_of_an_outlook_custom_zone_series_goes_out_on_the_masters_tzid_and_block(stored_zone):
    """The trial's L-TZALIAS: 2 Nov 2026 (after New York's clock change on 1 Nov) moved 09:00 -> 10:00."""
    raw = _series_raw()
    zone = _zone_of_block(NY_BLOCK)
    event = parse_event(raw, remote_id="/alice/work/s.ics")
    event.time_zone = stored_zone  # what a link stored before zone names were canonical
    original = datetime(2026, 11, 2, 9, 0, tzinfo=zone).astimezone(UTC)
    event.overrides = [RemoteOccurrence(original_start=original, start=original + HOUR, end=original + 2 * HOUR)]

    text = _unfolded(merge_calendar(raw, event))

    assert f"RECURRENCE-ID;TZID={NY_TZID}:20261102T090000" in text
    assert f"DTSTART;TZID={NY_TZID}:20261102T100000" in text
    assert "US/Eastern" not in text and "America/" not in text
    assert re.findall(r"\nTZID:(.*)\r", text) == [NY_TZID]  # the organiser's block only
    expected = [(datetime(2026, 10, 26, 9, 0, tzinfo=zone), datetime(2026, 10, 26, 10, 0, tzinfo=zone))]
    expected += [(datetime(2026, 11, 2, 10, 0, tzinfo=zone), datetime(2026, 11, 2, 11, 0, tzinfo=zone))]
    expected += [(datetime(2026, 11, 9, 9, 0, tzinfo=zone), datetime(2026, 11, 9, 10, 0, tzinfo=zone))]
    assert _expanded(text) == [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in expected]


# --- zone names -------------------------------------------------------------------------------


def test_a_custom_block_with_new_york_rules_is_read_as_america_new_york_never_an_alias():
    event = parse_event(_series_raw(), remote_id="/alice/work/s.ics")

    assert event.time_zone == "America/New_York"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("US/Eastern", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("US/Pacific", "America/Los_Angeles"),
        ("Europe/Amsterdam", "Europe/Amsterdam"),  # a link in tzdata since 2022, yet zone.tab's own name
        ("America/New_York", "America/New_York"),
    ],
)
def test_zone_names_read_are_the_tz_databases_canonical_ones(name, canonical):
    assert times.zone_named(name).key == canonical
    assert times.zone_or(name, None).key == canonical


# --- Google, Microsoft 365: a moved single entry keeps its own zone ---------------------------


def _single(zone: str, start: datetime, *, named: bool = True) -> RemoteEvent:
    return RemoteEvent(start=start, end=start + HOUR, subject="Call", time_zone=zone, zone_named=named)


def test_google_patch_of_a_moved_single_entry_keeps_its_own_timezone():
    base = _single("America/Chicago", datetime(2026, 12, 17, 15, 0, tzinfo=UTC))
    moved = _single("Europe/Amsterdam", datetime(2026, 12, 17, 16, 0, tzinfo=UTC))  # the technician's zone

    changes = patch_body(moved, base, ours=False)

    assert changes["start"]["timeZone"] == "America/Chicago"
    assert datetime.fromisoformat(changes["start"]["dateTime"]) == datetime(2026, 12, 17, 16, 0, tzinfo=UTC)
    assert changes["start"]["dateTime"].startswith("2026-12-17T10:00:00")  # 10:00 CST


def test_google_patch_never_names_a_deprecated_alias():
    base = _single("US/Central", datetime(2026, 12, 17, 15, 0, tzinfo=UTC))
    moved = _single("Europe/Amsterdam", datetime(2026, 12, 17, 16, 0, tzinfo=UTC))

    assert patch_body(moved, base, ours=False)["start"]["timeZone"] == "America/Chicago"


def test_graph_update_of_a_moved_single_entry_keeps_its_own_zone_and_an_unmoved_one_writes_no_times():
    base = _single("America/Chicago", datetime(2026, 12, 17, 15, 0, tzinfo=UTC))
    moved = _single("Europe/Amsterdam", datetime(2026, 12, 17, 16, 0, tzinfo=UTC))
    renamed = RemoteEvent(**{**base.__dict__, "subject": "Renamed", "time_zone": "Europe/Amsterdam"})

    values = changed_values(moved, base, own=False)

    assert values["start"] == {"dateTime": "2026-12-17T10:00:00", "timeZone": "Central Standard Time"}
    assert "start" not in changed_values(renamed, base, own=False)


# --- through Radicale -------------------------------------------------------------------------


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.mark.django_db
def test_through_radicale_a_moved_occurrence_of_the_outlook_series_keeps_the_masters_tzid(
    alice_calendar, alice_phone, frozen_now, django_capture_on_commit_callbacks
):
    alice_calendar.agent.import_external = True
    alice_calendar.agent.save(update_fields=["import_external"])
    alice_phone.calendar.save_event(ical=_series_raw())
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True, now=NOW)
    master = Appointment.objects.get(agents=alice_calendar.agent, master__isnull=True, schedule__isnull=False)
    zone = _zone_of_block(NY_BLOCK)
    occurrence = Appointment.objects.get(
        master=master, original_start=datetime(2026, 11, 2, 9, 0, tzinfo=zone).astimezone(UTC)
    )

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(occurrence, start=occurrence.start + HOUR, end=occurrence.end + HOUR)

    link = SyncLink.objects.get(appointment=master)
    assert not link.pending, link.last_error
    text = _unfolded(alice_phone.by_uid(SERIES_UID).data)
    assert f"RECURRENCE-ID;TZID={NY_TZID}:20261102T090000" in text
    assert f"DTSTART;TZID={NY_TZID}:20261102T100000" in text
    assert "US/Eastern" not in text and "America/" not in text
    shown = Appointment.objects.filter(master=master, is_cancelled=False)
    assert _expanded(text) == sorted((o.start, o.end) for o in shown)
    assert (datetime(2026, 11, 2, 15, 0, tzinfo=UTC), datetime(2026, 11, 2, 16, 0, tzinfo=UTC)) in _expanded(text)
