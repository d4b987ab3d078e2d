"""A series moved to another clock (its schedule's time zone) keeps its wall-clock times on the new
one, as a coordinator means it: 09:00 Amsterdam becomes 09:00 New York. Its exceptions' keys
(EXDATE, RFC 5545 3.8.5.1; RECURRENCE-ID, 3.8.4.4) and its UNTIL (3.3.10) move with it, as for a
move of the series. Expected starts come from dateutil's rrule on the new zone's wall clock."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import WEEKLY, rrule, rrulestr
from django.core.exceptions import ValidationError

from calendars import services
from calendars.models import Appointment
from calendars.selectors import schedule_zone, series_exceptions
from calendars.series_words import rule_text
from tests.calendars.test_series_split import mondays_at_nine

pytestmark = pytest.mark.django_db

AMS, NEW_YORK = ZoneInfo("Europe/Amsterdam"), ZoneInfo("America/New_York")
HALF = timedelta(minutes=30)


def shown(master: Appointment) -> list[tuple[datetime, datetime]]:
    occurrences = Appointment.objects.visible().filter(master=master).order_by("start")
    return [(o.start, o.end) for o in occurrences]


@pytest.fixture
def weekly(alice) -> Appointment:
    """Mondays 09:00-09:30 Amsterdam from 4 Mar 2030, eight times (New York on summer time from
    10 Mar, Amsterdam from 31 Mar); the second moved to the Tuesday, the fourth cancelled."""
    series = mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=8")
    services.update_appointment(
        series.occurrences.get(original_start=datetime(2030, 3, 11, 9, tzinfo=AMS)),
        start=datetime(2030, 3, 12, 9, tzinfo=AMS),
        end=datetime(2030, 3, 12, 9, 30, tzinfo=AMS),
    )
    services.cancel_occurrence(series.occurrences.get(original_start=datetime(2030, 3, 25, 9, tzinfo=AMS)))
    return Appointment.objects.get(pk=series.pk)


def test_a_series_moved_to_new_york_keeps_nine_oclock_there_with_its_exceptions(weekly):
    changed = services.edit_appointment(weekly, time_zone="America/New_York")

    master = Appointment.objects.get(pk=weekly.pk)
    assert schedule_zone(master.schedule) == NEW_YORK
    starts = [s.replace(tzinfo=NEW_YORK) for s in rrule(WEEKLY, count=8, dtstart=datetime(2030, 3, 4, 9))]
    moved_key, cancelled_key = starts[1], starts[3]
    moved = (datetime(2030, 3, 12, 9, tzinfo=AMS), datetime(2030, 3, 12, 9, 30, tzinfo=AMS))  # kept as moved
    assert shown(master) == sorted([(s, s + HALF) for s in starts if s not in (moved_key, cancelled_key)] + [moved])
    assert (master.start, master.end) == (starts[0], starts[0] + HALF)
    found = series_exceptions(master)
    assert found.cancelled == [cancelled_key]
    assert [(m.original_start, m.start) for m in found.moved] == [(moved_key, moved[0])]
    assert changed.dropped_exceptions == []


def test_a_cancelled_start_not_made_yet_and_the_until_move_to_the_new_clock(alice):
    series = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;UNTIL=20310428T070000Z",  # the last start: 09:00 Amsterdam on 28 Apr 2031
        subject="Stand-up",
        agents=[alice],
        start=datetime(2030, 3, 4, 9, tzinfo=AMS),
        end=datetime(2030, 3, 4, 9, 30, tzinfo=AMS),
    )
    far = datetime(2031, 4, 21, 9, tzinfo=AMS)  # beyond the year of occurrences made
    services.keep_cancelled_starts(series, [far])
    count_before = len(list(rrulestr(rule_text(series), dtstart=series.start.astimezone(AMS))))

    services.edit_appointment(Appointment.objects.get(pk=series.pk), time_zone="America/New_York")

    master = Appointment.objects.get(pk=series.pk)
    after = list(rrulestr(rule_text(master), dtstart=master.start.astimezone(NEW_YORK)))
    assert len(after) == count_before
    assert after[-1] == datetime(2031, 4, 28, 9, tzinfo=NEW_YORK)
    assert series_exceptions(master).cancelled == [datetime(2031, 4, 21, 9, tzinfo=NEW_YORK)]


def test_an_all_day_series_has_no_clock_to_change(alice):
    series = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=3",
        subject="On call",
        agents=[alice],
        start=datetime(2030, 3, 4).date(),
        end=datetime(2030, 3, 5).date(),
        all_day=True,
    )

    with pytest.raises(ValidationError) as refused:
        services.edit_appointment(Appointment.objects.get(pk=series.pk), time_zone="America/New_York")

    assert "time_zone" in refused.value.message_dict
