"""A series changed on one side while its exceptions changed on the other (review 7 F2, F2b, F7), on a
real Radicale: the phone's client is another CalDAV client writing the entry itself. What each side
should show comes from dateutil's expansion of the series as changed; what the phone shows is read
with recurring-ical-events, never with our mapping."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.repeated_hour import AMS

pytestmark = pytest.mark.django_db
HALF = timedelta(minutes=30)
HOUR = timedelta(hours=1)
NEW_YORK = ZoneInfo("America/New_York")


def expanded(rule: str, first: datetime, length: timedelta, *, without: tuple[int, ...] = ()) -> list[tuple]:
    """(start, end) in UTC of each instance dateutil gives for `rule` from `first` (aware: repeated on
    its zone's wall clock, RFC 5545 3.3.10), leaving out the instances numbered in `without`."""
    zone = first.tzinfo
    starts = [s.replace(tzinfo=zone) for s in rrulestr(rule, dtstart=first.replace(tzinfo=None))]
    return [(s.astimezone(UTC), (s + length).astimezone(UTC)) for n, s in enumerate(starts) if n not in without]


def helpdesk_view(series: Appointment) -> list[tuple]:
    shown = Appointment.objects.visible().filter(master=series.pk).values_list("start", "end")
    return sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in shown)


def phone_view(alice_phone, marker: str) -> list[tuple]:
    calendar = icalendar.Calendar.from_ical(alice_phone.by_uid(marker).data)
    occurrences = recurring_ical_events.of(calendar).between(datetime(2026, 12, 1), datetime(2028, 1, 1))
    return sorted((o.decoded("dtstart").astimezone(UTC), o.decoded("dtend").astimezone(UTC)) for o in occurrences)


def conflicts() -> list[str]:
    return list(SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).values_list("message", flat=True))


def synced_series(alice_calendar, capture, *, rule: str, first: datetime, length: timedelta, subject: str):
    """A series made in the helpdesk and synced to the phone; (the series, its marker)."""
    with capture(execute=True):
        series = calendar_services.create_recurring_appointment(
            rule=f"RRULE:{rule}",
            agents=[alice_calendar.agent],
            start=first,
            end=first + length,
            subject=subject,
            time_zone=first.tzinfo,
        )
    sync(alice_calendar)
    return series, SyncLink.objects.get(appointment=series).marker


STANDUP = "FREQ=WEEKLY;COUNT=4"
FIRST_MONDAY = datetime(2027, 1, 4, 15, tzinfo=AMS)


def synced_standup(alice_calendar, capture):
    """The weekly half-hour stand-up from Monday 4 January 2027, 15:00 Amsterdam, four times, synced."""
    return synced_series(
        alice_calendar, capture, rule=STANDUP, first=FIRST_MONDAY, length=HALF, subject="Weekly team stand-up"
    )


def sync(alice_calendar) -> None:
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)


def test_phone_rerule_meeting_a_helpdesk_cancellation_is_a_logged_conflict_never_a_silent_loss(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """F2: a monthly "first Monday" series; the coordinator cancels June (7 June) while the phone
    makes the series "first Tuesday". The EXDATE shifted by the start's one day (8 June) names no
    instance of the new rule (its June instance is 1 June), so the two changes cannot both be kept:
    the group is decided as one, a conflict logged with the phone's values, and (the helpdesk wins
    by default) both sides show the first Mondays without June. The bug this guards: no conflict,
    and June's meeting back on both sides."""
    first = datetime(2027, 3, 1, 9, tzinfo=AMS)  # Monday 1 March 2027
    rule = "FREQ=MONTHLY;BYDAY=1MO;COUNT=6"
    series, marker = synced_series(
        alice_calendar,
        django_capture_on_commit_callbacks,
        rule=rule,
        first=first,
        length=HOUR,
        subject="Monthly review",
    )
    tuesday = datetime(2027, 3, 2, 9, tzinfo=AMS)
    alice_phone.edit(
        marker,
        dtstart=tuesday,
        dtend=tuesday + HOUR,
        rrule=icalendar.vRecur.from_ical("FREQ=MONTHLY;BYDAY=1TU;COUNT=6"),
    )
    june = datetime(2027, 6, 7, 9, tzinfo=AMS)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.cancel_occurrence(series.occurrences.get(original_start=june))
    sync(alice_calendar)

    logged = conflicts()
    assert len(logged) == 1 and "FREQ=MONTHLY;COUNT=6;BYDAY=1TU" in logged[0], logged
    expected = expanded(rule, first, HOUR, without=(3,))  # the first Mondays, without 7 June
    assert june.astimezone(UTC) not in [s for s, _ in expected]
    assert helpdesk_view(series) == expected
    assert phone_view(alice_phone, marker) == expected


def test_series_moved_to_new_york_on_the_phone_keeps_the_day_cancelled_in_the_helpdesk(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """F2b: weekly 09:00 on Amsterdam's clock; the phone puts the series on New York's clock (09:00
    there) while the coordinator cancels 22 March, a week when the US is already on summer time and
    Europe is not. Both kept, no conflict: the cancelled day is the fourth instance of the moved
    rule (09:00 New York, 13:00 UTC; dateutil), gone on both sides. The bug this guards: the EXDATE
    re-keyed on Amsterdam's clock only (15:00 there, 14:00 UTC) named no instance, and 22 March came
    back."""
    first = datetime(2027, 3, 1, 9, tzinfo=AMS)
    rule = "FREQ=WEEKLY;COUNT=6"
    series, marker = synced_series(
        alice_calendar, django_capture_on_commit_callbacks, rule=rule, first=first, length=HOUR, subject="Weekly call"
    )
    moved = datetime(2027, 3, 1, 9, tzinfo=NEW_YORK)
    alice_phone.edit(marker, dtstart=moved, dtend=moved + HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.cancel_occurrence(series.occurrences.get(original_start=datetime(2027, 3, 22, 9, tzinfo=AMS)))
    sync(alice_calendar)

    expected = expanded(rule, moved, HOUR, without=(3,))
    assert expanded(rule, moved, HOUR)[3][0] == datetime(2027, 3, 22, 13, tzinfo=UTC)  # 09:00 EDT, dateutil
    assert conflicts() == []
    assert helpdesk_view(series) == expected
    assert phone_view(alice_phone, marker) == expected


def test_occurrence_renamed_on_the_phone_moves_with_the_series_moved_in_the_helpdesk(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """F7, the other way round from the shared scenario: the phone renames the third stand-up only
    (a RECURRENCE-ID component with the rule's times, RFC 5545 3.8.4.4) while the coordinator moves
    the whole series an hour later. Both kept, no conflict: the renamed occurrence follows the
    series (dateutil's expansion of the moved rule) on both sides, as it would had the rename been
    pulled before the move (`calendars.services._move_exceptions`)."""
    series, marker = synced_standup(alice_calendar, django_capture_on_commit_callbacks)
    third = FIRST_MONDAY + timedelta(weeks=2)
    item = alice_phone.by_uid(marker)
    calendar = item.icalendar_instance
    child = icalendar.Event()
    child.add("uid", marker)
    child.add("dtstamp", datetime.now(UTC))
    child.add("recurrence-id", third)
    child.add("dtstart", third)
    child.add("dtend", third + HALF)
    child.add("summary", "Stand-up, room 2")
    calendar.add_component(child)
    item.icalendar_instance = calendar
    item.save()
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            Appointment.objects.get(pk=series.pk), start=FIRST_MONDAY + HOUR, end=FIRST_MONDAY + HOUR + HALF
        )
    sync(alice_calendar)

    expected = expanded(STANDUP, FIRST_MONDAY + HOUR, HALF)
    assert conflicts() == []
    assert helpdesk_view(series) == expected
    assert phone_view(alice_phone, marker) == expected
    renamed = series.occurrences.get(original_start=third + HOUR)
    assert (renamed.start, renamed.subject) == (third + HOUR, "Stand-up, room 2")


def test_occurrence_renamed_in_the_helpdesk_takes_the_length_the_phone_gave_the_series(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """F7 with a new length: the phone makes the half-hour stand-up an hour long while the coordinator
    renames the third occurrence only. The renamed occurrence, whose times were the rule's, takes
    the series' new length too (dateutil's expansion, an hour each), on both sides, no conflict."""
    series, marker = synced_standup(alice_calendar, django_capture_on_commit_callbacks)
    alice_phone.edit(marker, dtstart=FIRST_MONDAY, dtend=FIRST_MONDAY + HOUR)
    third = FIRST_MONDAY + timedelta(weeks=2)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(series.occurrences.get(original_start=third), subject="Stand-up, room 2")
    sync(alice_calendar)

    expected = expanded(STANDUP, FIRST_MONDAY, HOUR)
    assert conflicts() == []
    assert helpdesk_view(series) == expected
    assert phone_view(alice_phone, marker) == expected
