"""Lengths across the autumn change (task autumn, fault 3): Python subtracts two datetimes with the
same tzinfo on the wall clock, so 01:30 to 03:00 on 31 Oct 2027 in Europe/Amsterdam (+02:00, then
+01:00) came out 1 h 30 min long, not its real 2 h 30 min. Expected values: zoneinfo's instants
(PEP 495), the length between them in UTC; RFC 5545 3.8.5.3: every instance lasts that exact time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars import services

AMS = ZoneInfo("Europe/Amsterdam")
pytestmark = pytest.mark.django_db

# What a person types on the occurrence of the autumn night, on the wall clock (a form's naive times).
TYPED_START, TYPED_END = datetime(2027, 10, 31, 1, 30), datetime(2027, 10, 31, 3, 0)
START_UTC = TYPED_START.replace(tzinfo=AMS).astimezone(UTC)  # 23:30 the day before (+02:00)
END_UTC = TYPED_END.replace(tzinfo=AMS).astimezone(UTC)  # 02:00 (+01:00)


@pytest.mark.parametrize("scope", ["all", "following"])
def test_a_series_edited_on_its_autumn_night_occurrence_keeps_the_typed_times(alice, scope):
    start = datetime(2027, 10, 24, 1, 30, tzinfo=AMS)  # a Sunday: weekly, the 31st the second
    master = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=4",
        agents=[alice],
        start=start,
        end=start + timedelta(hours=1),
        subject="Night backup",
        time_zone="Europe/Amsterdam",
        now=datetime(2027, 10, 1, tzinfo=UTC),
    )
    night = master.occurrences.order_by("original_start")[1]
    assert night.start == START_UTC

    saved = services.edit_occurrences(night, scope=scope, start=TYPED_START, end=TYPED_END)

    series = saved.master if saved.is_occurrence else saved
    occurrences = list(series.occurrences.order_by("original_start"))
    night = next(o for o in occurrences if o.original_start == START_UTC)
    assert (night.start, night.end) == (START_UTC, END_UTC)
    assert timedelta(hours=2, minutes=30) == END_UTC - START_UTC  # the real length (zoneinfo)
    # Each occurrence of the series lasts that exact time, the master too.
    assert {o.end - o.start for o in occurrences} == {END_UTC - START_UTC}
    series.refresh_from_db()
    assert series.end - series.start == END_UTC - START_UTC
