""" "Find a slot" beyond two weeks (issue 15, dispatch gap 1): a busy team gets the first slot
after its busy weeks, the search says how far it looked when it finds nothing, and a
coordinator can search from a later day; the same on the request page and in the API.

Expected first slots are worked out with dateutil's rrule (the default working week, Monday to
Friday 08:00-17:00 on the technician's clock), not with the availability code.
"""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import CalendarSettings
from tickets import selectors, services

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2035, 3, 5, 7, 10, tzinfo=AMS)  # a Monday
# Measured once, with six of them the search's rounds (14 to 365 days); the same for any team.
PAGE_QUERIES = (
    24  # +1: each technician's external calendar state on the Appointments tab (one query, any number of rows)
)
API_QUERIES = 16  # +1: the request's history lines (one query)


def _first_working_start_after(moment: datetime) -> datetime:
    """The first 08:00 Amsterdam on a Monday-to-Friday at or after `moment` (dateutil)."""
    rule = rrule(
        DAILY,
        byweekday=(MO, TU, WE, TH, FR),
        byhour=8,
        byminute=0,
        bysecond=0,
        dtstart=moment.astimezone(AMS).replace(tzinfo=None),
    )
    return rule.after(moment.astimezone(AMS).replace(tzinfo=None), inc=True).replace(tzinfo=AMS)


def _busy(agent, start: datetime, end: datetime, subject: str = "Project") -> None:
    calendar_services.create_appointment(subject=subject, start=start, end=end, agents=[agent])


def test_a_team_booked_for_six_weeks_gets_the_first_slot_after_its_busy_weeks(make_agent):
    """Carol is booked from now to Tuesday 17 April 2035 12:00, Dave to Monday 16 April 17:00:
    nothing is free within the two weeks searched before. The first free hour is Dave's, on the
    first working day after his project: Tuesday 17 April 08:00 (dateutil)."""
    carol = make_agent("carol", team="Desk")
    dave = make_agent("dave", team="Desk")
    _busy(carol, NOW - timedelta(hours=1), datetime(2035, 4, 17, 12, tzinfo=AMS))
    _busy(dave, NOW - timedelta(hours=1), datetime(2035, 4, 16, 17, tzinfo=AMS))
    ticket = services.create_request(summary="Printer")

    found = selectors.slot_proposals(ticket, team=carol.teams.get(), now=NOW)

    assert found.slots[0].start == _first_working_start_after(datetime(2035, 4, 16, 17, tzinfo=AMS))
    assert found.slots[0].start == datetime(2035, 4, 17, 8, tzinfo=AMS)
    assert found.slots[0].agent_ids == (dave.pk,)
    assert len(found.slots) == 5


def test_a_year_of_searching_takes_a_bounded_number_of_queries_whatever_the_team(
    make_agent, django_assert_max_num_queries
):
    """A team busy for more than the calendars' horizon (365 days by default): nothing is found,
    the search ends at now + 365 days, and it costs the same few queries for 2 technicians as
    for 12: the settings, the team's technicians and their teams, then one busy query per round
    (14, 28, 56, 112, 224 and 365 days)."""
    members = [make_agent(f"t{n:02}", team="Busy") for n in range(12)]
    for agent in members:
        _busy(agent, NOW - timedelta(hours=1), NOW + timedelta(days=800))
    team = members[0].teams.get()
    ticket = services.create_request(summary="Printer")

    for size in (2, 12):
        team.members.set(members[:size])
        with django_assert_max_num_queries(9):
            found = selectors.slot_proposals(ticket, team=team, now=NOW)
        assert found.slots == []
        assert found.searched_until == NOW + timedelta(days=365)


def test_the_horizon_is_the_calendars_import_window(alice):
    """Admins set how far ahead calendars are imported (days in the future): the search looks
    as far, here 500 days, and finds Alice's first free hour after a 400-day project."""
    settings = CalendarSettings.load()
    settings.import_days_future = 500
    settings.save()
    end = NOW + timedelta(days=400)
    _busy(alice, NOW - timedelta(hours=1), end)
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])

    found = selectors.slot_proposals(ticket, now=NOW)

    assert found.slots[0].start == _first_working_start_after(end)


def _page(client, ticket, **query) -> str:
    return client.get(f"/requests/{ticket.pk}/", {"find": "1", **query}).content.decode()


def _proposed_starts(page: str) -> list[datetime]:
    return [datetime.fromisoformat(value) for value in re.findall(r'name="start" value="([^"]+)"', page)]


def test_finding_nothing_says_plainly_how_far_it_searched(page_client, coordinator, alice):
    """Alice is booked for two years: the page names the period searched, from the first whole
    hour after now to now + 365 days (the import window's future), on the coordinator's clock
    (Amsterdam), and says what to try."""
    now = timezone.now()
    _busy(alice, now - timedelta(hours=1), now + timedelta(days=730))
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])

    page = _page(page_client(coordinator), ticket)

    found = re.search(r"No free slot for 1 h from (.+?) to (.+?), as far ahead as the calendars are known", page)
    assert found, page
    until = datetime.strptime(found[2], "%a %d %b %Y %H:%M").replace(tzinfo=AMS)
    assert abs(until - (now + timedelta(days=365))) < timedelta(minutes=1)
    start = datetime.strptime(found[1], "%a %d %b %Y %H:%M").replace(tzinfo=AMS)
    assert start == now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert "search from a later date" in page
    assert ">Book</button>" not in page


def _end_of_working_day(weeks: int) -> datetime:
    """17:00 Amsterdam (when the default hours end) on the day `weeks` weeks from today."""
    day = timezone.localdate() + timedelta(weeks=weeks)
    return datetime(day.year, day.month, day.day, 17, tzinfo=AMS)


def _a_wednesday_in_five_weeks() -> date:
    day = timezone.localdate() + timedelta(weeks=5)
    return day + timedelta(days=(2 - day.weekday()) % 7)


def test_a_coordinator_can_search_from_a_later_date(page_client, coordinator, alice):
    """Alice is free; from a Wednesday five weeks ahead the first slot is 08:00 that day
    (Amsterdam, the coordinator's clock and hers)."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    day = _a_wednesday_in_five_weeks()

    page = _page(page_client(coordinator), ticket, after=day.isoformat())

    assert _proposed_starts(page)[0] == datetime(day.year, day.month, day.day, 8, tzinfo=AMS)
    assert f'name="after" value="{day.isoformat()}"' in page


def test_later_slots_search_on_from_just_after_the_last_proposal(page_client, coordinator, alice):
    """Five proposals fill Alice's first free morning from 08:00 (one hour each, every half hour:
    calendars.availability.Options.step). "Later slots" goes on from the next half hour, the rest of
    that day included (trial: it jumped to the next day, and 10:30-17:00 was never offered)."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = page_client(coordinator)
    first = _page(client, ticket)
    last = _proposed_starts(first)[-1]
    link = re.search(r'<a href="(\?[^"]+)">Later slots</a>', first)[1].replace("&amp;", "&")

    later = client.get(f"/requests/{ticket.pk}/{link.split('#')[0]}").content.decode()

    assert _proposed_starts(later)[0] == last + timedelta(minutes=30)
    assert set(_proposed_starts(later)).isdisjoint(_proposed_starts(first))


def test_a_date_beyond_the_calendars_horizon_is_refused_clearly(page_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    day = timezone.localdate() + timedelta(days=400)

    page = _page(page_client(coordinator), ticket, after=day.isoformat())

    assert "Search from a date before" in page and "the calendars are not known further" in page
    assert ">Book</button>" not in page


def test_find_slot_in_the_api_searches_past_two_weeks_and_from_a_later_date(api_client, coordinator, alice):
    """/api/requests/{id}/find-slot/ answers as the page: Alice is booked for six weeks, the
    first slot is the first working hour after (dateutil); with `after`, from that day on."""
    now = timezone.now()
    busy_until = _end_of_working_day(6)
    _busy(alice, now - timedelta(hours=1), busy_until)
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = api_client(coordinator)

    body = client.get(f"/api/requests/{ticket.pk}/find-slot/").json()

    assert body["estimate"] == "01:00:00"
    assert datetime.fromisoformat(body["slots"][0]["start"]) == _first_working_start_after(busy_until)
    assert body["slots"][0]["agents"] == [alice.pk]
    assert len(body["slots"]) == 5
    day = (busy_until + timedelta(weeks=2)).astimezone(AMS).date()
    body = client.get(f"/api/requests/{ticket.pk}/find-slot/", {"after": day.isoformat(), "count": 1}).json()
    assert [datetime.fromisoformat(s["start"]) for s in body["slots"]] == [
        _first_working_start_after(datetime.combine(day, datetime.min.time(), tzinfo=AMS))
    ]


def test_find_slot_in_the_api_says_how_far_it_searched(api_client, coordinator, alice):
    now = timezone.now()
    _busy(alice, now - timedelta(hours=1), now + timedelta(days=730))
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])

    body = api_client(coordinator).get(f"/api/requests/{ticket.pk}/find-slot/").json()

    assert body["slots"] == []
    until = datetime.fromisoformat(body["searched_until"])
    assert abs(until - (now + timedelta(days=365))) < timedelta(minutes=1)
    assert (until.second, until.microsecond) == (0, 0)  # trial 2: it carried microseconds


def test_find_slot_in_the_api_refuses_a_date_beyond_the_horizon(api_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    day = timezone.localdate() + timedelta(days=400)

    response = api_client(coordinator).get(f"/api/requests/{ticket.pk}/find-slot/", {"after": day.isoformat()})

    assert response.status_code == 400
    assert "the calendars are not known further" in response.json()["after"][0]


def test_find_slot_in_the_api_is_for_those_who_may_plan_the_request(api_client, make_agent, alice):
    other = make_agent("olga")
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])

    assert api_client(other.user).get(f"/api/requests/{ticket.pk}/find-slot/").status_code == 403


def test_availability_without_an_end_searches_to_the_horizon(api_client, coordinator, alice):
    """/api/availability/ with no end: Alice booked for ten weeks (more than the 62 days a
    period may span) still gets her first free hour after, and the answer names the period."""
    now = timezone.now()
    busy_until = _end_of_working_day(10)
    _busy(alice, now - timedelta(hours=1), busy_until)
    # On the hour, so the half-hour grid of starts holds 08:00.
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    body = (
        api_client(coordinator)
        .get("/api/availability/", {"agent": alice.pk, "start": start.isoformat(), "duration": 60, "limit": 3})
        .json()
    )

    assert datetime.fromisoformat(body["slots"][0]["start"]) == _first_working_start_after(busy_until)
    assert len(body["slots"]) == 3
    assert datetime.fromisoformat(body["searched_from"]) == start


def test_the_page_and_the_api_search_a_year_in_a_bounded_number_of_queries(
    page_client, api_client, coordinator, make_agent, django_assert_max_num_queries
):
    """The whole request page with a year's fruitless search for a team, and the same over the
    API, in as many queries for 3 technicians as for 12."""
    now = timezone.now()
    members = [make_agent(f"t{n:02}", team="Busy") for n in range(12)]
    for agent in members:
        _busy(agent, now - timedelta(hours=1), now + timedelta(days=800))
    team = members[0].teams.get()
    ticket = services.create_request(summary="Printer", assigned_agents=members[:2])
    page, api = page_client(coordinator), api_client(coordinator)

    for size in (3, 12):
        team.members.set(members[:size])
        with django_assert_max_num_queries(PAGE_QUERIES):
            assert "as far ahead as the calendars are known" in _page(page, ticket, team=team.pk)
        with django_assert_max_num_queries(API_QUERIES):
            assert api.get(f"/api/requests/{ticket.pk}/find-slot/", {"team": team.pk}).json()["slots"] == []


def test_the_horizon_in_a_refusal_is_written_as_the_pages_write_times(api_client, coordinator, alice):
    """The far-search refusals name the horizon (now + the import window's 365 days) in the one
    format of helpdesk.moments, on the caller's clock (the coordinator's: the site's, Amsterdam):
    the API's availability said "before 2027-12-01" (the UTC date) and "Find a slot" "before 01
    Dec 2027" before. The expected text is strftime's on the horizon worked out here."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = api_client(coordinator)
    far = (timezone.now() + timedelta(days=400)).astimezone(AMS)

    before = timezone.now()
    availability = client.get("/api/availability/", {"agent": [alice.pk], "start": far.isoformat(), "duration": 60})
    find_slot = client.get(f"/api/requests/{ticket.pk}/find-slot/", {"after": far.date().isoformat()})
    after = timezone.now()

    horizons = {(moment + timedelta(days=365)).astimezone(AMS) for moment in (before, after)}
    assert availability.status_code == 400 and find_slot.status_code == 400
    assert availability.json()["start"][0] in {
        f"Give a start before {h:%a %-d %b %Y %H:%M}: the calendars are not known further." for h in horizons
    }
    assert find_slot.json()["after"][0] in {
        f"Search from a date before {h:%a %-d %b %Y}: the calendars are not known further." for h in horizons
    }
