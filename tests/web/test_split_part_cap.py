""" "Find a slot" proposes work longer than a working day in parts, and book-split refuses more
than 100 parts (calendars.availability.MAX_PARTS, tickets.services._check_parts): a proposal must
never be one its own "Book in parts" button cannot book.

A technician working one hour a day (08:00-09:00, Monday to Friday) needs one part a day: 100
hours is 100 parts on the first 100 working days (dateutil's rrule gives them), 101 hours is
refused with a message that says why.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

from calendars.availability import Busy, Mode, Options, Technician, find_split
from tickets import selectors, services

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2035, 3, 5, 7, 10, tzinfo=AMS)  # a Monday, before the working day
HOUR = timedelta(hours=1)


def _working_days(first: date, count: int) -> list[date]:
    rule = rrule(DAILY, byweekday=(MO, TU, WE, TH, FR), dtstart=datetime.combine(first, time(0)))
    return [moment.date() for moment in rule[:count]]


def _one_hour_a_day(make_agent):
    return make_agent("nina", working_hours_start=time(8), working_hours_end=time(9))


def test_a_100_hour_job_on_one_hour_days_is_proposed_in_100_parts(make_agent):
    nina = _one_hour_a_day(make_agent)
    ticket = services.create_request(summary="Archive", assigned_agents=[nina], estimate=100 * HOUR)

    found = selectors.slot_proposals(ticket, now=NOW)

    days = _working_days(NOW.date(), 100)
    expected = [
        (datetime.combine(day, time(8), tzinfo=AMS).astimezone(UTC), datetime.combine(day, time(9), tzinfo=AMS))
        for day in days
    ]
    assert found.split_refused is None
    assert [(b, e) for b, e in found.split.parts] == expected


def test_a_101_hour_job_on_one_hour_days_is_refused_with_the_reason(make_agent):
    nina = _one_hour_a_day(make_agent)
    ticket = services.create_request(summary="Archive", assigned_agents=[nina], estimate=101 * HOUR)

    found = selectors.slot_proposals(ticket, now=NOW)

    assert found.split is None
    assert "more than 100 parts" in found.split_refused


def test_page_and_api_say_why_101_parts_are_not_proposed(make_agent, coordinator, page_client, api_client):
    nina = _one_hour_a_day(make_agent)
    ticket = services.create_request(summary="Archive", assigned_agents=[nina], estimate=101 * HOUR)

    page = page_client(coordinator).get(f"/requests/{ticket.pk}/", {"find": "1"})
    answer = api_client(coordinator).get(f"/api/requests/{ticket.pk}/find-slot/").json()

    assert "more than 100 parts" in page.content.decode()
    assert "Book in 101 parts" not in page.content.decode()
    assert answer["split"] is None and "more than 100 parts" in answer["split_refused"]
    assert answer["searched_from"] == answer["searched_until"] is not None  # nothing searched


def _fragmented(hours: int):
    """Working days 08:00-17:00 with everything but 08:00-09:00 and 10:00-11:00 taken: two
    one-hour parts a day, so the longest day (9 h) alone does not show the cap."""
    tech = Technician(1, "Nina", AMS, (0, 1, 2, 3, 4), time(8), time(17))
    days = _working_days(NOW.date(), 60)
    busy = []
    for day in days:
        busy.append(Busy(1, datetime.combine(day, time(9), tzinfo=AMS), datetime.combine(day, time(10), tzinfo=AMS)))
        busy.append(Busy(1, datetime.combine(day, time(11), tzinfo=AMS), datetime.combine(day, time(17), tzinfo=AMS)))
    period = (datetime.combine(days[0], time(0), tzinfo=AMS), datetime.combine(days[-1], time(23), tzinfo=AMS))
    options = Options(duration=hours * HOUR, mode=Mode.TOGETHER)
    return find_split([tech], busy, period=period, options=options, now=period[0])


def test_a_split_of_fragmented_days_stops_at_100_parts():
    assert len(_fragmented(100).parts) == 100
    assert _fragmented(101) is None
