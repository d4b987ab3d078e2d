"""Task times, fault 1: an extra start (RDATE) at a wall-clock time that occurs twice, the second
02:30 of 25 Oct 2026 in Europe/Berlin (01:30 UTC, +01:00), and the EXDATE and RECURRENCE-ID that
name it. RFC 5545 3.3.5 reads a repeated local time as its FIRST occurrence (00:30 UTC, +02:00), so
written on the wall clock with its TZID it was read an hour early; such a value goes out in UTC
form (3.3.5 form #2), DTSTART and the rule's own instances (first of two, fold=0) stay on the wall
clock. Reading: a zoned 02:30 that night is the first, in every path (DTSTART, RDATE, EXDATE,
RECURRENCE-ID). Right values: dateutil's own zone (tz.gettz, tz.enfold) for the instants, and
recurring-ical-events expanding what was written or read."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz

from integrations.providers.base import RemoteEvent, RemoteOccurrence

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
_DATEUTIL_BERLIN = dateutil_tz.gettz("Europe/Berlin")
_NIGHT = datetime(2026, 10, 25, 2, 30, tzinfo=_DATEUTIL_BERLIN)
# dateutil, not zoneinfo: 02:30 that night is ambiguous; fold=0 is +02:00, fold=1 is +01:00.
assert dateutil_tz.datetime_ambiguous(_NIGHT)
FIRST = dateutil_tz.enfold(_NIGHT, fold=0).astimezone(dateutil_tz.UTC).replace(tzinfo=UTC)  # 00:30 UTC
SECOND = dateutil_tz.enfold(_NIGHT, fold=1).astimezone(dateutil_tz.UTC).replace(tzinfo=UTC)  # 01:30 UTC
# A weekly series at 09:00 on Sundays from 18 Oct 2026, three of them.
DTSTART = datetime(2026, 10, 18, 9, 0, tzinfo=BERLIN)
RULE_STARTS = [
    dateutil_tz.enfold(datetime(2026, 10, day, 9, 0, tzinfo=_DATEUTIL_BERLIN)).astimezone(UTC) for day in (18, 25)
] + [datetime(2026, 11, 1, 9, 0, tzinfo=_DATEUTIL_BERLIN).astimezone(UTC)]


def _series(**fields) -> RemoteEvent:
    return RemoteEvent(
        start=DTSTART,
        end=DTSTART + HOUR,
        subject="Weekly check",
        time_zone="Europe/Berlin",
        rrules=["FREQ=WEEKLY;COUNT=3"],
        marker="rdate-night-1",
        **fields,
    )


def _expanded(text: str | bytes) -> list[datetime]:
    """Every start recurring-ical-events gives the object, in UTC."""
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )
    return sorted(event.start.astimezone(UTC) for event in shown)


def _second() -> datetime:
    """The second 02:30 as the helpdesk holds an instant: on the zone, fold=1."""
    return SECOND.astimezone(BERLIN)


def test_the_instants_are_the_ones_rfc_5545_names():
    assert [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)] == [FIRST, SECOND]
    assert _second().replace(tzinfo=None) == datetime(2026, 10, 25, 2, 30) and _second().fold == 1


# --- CalDAV: the object the connector writes ----------------------------------------------------


def test_caldav_writes_an_rdate_at_the_second_repeated_hour_as_its_own_instant():
    from integrations.providers.caldav import build_calendar

    text = build_calendar(_series(rdates=[_second()]))

    assert _expanded(text) == sorted([*RULE_STARTS, SECOND])


def test_caldav_writes_the_first_repeated_hour_rdate_on_the_wall_clock_and_the_second_in_utc():
    from integrations.providers.caldav import build_calendar

    text = build_calendar(_series(rdates=[FIRST.astimezone(BERLIN), _second()]))

    assert _expanded(text) == sorted([*RULE_STARTS, FIRST, SECOND])
    unfolded = text.replace("\r\n ", "")
    assert "RDATE;TZID=Europe/Berlin:20261025T023000" in unfolded
    assert "RDATE:20261025T013000Z" in unfolded


def test_caldav_cancels_the_second_repeated_hour_rdate_and_not_the_first():
    from integrations.providers.caldav import build_calendar

    text = build_calendar(_series(rdates=[FIRST.astimezone(BERLIN), _second()], exdates=[_second()]))

    assert _expanded(text) == sorted([*RULE_STARTS, FIRST])


def test_caldav_moves_the_second_repeated_hour_rdate_by_its_recurrence_id():
    from integrations.providers.caldav import build_calendar

    moved = datetime(2026, 10, 25, 4, 0, tzinfo=BERLIN)
    override = RemoteOccurrence(original_start=_second(), start=moved, end=moved + HOUR)
    text = build_calendar(_series(rdates=[FIRST.astimezone(BERLIN), _second()], overrides=[override]))

    assert _expanded(text) == sorted([*RULE_STARTS, FIRST, moved.astimezone(UTC)])


def test_caldav_reads_back_what_it_wrote_for_the_second_repeated_hour():
    from integrations.providers.caldav import build_calendar, read_event

    event = read_event(build_calendar(_series(rdates=[_second()], exdates=[RULE_STARTS[1]])), remote_id="r1")

    assert [d.astimezone(UTC) for d in event.rdates] == [SECOND]
    assert [d.astimezone(UTC) for d in event.exdates] == [RULE_STARTS[1]]


# --- reading: a zoned 02:30 that night is the first, on every path ------------------------------


def _zoned_night(*lines: str) -> str:
    """A series on Europe/Berlin whose `lines` (DTSTART, RRULE, RDATE, EXDATE, override VEVENTs)
    name 02:30 of 25 Oct 2026 with a TZID: the repeated hour, so RFC 5545 3.3.5 reads the first."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Example//Phone//EN", "BEGIN:VEVENT", "UID:night-read-1"]
    return "\r\n".join([*head, "DTSTAMP:20261001T000000Z", "SUMMARY:Night job", *lines, "END:VCALENDAR", ""])


# An extra start (RDATE) in the repeated hour, moved by a RECURRENCE-ID naming it.
RDATE_NIGHT = _zoned_night(
    "DTSTART;TZID=Europe/Berlin:20261022T023000",
    "DTEND;TZID=Europe/Berlin:20261022T033000",
    "RRULE:FREQ=DAILY;COUNT=3",
    "RDATE;TZID=Europe/Berlin:20261025T023000",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:night-read-1",
    "DTSTAMP:20261001T000000Z",
    "RECURRENCE-ID;TZID=Europe/Berlin:20261025T023000",
    "DTSTART;TZID=Europe/Berlin:20261025T050000",
    "DTEND;TZID=Europe/Berlin:20261025T060000",
    "SUMMARY:Night job",
    "END:VEVENT",
)
# A series starting in the repeated hour, its second day cancelled by an EXDATE in the same form.
DTSTART_NIGHT = _zoned_night(
    "DTSTART;TZID=Europe/Berlin:20261025T023000",
    "DTEND;TZID=Europe/Berlin:20261025T033000",
    "RRULE:FREQ=DAILY;COUNT=3",
    "EXDATE;TZID=Europe/Berlin:20261026T023000",
    "END:VEVENT",
)


@pytest.mark.parametrize("text", [RDATE_NIGHT, DTSTART_NIGHT], ids=["rdate and recurrence-id", "dtstart and exdate"])
def test_caldav_reads_zoned_repeated_hour_values_as_the_first_as_recurring_ical_events_does(text):
    from integrations.providers.caldav import read_event

    event = read_event(text, remote_id="r1")
    right = _expanded(text)

    cancelled = {d.astimezone(UTC) for d in event.exdates}
    moved = {o.original_start.astimezone(UTC): o.start.astimezone(UTC) for o in event.overrides}
    starts = [*(s for s in _rule_instants(event) if s not in cancelled), *(d.astimezone(UTC) for d in event.rdates)]
    assert sorted(moved.get(s, s) for s in starts) == right
    assert SECOND not in right  # nothing in the second 02:30: every zoned 02:30 that night is the first
    named = [event.start, *event.rdates, *(o.original_start for o in event.overrides)]
    assert FIRST in [value.astimezone(UTC) for value in named]


def _rule_instants(event: RemoteEvent) -> list[datetime]:
    """dateutil's starts of the event's rule on its zone's wall clock (fold=0: the first), in UTC."""
    from dateutil.rrule import rrulestr

    first = event.start.astimezone(BERLIN).replace(tzinfo=None)
    return [m.replace(tzinfo=_DATEUTIL_BERLIN).astimezone(UTC) for m in rrulestr(event.rrules[0], dtstart=first)]


# --- Google: the recurrence lines the connector writes --------------------------------------------


def _google_object(fields: dict) -> str:
    """The event resource's start and recurrence lines as the RFC 5545 object they stand for (the
    calendar v3 `recurrence` member holds RFC 5545 RRULE, EXDATE and RDATE lines)."""
    start = datetime.fromisoformat(fields["start"]["dateTime"]).astimezone(BERLIN)
    end = datetime.fromisoformat(fields["end"]["dateTime"]).astimezone(BERLIN)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//EN",
        "BEGIN:VEVENT",
        "UID:google-lines",
        "DTSTAMP:20261001T000000Z",
        f"DTSTART;TZID={fields['start']['timeZone']}:{start.strftime('%Y%m%dT%H%M%S')}",
        f"DTEND;TZID={fields['end']['timeZone']}:{end.strftime('%Y%m%dT%H%M%S')}",
        *fields["recurrence"],
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    "rdates, exdates, right",
    [
        ([SECOND], [], [*RULE_STARTS, SECOND]),
        ([FIRST, SECOND], [SECOND], [*RULE_STARTS, FIRST]),
        ([FIRST, SECOND], [FIRST], [*RULE_STARTS, SECOND]),
    ],
    ids=["second", "second cancelled", "first cancelled"],
)
def test_google_recurrence_lines_give_the_second_repeated_hour_its_own_instant(rdates, exdates, right):
    from integrations.providers.google.mapping import event_from_resource, owned_fields

    event = _series(rdates=[d.astimezone(BERLIN) for d in rdates], exdates=[d.astimezone(BERLIN) for d in exdates])
    fields = owned_fields(event)

    assert _expanded(_google_object(fields)) == sorted(right)
    read = event_from_resource({"id": "g1", **fields}, calendar_zone="Europe/Berlin")
    assert sorted(d.astimezone(UTC) for d in read.rdates) == sorted(rdates)
    assert sorted(d.astimezone(UTC) for d in read.exdates) == sorted(exdates)


def test_google_reads_a_zoned_repeated_hour_rdate_as_the_first():
    from integrations.providers.google.mapping import event_from_resource

    resource = {
        "id": "g2",
        "start": {"dateTime": "2026-10-18T09:00:00+02:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-10-18T10:00:00+02:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3", "RDATE;TZID=Europe/Berlin:20261025T023000"],
    }

    event = event_from_resource(resource, calendar_zone="Europe/Berlin")

    assert [d.astimezone(UTC) for d in event.rdates] == [FIRST]
    assert FIRST in _expanded(_google_object(resource))


def test_an_all_day_series_writes_its_extra_days_as_dates():
    from integrations.providers.google.mapping import owned_fields

    event = RemoteEvent(
        start=date(2026, 10, 18),
        end=date(2026, 10, 19),
        all_day=True,
        subject="Leave",
        time_zone="Europe/Berlin",
        rrules=["FREQ=WEEKLY;COUNT=2"],
        rdates=[date(2026, 10, 25)],
        marker="all-day-rdate",
    )

    assert owned_fields(event)["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=2", "RDATE;VALUE=DATE:20261025"]


# --- the helpdesk's own series, pushed to Radicale ----------------------------------------------

# 31 Oct 2027 repeats 02:00-03:00 in Berlin too; dateutil's instants of the second 02:30 that night.
_NIGHT_2027 = datetime(2027, 10, 31, 2, 30, tzinfo=_DATEUTIL_BERLIN)
SECOND_2027 = dateutil_tz.enfold(_NIGHT_2027, fold=1).astimezone(UTC)
FIRST_2027 = dateutil_tz.enfold(_NIGHT_2027, fold=0).astimezone(UTC)


@pytest.mark.django_db
def test_a_helpdesk_series_with_an_extra_start_at_the_second_repeated_hour_reaches_caldav_at_that_instant(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    from integrations.models import SyncLink
    from tests.repeated_hour import patch_runs_with_an_extra_start

    master, second, held = patch_runs_with_an_extra_start(
        alice_calendar.agent, "Europe/Berlin", django_capture_on_commit_callbacks
    )
    assert second == SECOND_2027 and SECOND_2027 in held

    text = alice_phone.by_uid(SyncLink.objects.get(appointment=master).marker).data
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 10, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC)
    )
    assert sorted(e.start.astimezone(UTC) for e in shown) == held
    assert FIRST_2027 not in [e.start.astimezone(UTC) for e in shown]
