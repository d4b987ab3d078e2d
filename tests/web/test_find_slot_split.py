""" "Find a slot" for work longer than a working day (dispatch task 1): a 12-hour job on 08:00-17:00
days fits in no slot, so instead of searching to the horizon and advising "search from a later
date", the page and the API say so and propose the work in parts on consecutive working days of
the same technician(s), each part at least an hour, bookable in one click.

Expected parts are worked out here with dateutil's rrule (the default working week, Monday to
Friday 08:00-17:00 on the technician's clock) and plain datetime arithmetic, never with the
availability code.
"""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import selectors, services

AMS = ZoneInfo("Europe/Amsterdam")
BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2035, 3, 5, 7, 10, tzinfo=AMS)  # a Monday, before the working day
HOUR = timedelta(hours=1)


def _working_days(first: date, count: int) -> list[date]:
    """`count` Monday-to-Friday days from `first` on (dateutil)."""
    rule = rrule(DAILY, byweekday=(MO, TU, WE, TH, FR), dtstart=datetime.combine(first, datetime.min.time()))
    return [moment.date() for moment in rule[:count]]


def _at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = AMS) -> datetime:
    """`hour`:`minute` on `day`'s wall clock in `zone`, as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def _utc(parts) -> list[tuple[datetime, datetime]]:
    return [(begin.astimezone(UTC), finish.astimezone(UTC)) for begin, finish in parts]


def _busy(agent, start: datetime, end: datetime) -> None:
    calendar_services.create_appointment(subject="Project", start=start, end=end, agents=[agent])


def test_a_12_hour_job_is_split_over_two_working_days_of_the_same_technician(alice):
    """08:00-17:00 is 9 hours: Monday 08:00-17:00 and Tuesday 08:00-11:00 (9 + 3 = 12)."""
    ticket = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12))

    found = selectors.slot_proposals(ticket, now=NOW)

    monday, tuesday = _working_days(NOW.date(), 2)
    assert found.too_long and found.longest_day == timedelta(hours=9)
    assert found.slots == []
    assert _utc(found.split.parts) == [(_at(monday, 8), _at(monday, 17)), (_at(tuesday, 8), _at(tuesday, 11))]
    assert found.split.agent_ids == (alice.pk,)
    assert sum((b - a for a, b in found.split.parts), timedelta(0)) == timedelta(hours=12)


def test_a_job_that_fits_in_a_working_day_still_gets_slots(alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice], estimate=timedelta(hours=9))

    found = selectors.slot_proposals(ticket, now=NOW)

    assert not found.too_long and found.split is None
    assert found.slots[0].start == _at(NOW.date(), 8)


def test_parts_run_on_consecutive_working_days_and_a_fully_booked_day_breaks_the_run(alice):
    """20 hours; Alice is booked all Wednesday. Monday + Tuesday give only 18 hours before the
    booked day, so the run starts on Thursday: Thursday 9 h, Friday 9 h and, the weekend not being
    working days, Monday 08:00-10:00."""
    ticket = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=20))
    days = _working_days(NOW.date(), 6)  # Mon Tue Wed Thu Fri Mon
    _busy(alice, _at(days[2], 8), _at(days[2], 17))

    found = selectors.slot_proposals(ticket, now=NOW)

    assert _utc(found.split.parts) == [
        (_at(days[3], 8), _at(days[3], 17)),
        (_at(days[4], 8), _at(days[4], 17)),
        (_at(days[5], 8), _at(days[5], 10)),
    ]


def test_every_free_block_of_a_day_counts_and_no_part_is_shorter_than_an_hour(alice):
    """12 hours; Tuesday 09:00-10:00 is taken: Monday 9 h, Tuesday 08:00-09:00 (1 h) and
    10:00-12:00 (2 h). And 9 h 30 min: Monday's 9 hours would leave a 30-minute scrap, so Monday
    is cut to 08:00-16:30 and Tuesday gets the least part, 08:00-09:00."""
    monday, tuesday = _working_days(NOW.date(), 2)
    _busy(alice, _at(tuesday, 9), _at(tuesday, 10))
    ticket = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12))

    found = selectors.slot_proposals(ticket, now=NOW)

    assert _utc(found.split.parts) == [
        (_at(monday, 8), _at(monday, 17)),
        (_at(tuesday, 8), _at(tuesday, 9)),
        (_at(tuesday, 10), _at(tuesday, 12)),
    ]
    services.update_request(ticket, estimate=timedelta(hours=9, minutes=30))
    found = selectors.slot_proposals(ticket, now=NOW)
    assert _utc(found.split.parts) == [(_at(monday, 8), _at(monday, 16, 30)), (_at(tuesday, 8), _at(tuesday, 9))]
    assert all(b - a >= HOUR for a, b in found.split.parts)


def test_a_split_over_the_daylight_saving_weekend_keeps_the_wall_clock_in_berlin(make_agent):
    """Berlin springs forward on Sunday 25 March 2035. From Friday 23 March: Friday 08:00-17:00
    CET (07:00-16:00 UTC) and Monday 26 March 08:00-11:00 CEST (06:00-09:00 UTC)."""
    klaus = make_agent("klaus", time_zone="Europe/Berlin")
    ticket = services.create_request(summary="Server move", assigned_agents=[klaus], estimate=timedelta(hours=12))
    now = datetime(2035, 3, 23, 6, 30, tzinfo=BERLIN)
    friday, monday = _working_days(now.date(), 2)
    assert (friday, monday) == (date(2035, 3, 23), date(2035, 3, 26))

    found = selectors.slot_proposals(ticket, now=now)

    expected = [(_at(friday, 8, zone=BERLIN), _at(friday, 17, zone=BERLIN))]
    expected.append((_at(monday, 8, zone=BERLIN), _at(monday, 11, zone=BERLIN)))
    assert _utc(found.split.parts) == expected
    assert [part[0].hour for part in expected] == [7, 6]  # CET, then CEST
    assert BERLIN.utcoffset(datetime(2035, 3, 23)) != BERLIN.utcoffset(datetime(2035, 3, 26))


def test_a_team_gets_the_parts_of_one_technician_who_can_start_first(make_agent):
    """Anyone of the team: Carol is booked on Monday, Dave is free: all parts are Dave's."""
    carol = make_agent("carol", team="Desk")
    dave = make_agent("dave", team="Desk")
    monday, tuesday = _working_days(NOW.date(), 2)
    _busy(carol, _at(monday, 8), _at(monday, 17))
    ticket = services.create_request(summary="Server move", estimate=timedelta(hours=12))

    found = selectors.slot_proposals(ticket, team=carol.teams.get(), now=NOW)

    assert found.split.agent_ids == (dave.pk,)
    assert _utc(found.split.parts) == [(_at(monday, 8), _at(monday, 17)), (_at(tuesday, 8), _at(tuesday, 11))]


def test_technicians_together_split_over_their_common_working_day(alice, bob):
    """Alice works 08:00-17:00 Amsterdam, Bob 08:00-17:00 London (09:00-18:00 Amsterdam): together
    8 hours a day, so 9 hours is too long for one slot: Monday 09:00-17:00 and Tuesday 09:00-10:00
    Amsterdam, both of them."""
    ticket = services.create_request(summary="Server move", assigned_agents=[alice, bob], estimate=timedelta(hours=9))

    found = selectors.slot_proposals(ticket, now=NOW)

    monday, tuesday = _working_days(NOW.date(), 2)
    assert found.longest_day == timedelta(hours=8)
    assert _utc(found.split.parts) == [(_at(monday, 9), _at(monday, 17)), (_at(tuesday, 9), _at(tuesday, 10))]
    assert _at(monday, 8, zone=LONDON) == _at(monday, 9)
    assert set(found.split.agent_ids) == {alice.pk, bob.pk}


def test_a_split_search_over_a_year_takes_a_bounded_number_of_queries(make_agent, django_assert_max_num_queries):
    """A team busy beyond the horizon: no split, and the search costs the same few queries for 2
    technicians as for 12 (as the slot search: settings, the team, one busy query per round)."""
    members = [make_agent(f"t{n:02}", team="Busy") for n in range(12)]
    for agent in members:
        _busy(agent, NOW - HOUR, NOW + timedelta(days=800))
    team = members[0].teams.get()
    ticket = services.create_request(summary="Server move", estimate=timedelta(hours=12))

    for size in (2, 12):
        team.members.set(members[:size])
        with django_assert_max_num_queries(9):
            found = selectors.slot_proposals(ticket, team=team, now=NOW)
        assert found.too_long and found.split is None
        assert found.searched_until == NOW + timedelta(days=365)


def _a_monday_in_five_weeks() -> date:
    day = timezone.localdate() + timedelta(weeks=5)
    return day + timedelta(days=(0 - day.weekday()) % 7)


def _page(client, ticket, **query) -> str:
    return client.get(f"/requests/{ticket.pk}/", {"find": "1", **query}).content.decode()


def test_the_page_says_the_job_is_longer_than_a_working_day_and_books_the_parts_in_one_click(
    page_client, coordinator, alice
):
    ticket = services.create_request(
        summary="Server move", site="Hall", assigned_agents=[alice], estimate=timedelta(hours=12)
    )
    monday = _a_monday_in_five_weeks()
    tuesday = monday + timedelta(days=1)
    client = page_client(coordinator)

    page = _page(client, ticket, after=monday.isoformat())

    assert "is longer than" in page and "working day (9 h)" in page
    assert "search from a later date" not in page
    assert ">Book in 2 parts</button>" in page
    starts = [datetime.fromisoformat(v) for v in re.findall(r'name="part_start" value="([^"]+)"', page)]
    ends = [datetime.fromisoformat(v) for v in re.findall(r'name="part_end" value="([^"]+)"', page)]
    expected = [(_at(monday, 8), _at(monday, 17)), (_at(tuesday, 8), _at(tuesday, 11))]
    assert list(zip(starts, ends, strict=True)) == expected

    form = {"part_start": [s.isoformat() for s in starts], "part_end": [e.isoformat() for e in ends], "agent": alice.pk}
    response = client.post(f"/requests/{ticket.pk}/book-split/", form)

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.planned_start == _at(monday, 8)
    assert ticket.estimate == timedelta(hours=12)  # the whole work's, not the first part's
    booked = [(a.start, a.end, a.source, a.subject) for a in ticket.appointments.order_by("start")]
    assert booked == [
        (_at(monday, 8), _at(monday, 17), Appointment.Source.PLANNED, f"#{ticket.pk} Server move"),
        (_at(tuesday, 8), _at(tuesday, 11), Appointment.Source.MANUAL, f"#{ticket.pk} Server move (part 2 of 2)"),
    ]
    assert all(list(a.agents.all()) == [alice] for a in ticket.appointments.all())
    # Found again: booking again replaces this booking (trial 2, F4: its own parts counted as busy
    # pushed a re-plan later and into more parts), so the same parts are proposed.
    again = _page(client, ticket, after=monday.isoformat())
    starts = [datetime.fromisoformat(v) for v in re.findall(r'name="part_start" value="([^"]+)"', again)]
    ends = [datetime.fromisoformat(v) for v in re.findall(r'name="part_end" value="([^"]+)"', again)]
    assert list(zip(starts, ends, strict=True)) == expected
    # Another request's appointment on that Monday is busy time all the same.
    other = services.create_request(summary="Printer", assigned_agents=[alice], estimate=timedelta(hours=1))
    services.update_request(other, planned_start=_at(monday, 8))
    again = _page(client, ticket, after=monday.isoformat())
    starts = [datetime.fromisoformat(v) for v in re.findall(r'name="part_start" value="([^"]+)"', again)]
    assert starts[0] == _at(monday, 9)


def test_moving_the_first_part_on_the_calendar_keeps_the_estimate(alice):
    ticket = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12))
    monday, tuesday = _working_days(NOW.date(), 2)
    first, _ = services.book_split(
        ticket, parts=[(_at(monday, 8), _at(monday, 17)), (_at(tuesday, 8), _at(tuesday, 11))], agents=[alice]
    ).appointments

    calendar_services.update_appointment(first, start=_at(monday, 9), end=_at(monday, 17))

    ticket.refresh_from_db()
    assert (ticket.planned_start, ticket.planned_length, ticket.estimate) == (
        _at(monday, 9),
        timedelta(hours=8),
        timedelta(hours=12),
    )


def test_parts_that_do_not_add_up_to_the_estimate_are_refused(alice):
    ticket = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12))
    monday, tuesday = _working_days(NOW.date(), 2)

    with pytest.raises(Exception, match="add up to"):
        services.book_split(
            ticket, parts=[(_at(monday, 8), _at(monday, 17)), (_at(tuesday, 8), _at(tuesday, 10))], agents=[alice]
        )

    assert not ticket.appointments.exists()


def test_the_api_proposes_the_split_and_books_it(api_client, coordinator, alice):
    ticket = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12))
    monday = _a_monday_in_five_weeks()
    tuesday = monday + timedelta(days=1)
    client = api_client(coordinator)

    body = client.get(f"/api/requests/{ticket.pk}/find-slot/", {"after": monday.isoformat()}).json()

    assert body["slots"] == [] and body["longest_working_day"] == "09:00:00"
    parts = [(datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])) for p in body["split"]["parts"]]
    assert parts == [(_at(monday, 8), _at(monday, 17)), (_at(tuesday, 8), _at(tuesday, 11))]
    assert body["split"]["agents"] == [alice.pk]

    url = f"/api/requests/{ticket.pk}/book-split/"
    wrong = client.post(url, {"parts": body["split"]["parts"][:1], "agents": [alice.pk]}, format="json")
    assert wrong.status_code == 400
    booked = client.post(url, {"parts": body["split"]["parts"], "agents": [alice.pk]}, format="json")
    assert booked.status_code == 200, booked.content
    assert booked.json()["planned_length"] == "09:00:00"
    assert datetime.fromisoformat(booked.json()["planned_start"]) == _at(monday, 8)
    assert ticket.appointments.count() == 2

    other = services.create_request(summary="Other", assigned_agents=[alice], estimate=timedelta(hours=12))
    taken = client.post(
        f"/api/requests/{other.pk}/book-split/", {"parts": body["split"]["parts"], "agents": [alice.pk]}, format="json"
    )
    assert taken.status_code == 409
    assert not other.appointments.exists()


def test_the_api_answers_no_split_for_a_job_that_fits_a_day(api_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])

    body = api_client(coordinator).get(f"/api/requests/{ticket.pk}/find-slot/").json()

    assert body["longest_working_day"] is None and body["split"] is None and body["slots"]


def test_the_page_and_the_api_search_a_year_for_a_split_in_a_bounded_number_of_queries(
    page_client, api_client, coordinator, make_agent, django_assert_max_num_queries
):
    """The whole request page and the API with a year's fruitless split search for a team: as many
    queries for 3 technicians as for 12, and no more than the slot search takes
    (tests/web/test_find_slot_far.py: 23 for the page, 15 for the API)."""
    now = timezone.now()
    members = [make_agent(f"t{n:02}", team="Busy") for n in range(12)]
    for agent in members:
        _busy(agent, now - HOUR, now + timedelta(days=800))
    team = members[0].teams.get()
    ticket = services.create_request(summary="Server move", assigned_agents=members[:2], estimate=timedelta(hours=12))
    page, api = page_client(coordinator), api_client(coordinator)

    for size in (3, 12):
        team.members.set(members[:size])
        with django_assert_max_num_queries(24):  # +1: external calendar states, one query
            assert "No run of consecutive working days holds 12 h" in _page(page, ticket, team=team.pk)
        with django_assert_max_num_queries(16):  # +1: the request's history, one query
            body = api.get(f"/api/requests/{ticket.pk}/find-slot/", {"team": team.pk}).json()
        assert body["split"] is None and body["longest_working_day"] == "09:00:00"


def test_find_slot_writes_the_estimate_as_the_request_itself_does(api_client, coordinator, alice):
    """Trial fault 13: find-slot answered `"estimate": 60` (minutes) where the request answers
    "01:30:00"; README: durations are written out across the API."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice], estimate=timedelta(minutes=90))
    client = api_client(coordinator)

    found = client.get(f"/api/requests/{ticket.pk}/find-slot/").json()

    assert found["estimate"] == client.get(f"/api/requests/{ticket.pk}/").json()["estimate"] == "01:30:00"
    schema = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]["SlotProposals"]
    assert schema["properties"]["estimate"]["type"] == "string"
    assert '"01:30:00"' in schema["properties"]["estimate"]["description"]
