"""The six inputs of the issue on times and series, each with the right value from RFC 5545 and an
independent reading (recurring-ical-events, dateutil), never from our own code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.providers.base import UnreadableEntry
from integrations.providers.caldav import build_calendar, parse_event
from integrations.sync import inbound, mapping
from tests.feed_tokens import feed_token_of
from tests.integrations.test_times_corpus import NOW, WINDOW, corpus_text, expanded

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def imported(agent, name: str) -> Appointment:
    return inbound.import_remote_event(agent, parse_event(corpus_text(name), remote_id=f"/x/{name}"))


def local_spans(master: Appointment, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    return [
        (occurrence.start.astimezone(zone).replace(tzinfo=None), occurrence.end.astimezone(zone).replace(tzinfo=None))
        for occurrence in master.occurrences.filter(is_cancelled=False).order_by("start")
    ]


def pushed(appointment: Appointment) -> Calendar:
    """The object a push writes for the appointment (the CalDAV provider's own writer)."""
    event = mapping.local_event(appointment, settings=CalendarSettings.load(), marker="uid-1", templated=False)
    return Calendar.from_ical(build_calendar(event))


def test_outlook_windows_zone_series_stays_at_nine_local_after_dst(make_agent):
    master = imported(make_agent("alice"), "outlook-windows-zone-weekly.ics")

    assert local_spans(master, AMSTERDAM) == [
        (datetime(2027, month, day, 9, 0), datetime(2027, month, day, 9, 30))
        for month, day in ((3, 15), (3, 22), (3, 29), (4, 5))
    ]
    written = pushed(master).walk("VEVENT")[0]
    assert written.decoded("dtstart").tzinfo.key in ("Europe/Amsterdam", "Europe/Berlin")  # a wall clock, not UTC
    assert written.decoded("dtstart").replace(tzinfo=None) == datetime(2027, 3, 15, 9, 0)


def test_floating_time_is_on_the_technicians_wall_clock(make_agent):
    appointment = imported(make_agent("alice", time_zone="America/New_York"), "apple-floating-time.ics")

    assert appointment.start == datetime(2027, 2, 10, 9, 0, tzinfo=NEW_YORK)
    assert appointment.end == datetime(2027, 2, 10, 10, 0, tzinfo=NEW_YORK)
    written = pushed(appointment).walk("VEVENT")[0]
    assert written.decoded("dtstart") == datetime(2027, 2, 10, 14, 0, tzinfo=UTC)


def test_all_day_series_is_five_days_for_a_coordinator_in_another_zone(make_agent, client):
    alice = make_agent("alice", import_external=True)
    master = imported(alice, "google-allday-weekly-across-dst.ics")
    days = [date(2027, 3, 15) + timedelta(weeks=n) for n in range(5)]

    occurrences = list(master.occurrences.order_by("start"))
    assert [(o.start_date, o.end_date) for o in occurrences] == [(d, d + timedelta(days=1)) for d in days]
    client.force_login(make_agent("carol", time_zone="America/Los_Angeles").user)
    listed = client.get(
        "/api/appointments/", {"agent": alice.pk, "start": "2027-03-01T00:00Z", "end": "2027-05-01T00:00Z"}
    )
    assert [(item["start_date"], item["end_date"], item["all_day"]) for item in listed.json()["results"]] == [
        (d.isoformat(), (d + timedelta(days=1)).isoformat(), True) for d in days
    ]
    written = pushed(master).walk("VEVENT")[0]
    assert written.decoded("dtstart") == date(2027, 3, 15)
    assert written["rrule"].to_ical() in (b"FREQ=WEEKLY;UNTIL=20270412", b"UNTIL=20270412;FREQ=WEEKLY")


def test_all_day_entry_keeps_its_day_in_a_team_feed_seen_from_another_zone(make_agent, client):
    alice = make_agent("alice", team="Field", import_external=True)
    imported(alice, "thunderbird-allday-single.ics")
    carol = make_agent("carol", time_zone="Pacific/Auckland")
    carol.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    team = alice.teams.get()

    feed = client.get(reverse("feeds:team", args=[team.pk, feed_token_of(carol)]), {"external": "1"})

    (event,) = Calendar.from_ical(feed.content).walk("VEVENT")
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (date(2027, 4, 27), date(2027, 4, 28))


def test_this_and_following_change_moves_every_later_occurrence(make_agent):
    master = imported(make_agent("alice"), "apple-this-and-future-moved.ics")

    assert [start.time().hour for start, _ in local_spans(master, AMSTERDAM)] == [9, 9, 14, 14, 14, 14]
    given = Calendar.from_ical(corpus_text("apple-this-and-future-moved.ics"))
    assert expanded(pushed(master), AMSTERDAM) == expanded(given, AMSTERDAM)


def test_exception_beyond_the_horizon_stays_cancelled_when_the_series_extends(make_agent):
    master = imported(make_agent("alice"), "nextcloud-exdate-beyond-horizon.ics")
    cancelled = datetime(2027, 12, 27, 9, 0, tzinfo=AMSTERDAM)
    assert master.schedule.materialised_until < cancelled  # not made yet when imported

    calendar_services.extend_recurring_appointments(now=NOW + timedelta(days=120))

    starts = set(master.occurrences.filter(is_cancelled=False).values_list("start", flat=True))
    assert datetime(2027, 12, 20, 9, 0, tzinfo=AMSTERDAM) in starts
    assert cancelled not in starts
    written = pushed(master).walk("VEVENT")[0]
    exdate = written["exdate"]
    assert cancelled in [
        moment.dt for prop in (exdate if isinstance(exdate, list) else [exdate]) for moment in prop.dts
    ]


def test_weekly_series_in_the_spring_gap_can_be_made(make_agent):
    alice = make_agent("alice")

    master = calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=3",
        agents=[alice],
        start=datetime(2027, 3, 21, 2, 0),
        end=datetime(2027, 3, 21, 3, 0),
        subject="Night backup check",
    )

    spans = local_spans(master, AMSTERDAM)
    # RFC 5545 3.3.5: 02:00 does not exist on 28 March; read with the offset before the gap, it is 03:00 CEST.
    assert spans[1] == (datetime(2027, 3, 28, 3, 0), datetime(2027, 3, 28, 4, 0))
    assert spans[2] == (datetime(2027, 4, 4, 2, 0), datetime(2027, 4, 4, 3, 0))


def test_occurrence_moved_beyond_the_horizon_is_moved_when_it_is_made(make_agent, client):
    alice = make_agent("alice", import_external=True)
    master = imported(alice, "google-moved-beyond-horizon.ics")
    original = datetime(2027, 12, 20, 9, 0, tzinfo=AMSTERDAM)
    moved = (datetime(2027, 12, 21, 10, 0, tzinfo=AMSTERDAM), datetime(2027, 12, 21, 10, 30, tzinfo=AMSTERDAM))
    assert not master.occurrences.filter(original_start=original).exists()  # beyond the horizon today

    given = Calendar.from_ical(corpus_text("google-moved-beyond-horizon.ics"))
    late = (datetime(2027, 12, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
    right = [span for span in expanded_between(given, *late)]
    assert expanded_between(pushed(master), *late) == right
    feed = client.get(reverse("feeds:agent", args=[feed_token_of(alice)]), {"external": "1"})
    assert expanded_between(Calendar.from_ical(feed.content), *late) == right

    calendar_services.extend_recurring_appointments(now=NOW + timedelta(days=60))

    occurrence = master.occurrences.get(original_start=original)
    assert (occurrence.start, occurrence.end, occurrence.is_modified) == (*moved, True)
    assert occurrence.subject == "Monday planning (Tuesday this time)"
    master.schedule.refresh_from_db()
    assert master.schedule.future_exceptions == []
    assert expanded_between(pushed(master), *late) == right


def expanded_between(calendar: Calendar, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return sorted(
        (event.start.astimezone(UTC), event.end.astimezone(UTC))
        for event in recurring_ical_events.of(calendar).between(start, end)
    )


OLD_DAILY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Old daily stand-up//EN
BEGIN:VEVENT
UID:old-daily-standup
DTSTAMP:20100101T000000Z
DTSTART;TZID=Europe/Amsterdam:20100104T091500
DTEND;TZID=Europe/Amsterdam:20100104T093000
RRULE:FREQ=DAILY
SUMMARY:Daily stand-up
END:VEVENT
END:VCALENDAR
"""


def test_a_daily_series_begun_sixteen_years_ago_is_imported_for_the_year_ahead(make_agent):
    """A daily stand-up since January 2010 gives about 6,200 starts up to next year, but only the
    year the helpdesk keeps counts against its 5,000-a-year cap (the starts it stores: import
    window to horizon); it was refused as "more than 5000 occurrences in a year". The right
    occurrences: recurring-ical-events over the compared days."""
    agent = make_agent("alice")
    text = OLD_DAILY
    days = (WINDOW[0] + timedelta(days=1), WINDOW[1])  # the window's first day starts before its first hour
    master = inbound.import_remote_event(agent, parse_event(text, remote_id="/x/old-daily.ics"))

    shown = [
        (occurrence.start.astimezone(UTC), occurrence.end.astimezone(UTC))
        for occurrence in master.occurrences.filter(is_cancelled=False, start__gte=days[0], start__lt=days[1]).order_by(
            "start"
        )
    ]
    expected = [
        (event.decoded("dtstart").astimezone(UTC), event.decoded("dtend").astimezone(UTC))
        for event in recurring_ical_events.of(Calendar.from_ical(text)).between(*days)
    ]
    assert len(expected) > 300 and shown == expected


def test_an_imported_series_is_counted_over_the_span_its_occurrences_are_made_for(make_agent):
    """Review 14: the import counted a series' starts from now to a year ahead against the cap of
    5,000, but makes occurrences from the import window's start (30 days back). Thirteen starts a
    day since 60 days ago: dateutil gives at most 5,000 in the year ahead and more in the span made,
    so the series is refused, not stored with more rows than the cap."""
    hours = ",".join(str(hour) for hour in range(6, 19))
    start = (NOW.astimezone(AMSTERDAM) - timedelta(days=60)).replace(hour=6, minute=0, second=0, microsecond=0)
    local, now = start.replace(tzinfo=None), NOW.astimezone(AMSTERDAM).replace(tzinfo=None)
    rule = rrulestr(f"FREQ=DAILY;BYHOUR={hours}", dtstart=local)
    assert len(rule.between(now, now + timedelta(days=365), inc=True)) <= 5000
    assert len(rule.between(now - timedelta(days=30), now + timedelta(days=365), inc=True)) > 5000
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Rounds//EN\r\nBEGIN:VEVENT\r\nUID:rounds\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Amsterdam:{local:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=Europe/Amsterdam:{local + timedelta(minutes=30):%Y%m%dT%H%M%S}\r\n"
        f"RRULE:FREQ=DAILY;BYHOUR={hours}\r\nSUMMARY:Rounds\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    with pytest.raises(UnreadableEntry, match="gives more than 5000 occurrences in a year and the days before it"):
        inbound.import_remote_event(make_agent("alice"), parse_event(text, remote_id="/x/rounds.ics"))
    assert not Appointment.objects.exists()
