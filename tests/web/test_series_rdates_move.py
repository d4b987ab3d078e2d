"""A whole series moved to another time or day takes its added days (RDATE, RFC 5545 3.8.5.2)
with it, by the same shift on the series' wall clock, as its cancelled days (EXDATE) and its
exceptions move (trial: the RDATE stayed at the old time, an occurrence at 09:00 in a series
moved to 11:00).

Oracle: dateutil's rruleset expansion of the series before the move (RRULE + RDATE on the
Amsterdam wall clock), every start shifted by the move on that wall clock (09:00 stays the 09:00
of each day across the change to summer time on 25 March 2035)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule

from calendars import services
from calendars.models import Appointment

AMS = ZoneInfo("Europe/Amsterdam")
FIRST = datetime(2035, 3, 5, 9, 0)  # Monday, CET
ADDED = datetime(2035, 3, 28, 9, 0)  # Wednesday, CEST (after 25 March)
RULE = "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=MO\nRDATE:20350328T070000Z"  # 09:00 CEST in UTC


def before_move() -> list[datetime]:
    """The series' starts on the Amsterdam wall clock (naive), by dateutil."""
    starts = rrule.rruleset()
    starts.rrule(rrule.rrule(rrule.WEEKLY, byweekday=rrule.MO, count=4, dtstart=FIRST))
    starts.rdate(ADDED)
    return list(starts)


def wall_starts(master: Appointment) -> list[datetime]:
    rows = Appointment.objects.filter(master=master, is_cancelled=False).order_by("start")
    return [row.start.astimezone(AMS).replace(tzinfo=None) for row in rows]


def make_series(agent) -> Appointment:
    return services.create_recurring_appointment(
        rule=RULE,
        agents=[agent],
        subject="Round",
        start=FIRST.replace(tzinfo=AMS),
        end=(FIRST + timedelta(minutes=30)).replace(tzinfo=AMS),
        time_zone=AMS,
        now=datetime(2035, 3, 1, tzinfo=AMS),
    )


@pytest.mark.parametrize(
    "shift",
    [timedelta(hours=2), timedelta(days=1, hours=2), timedelta(days=-1)],
    ids=["two hours later", "a day and two hours later", "a day earlier"],
)
def test_a_moved_series_moves_its_added_days_by_the_same_wall_clock_shift(alice, shift):
    master = make_series(alice)
    assert wall_starts(master) == before_move()
    new_start = (FIRST + shift).replace(tzinfo=AMS)

    services.edit_appointment(master, start=new_start, end=new_start + timedelta(minutes=30))

    master.refresh_from_db()
    assert wall_starts(master) == [start + shift for start in before_move()]
    # The rule keeps one added day, at its shifted start (UTC, as it was written).
    [added] = master.schedule.recurrence.rdates
    assert added.astimezone(AMS).replace(tzinfo=None) == ADDED + shift


def test_an_api_patch_of_a_series_start_moves_its_added_day(api_client, alice):
    master = make_series(alice)
    body = {"start": "2035-03-05T11:00:00+01:00", "end": "2035-03-05T11:30:00+01:00", "confirm_overlap": True}

    response = api_client(alice.user).patch(f"/api/appointments/{master.pk}/", body, format="json")

    assert response.status_code == 200, response.content
    assert wall_starts(master) == [start + timedelta(hours=2) for start in before_move()]
