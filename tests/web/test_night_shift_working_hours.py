"""Working hours that cross midnight: a night-shift technician works 22:00-06:00, an end before
the start meaning the next day. The model and admin form accept it; every reader of working hours
(/api/working-hours/, outside-working-hours checks, "Find a slot") reads it as the night.

Expected instants are built with dateutil (rrule and its zone data), not with our code. Amsterdam
moves from CET (UTC+1) to CEST (UTC+2) at 02:00 on Sunday 29 March 2026, so the night of
Saturday 28 March is 7 hours long.
"""

from datetime import datetime, time, timedelta

import pytest
from dateutil import tz
from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule
from django.core.exceptions import ValidationError

from calendars.selectors import outside_working_hours
from tickets import selectors, services

AMS = tz.gettz("Europe/Amsterdam")
URL = "/api/working-hours/"
NIGHT = {"working_hours_start": time(22), "working_hours_end": time(6)}


def _nights(first: datetime, count: int, days=(MO, TU, WE, TH, FR)) -> list[tuple[datetime, datetime]]:
    """Night shifts starting 22:00 on `days` from `first` on, each to 06:00 the next morning."""
    starts = rrule(DAILY, byweekday=days, dtstart=first.replace(hour=22), count=count)
    return [(start, (start + timedelta(days=1)).replace(hour=6)) for start in starts]


def _hours(body, agent) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"])) for i in body[str(agent.pk)]]


def test_a_night_shift_is_valid_and_hours_that_end_when_they_start_are_not(make_agent):
    nina = make_agent("nina", **NIGHT)
    nina.full_clean()

    nina.working_hours_end = time(22)
    with pytest.raises(ValidationError) as refused:
        nina.full_clean()
    assert "For a night shift give an end before the start" in str(refused.value)


def test_the_api_answers_each_night_to_the_next_morning(api_client, coordinator, make_agent):
    """From Tuesday 3 March 00:00 to Saturday 7 March 00:00: the tail of Monday's night first."""
    nina = make_agent("nina", **NIGHT)
    start, end = datetime(2026, 3, 3, tzinfo=AMS), datetime(2026, 3, 7, tzinfo=AMS)

    body = api_client(coordinator).get(URL, {"start": start.isoformat(), "end": end.isoformat(), "agent": [nina.pk]})

    assert body.status_code == 200
    monday_tail = (start, datetime(2026, 3, 3, 6, tzinfo=AMS))
    assert _hours(body.json()["agents"], nina) == [monday_tail, *_nights(start, 4)[:3], _friday_until(end)]


def _friday_until(end: datetime) -> tuple[datetime, datetime]:
    return (datetime(2026, 3, 6, 22, tzinfo=AMS), end)


def test_the_night_into_summer_time_is_seven_hours(api_client, coordinator, make_agent):
    nina = make_agent("nina", working_days=[5], **NIGHT)  # Saturday nights
    start, end = datetime(2026, 3, 28, tzinfo=AMS), datetime(2026, 3, 30, tzinfo=AMS)

    body = api_client(coordinator).get(URL, {"start": start.isoformat(), "end": end.isoformat(), "agent": [nina.pk]})

    [(begin, finish)] = _hours(body.json()["agents"], nina)
    assert (begin, finish) == (datetime(2026, 3, 28, 22, tzinfo=AMS), datetime(2026, 3, 29, 6, tzinfo=AMS))
    assert finish - begin == timedelta(hours=7)


def test_work_at_3_in_the_morning_is_inside_the_night_and_at_7_it_is_not(make_agent):
    nina = make_agent("nina", **NIGHT)
    tuesday_3 = datetime(2026, 3, 3, 3, tzinfo=AMS)  # Monday night's shift
    tuesday_7 = datetime(2026, 3, 3, 7, tzinfo=AMS)

    assert outside_working_hours([(tuesday_3, tuesday_3 + timedelta(hours=1))], [nina]) == []
    [outside] = outside_working_hours([(tuesday_7, tuesday_7 + timedelta(hours=1))], [nina])
    assert outside.spans == ((tuesday_7, tuesday_7 + timedelta(hours=1)),)
    assert "22:00–06:00 the next day" in outside.working_hours


def test_find_a_slot_proposes_the_night(make_agent):
    """Monday noon: the first slots are Monday 22:00 (that afternoon/evening) and Tuesday 00:00
    (the next half-day, still Monday's shift)."""
    nina = make_agent("nina", **NIGHT)
    ticket = services.create_request(summary="Server patch", assigned_agents=[nina], estimate=timedelta(hours=1))

    found = selectors.slot_proposals(ticket, now=datetime(2035, 3, 5, 12, tzinfo=AMS))

    nights = _nights(datetime(2035, 3, 5, tzinfo=AMS), 2)
    assert [slot.start for slot in found.slots[:2]] == [nights[0][0], nights[0][0] + timedelta(hours=2)]
    assert all(any(begin <= slot.start and slot.end <= finish for begin, finish in nights) for slot in found.slots[:2])
