"""The zone cases of the times corpus through Exchange, where Windows zone names are native: the
real exchangelib against the local EWS server (whose own expansion, with dateutil on the item's
Windows zone mapped by CLDR, is the right value)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.zone_notes import assert_read_with_a_zone_note
from tests.peers.ews import Recurrence

from .conftest import ALICE

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def pull(agent_calendar):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=True, now=NOW)


def outlook_view(ews, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return sorted((o.start.astimezone(UTC), o.end.astimezone(UTC)) for o in ews.calendar_view(ALICE, start, end))


def helpdesk_view(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    entries = Appointment.objects.visible().overlapping(start, end)
    return sorted((a.start.astimezone(UTC), a.end.astimezone(UTC)) for a in entries)


def test_outlook_series_in_a_windows_zone_stays_on_its_wall_clock_across_dst(importing_exchange, ews):
    ews.outlook_create(
        ALICE,
        subject="Weekly stand-up",
        start=datetime(2027, 3, 15, 9, 0, tzinfo=AMSTERDAM),
        end=datetime(2027, 3, 15, 9, 30, tzinfo=AMSTERDAM),
        time_zone="Europe/Berlin",  # stored by the server as "W. Europe Standard Time"
        recurrence=Recurrence(pattern="WeeklyRecurrence", days_of_week=["Monday"], range="NumberedRecurrence", count=4),
    )
    window = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))

    pull(importing_exchange)

    assert helpdesk_view(*window) == outlook_view(ews, *window)
    local = [start.astimezone(AMSTERDAM).time().hour for start, _ in helpdesk_view(*window)]
    assert set(local) == {9}


def test_outlook_entry_in_eastern_time_keeps_its_instant_for_an_amsterdam_technician(importing_exchange, ews):
    new_york = ZoneInfo("America/New_York")
    start = datetime(2027, 3, 22, 11, 0, tzinfo=new_york)  # US already on summer time, Europe not yet
    ews.outlook_create(
        ALICE, subject="Call with New York", start=start, end=start + timedelta(hours=1), time_zone="America/New_York"
    )

    pull(importing_exchange)

    (appointment,) = Appointment.objects.visible()
    assert appointment.start == start
    assert appointment.start.astimezone(AMSTERDAM).hour == 16


def test_outlook_all_day_series_is_days_in_the_helpdesk(importing_exchange, ews):
    ews.outlook_create(
        ALICE,
        subject="On call",
        start=date(2027, 3, 15),
        end=date(2027, 3, 16),
        recurrence=Recurrence(
            pattern="WeeklyRecurrence", days_of_week=["Monday"], range="EndDateRecurrence", end_date=date(2027, 4, 12)
        ),
    )

    pull(importing_exchange)

    days = [(a.start_date, a.end_date, a.all_day) for a in Appointment.objects.visible().order_by("start")]
    assert days == [
        (date(2027, 3, 15) + timedelta(weeks=n), date(2027, 3, 16) + timedelta(weeks=n), True) for n in range(5)
    ]


def test_helpdesk_series_in_the_spring_gap_reaches_exchange_at_three(
    alice_exchange, ews, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=3",
            agents=[alice_exchange.agent],
            start=datetime(2027, 3, 21, 2, 0),
            end=datetime(2027, 3, 21, 3, 0),
            subject="Night backup check",
        )
    window = (datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 4, 10, tzinfo=UTC))

    assert not SyncLink.objects.get(appointment=master).pending
    (item,) = ews.items(ALICE)
    assert item.start_tz == "W. Europe Standard Time"
    assert outlook_view(ews, *window) == helpdesk_view(*window)
    second = helpdesk_view(*window)[1]
    assert [moment.astimezone(AMSTERDAM).hour for moment in second] == [3, 4]


def test_outlook_entry_in_a_zone_exchangelib_cannot_map_keeps_its_instant_and_names_itself(
    importing_exchange, ews, client
):
    # Outlook sends "Customized Time Zone" for a zone the user defined; no CLDR table maps it, so
    # exchangelib warns and leaves the item without a zone. EWS gives the times in UTC all the same.
    start = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    ews.outlook_create(
        ALICE,
        subject="Site visit",
        start=start,
        end=start + timedelta(hours=1),
        time_zone="UTC",
        start_tz="Customized Time Zone",
        end_tz="Customized Time Zone",
    )
    ews.outlook_create(ALICE, subject="Dentist", start=start + timedelta(hours=3), end=start + timedelta(hours=4))

    report = pull(importing_exchange)

    assert_read_with_a_zone_note(
        report,
        importing_exchange,
        client,
        zone="Customized Time Zone",
        reading="as UTC",
        start=start,
        end=start + timedelta(hours=1),
    )


def test_outlook_series_on_the_last_weekday_of_the_month_imports_with_its_occurrences(importing_exchange, ews):
    # "The last weekday of every month" (MS-OXWSCDATA DayOfWeekType "Weekday", DayOfWeekIndex "Last")
    # is RFC 5545's BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1 (review 2, fault 4): it imports, on the days
    # dateutil gives for that rule, where it was once refused as having no RRULE.
    start = datetime(2026, 12, 31, 9, 0, tzinfo=AMSTERDAM)
    ews.outlook_create(
        ALICE,
        subject="Month close",
        start=start,
        end=start + timedelta(hours=1),
        recurrence=Recurrence(
            pattern="RelativeMonthlyRecurrence", days_of_week=["Weekday"], day_of_week_index="Last", count=6,
            range="NumberedRecurrence",
        ),
    )  # fmt: skip
    ews.outlook_create(ALICE, subject="Dentist", start=start + timedelta(hours=3), end=start + timedelta(hours=4))

    report = pull(importing_exchange)

    assert report.failed == 0
    assert Appointment.objects.filter(subject="Dentist").exists()
    rule = rrulestr("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=6", dtstart=start.replace(tzinfo=None))
    expected = [moment.replace(tzinfo=AMSTERDAM) for moment in rule]
    # The series' master and its occurrences (the first starts with the master).
    made = sorted(set(Appointment.objects.filter(subject="Month close").values_list("start", flat=True)))
    assert made == expected
