from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from calendars import services
from calendars.models import Appointment
from tests.calendars.conftest import AMSTERDAM, expand, next_dst_change


def helpdesk_view(agent, start, end) -> set[tuple[datetime, datetime, str]]:
    """What the helpdesk's own calendar shows the technician between start and end."""
    return {
        (appointment.start.astimezone(UTC), appointment.end.astimezone(UTC), appointment.subject)
        for appointment in Appointment.objects.visible().filter(agents=agent).overlapping(start, end)
    }


def weekly_series(agent, *, first_day, subject="Weekly check", hour=9):
    return services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY",
        agents=[agent],
        start=datetime.combine(first_day, time(hour), tzinfo=AMSTERDAM),
        end=datetime.combine(first_day, time(hour + 1), tzinfo=AMSTERDAM),
        subject=subject,
    )


@pytest.fixture
def year():
    start = timezone.now().replace(microsecond=0)
    return start, start + timedelta(days=360)


def test_feed_occurrences_for_a_year_equal_the_helpdesk_calendar(alice, bob, fetch_feed, year):
    now = timezone.now().replace(microsecond=0)
    series = weekly_series(alice, first_day=now.astimezone(AMSTERDAM).date() - timedelta(days=20))
    occurrences = list(series.occurrences.filter(start__gt=now).order_by("start"))
    services.update_appointment(
        occurrences[2],
        start=occurrences[2].start + timedelta(days=1, hours=3),
        end=occurrences[2].end + timedelta(days=1, hours=3),
    )
    services.delete_appointment(occurrences[4])
    services.update_appointment(occurrences[6], subject="Weekly check, with the customer")
    dst_day = next_dst_change(now)
    services.create_appointment(
        subject="Night migration across the clock change",
        start=datetime.combine(dst_day - timedelta(days=1), time(22), tzinfo=AMSTERDAM),
        end=datetime.combine(dst_day, time(10), tzinfo=AMSTERDAM),
        agents=[alice],
    )
    services.create_appointment(
        subject="Server room visit",
        start=now + timedelta(days=3),
        end=now + timedelta(days=3, hours=2),
        agents=[alice, bob],
    )
    services.create_appointment(
        subject="Not Alice's", start=now + timedelta(days=3), end=now + timedelta(days=4), agents=[bob]
    )

    shown = expand(fetch_feed(alice), *year)

    assert shown == helpdesk_view(alice, *year)
    assert len(shown) > 50


def test_series_is_one_event_with_rule_exdate_and_override(alice, fetch_feed):
    now = timezone.now().replace(microsecond=0)
    series = weekly_series(alice, first_day=now.astimezone(AMSTERDAM).date() + timedelta(days=1))
    moved, cancelled = list(series.occurrences.order_by("start"))[1:3]
    services.update_appointment(moved, start=moved.start + timedelta(hours=2), end=moved.end + timedelta(hours=2))
    services.delete_appointment(cancelled)

    events = fetch_feed(alice).walk("VEVENT")

    master = next(event for event in events if "RRULE" in event)
    override = next(event for event in events if "RECURRENCE-ID" in event)
    assert len(events) == 2
    assert master["UID"] == override["UID"]
    assert override.decoded("recurrence-id") == moved.original_start
    assert cancelled.original_start in master.exdates


def test_series_repeats_at_the_same_local_hour_across_daylight_saving(alice, fetch_feed, year):
    weekly_series(alice, first_day=timezone.now().astimezone(AMSTERDAM).date())

    local_hours = {start.astimezone(AMSTERDAM).hour for start, _, _ in expand(fetch_feed(alice), *year)}
    utc_hours = {start.hour for start, _, _ in expand(fetch_feed(alice), *year)}

    assert local_hours == {9}
    assert utc_hours == {7, 8}


def test_feed_has_a_timezone_for_every_zone_it_uses(alice, bob, fetch_feed):
    now = timezone.now().replace(microsecond=0)
    weekly_series(bob, first_day=now.date())  # not on Alice's calendar: no London zone in her feed
    services.create_appointment(subject="Shared", start=now, end=now + timedelta(hours=1), agents=[alice, bob])
    services.create_recurring_appointment(
        rule="FREQ=DAILY;COUNT=3",
        agents=[alice],
        time_zone="America/New_York",
        start=now + timedelta(days=1),
        end=now + timedelta(days=1, hours=1),
        subject="Call with the New York office",
    )

    calendar = fetch_feed(alice)

    assert {tz.tz_name for tz in calendar.timezones} == {"Europe/Amsterdam", "America/New_York"}
    assert calendar.get_missing_tzids() == set()


def test_entries_keep_uid_and_raise_sequence_when_changed(alice, fetch_feed):
    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    appointment = services.create_appointment(
        subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice]
    )
    first = fetch_feed(alice).walk("VEVENT")[0]

    services.update_appointment(appointment, start=start + timedelta(hours=1), end=start + timedelta(hours=2))
    second = fetch_feed(alice).walk("VEVENT")[0]

    assert first["UID"] == second["UID"]
    assert second.decoded("sequence") > first.decoded("sequence")
    assert second.decoded("last-modified") >= first.decoded("last-modified")


SECRET_SUBJECT = "Divorce lawyer Zandvoort"
SECRET_NOTE = "Bring the papers about the house"
SECRET_PLACE = "Kerkstraat 12, Haarlem"


def test_private_external_entry_is_a_busy_block_without_its_details(alice, client, feed_url):
    start = timezone.now() + timedelta(days=1)
    services.create_appointment(
        subject=SECRET_SUBJECT,
        note=SECRET_NOTE,
        location=SECRET_PLACE,
        start=start,
        end=start + timedelta(hours=1),
        agents=[alice],
        source=Appointment.Source.EXTERNAL,
        private=True,
        reminder_minutes=10,
    )

    body = client.get(feed_url(alice, external=1)).content.decode()

    assert "SUMMARY:Busy" in body
    for secret in (SECRET_SUBJECT, SECRET_NOTE, SECRET_PLACE, "Divorce", "Kerkstraat"):
        assert secret not in body


def test_imported_entries_are_left_out_unless_asked_for(alice, fetch_feed):
    start = timezone.now() + timedelta(days=1)
    services.create_appointment(
        subject="Dentist",
        start=start,
        end=start + timedelta(hours=1),
        agents=[alice],
        source=Appointment.Source.EXTERNAL,
    )

    assert fetch_feed(alice).walk("VEVENT") == []
    assert [str(event["SUMMARY"]) for event in fetch_feed(alice, external=1).walk("VEVENT")] == ["Dentist"]


def test_occurrence_given_to_someone_else_leaves_their_series_in_the_feed(alice, bob, fetch_feed, year):
    series = weekly_series(alice, first_day=timezone.now().astimezone(AMSTERDAM).date() + timedelta(days=1))
    handed_over = series.occurrences.order_by("start")[1]
    services.reassign_appointment(handed_over, from_agent=alice, to_agent=bob)

    assert expand(fetch_feed(alice), *year) == helpdesk_view(alice, *year)
    assert expand(fetch_feed(bob), *year) == helpdesk_view(bob, *year) != set()


def test_all_day_appointment_is_written_as_dates(alice, fetch_feed):
    day = timezone.now().astimezone(AMSTERDAM).date() + timedelta(days=5)
    services.create_appointment(
        subject="Training day",
        start=datetime.combine(day, time(0), tzinfo=AMSTERDAM),
        end=datetime.combine(day + timedelta(days=1), time(0), tzinfo=AMSTERDAM),
        all_day=True,
        agents=[alice],
    )

    event = fetch_feed(alice).walk("VEVENT")[0]

    assert event.decoded("dtstart") == day
    assert event.decoded("dtend") == day + timedelta(days=1)
