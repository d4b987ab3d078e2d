""" "Find a slot" on the request page (issue 15)."""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import selectors, services
from tickets.models import Request

AMS = ZoneInfo("Europe/Amsterdam")


def test_team_proposals_put_the_least_booked_technician_first(make_agent):
    """Now is Monday 5 March 2035 07:10 Amsterdam; the search starts at the next whole hour,
    08:00, when the default hours 08:00-17:00 begin.
    Carol has 3 hours booked on Tuesday that week, Dave none: the 08:00 slot (one hour, the
    default estimate) lists Dave, then Carol."""
    carol = make_agent("carol", team="Desk")
    dave = make_agent("dave", team="Desk")
    calendar_services.create_appointment(
        subject="Install",
        start=datetime(2035, 3, 6, 9, tzinfo=AMS),
        end=datetime(2035, 3, 6, 12, tzinfo=AMS),
        agents=[carol],
    )
    ticket = services.create_request(summary="Printer")
    found = selectors.slot_proposals(ticket, team=carol.teams.get(), now=datetime(2035, 3, 5, 7, 10, tzinfo=AMS))
    assert found.estimate == timedelta(hours=1)
    assert found.slots[0].start == datetime(2035, 3, 5, 8, tzinfo=AMS)
    assert found.slots[0].agent_ids == (dave.pk, carol.pk)
    assert set(found.agents) == {carol.pk, dave.pk}


def test_booking_a_slot_plans_the_request_with_those_technicians(page_client, coordinator, alice, bob):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    start = datetime(2035, 3, 5, 10, tzinfo=AMS)
    response = page_client(coordinator).post(
        f"/requests/{ticket.pk}/book-slot/", {"start": start.isoformat(), "agent": [bob.pk]}
    )
    assert response.status_code == 302
    ticket = Request.objects.get(pk=ticket.pk)
    assert ticket.planned_start == start
    assert list(ticket.assigned_agents.all()) == [bob]
    planned = Appointment.objects.get(request=ticket, source=Appointment.Source.PLANNED)
    assert list(planned.agents.all()) == [bob]


def test_a_slot_that_cannot_be_read_loses_nothing(page_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = page_client(coordinator)
    response = client.post(f"/requests/{ticket.pk}/book-slot/", {"start": "soon", "agent": [alice.pk]}, follow=True)
    assert "That slot could not be read" in response.content.decode()
    assert Request.objects.get(pk=ticket.pk).planned_start is None


def test_find_a_slot_without_technicians_says_what_to_do(page_client, coordinator):
    ticket = services.create_request(summary="Printer")
    page = page_client(coordinator).get(f"/requests/{ticket.pk}/", {"find": "1"})
    assert "assign technicians or choose a team" in page.content.decode()


def test_find_a_slot_lists_bookable_proposals(page_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    text = page_client(coordinator).get(f"/requests/{ticket.pk}/", {"find": "1"}).content.decode()
    assert text.count(">Book</button>") == 5
    assert f'name="agent" value="{alice.pk}"' in text


def test_technicians_do_not_see_find_a_slot_on_requests_they_cannot_edit(page_client, make_agent, alice):
    other = make_agent("olga")
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    page = page_client(other.user).get(f"/requests/{ticket.pk}/", {"find": "1"})
    assert "Next free slots" not in page.content.decode()


def test_booking_a_slot_taken_since_says_by_what_and_saves_nothing(page_client, coordinator, alice):
    """The proposal 10:00 Amsterdam was free when shown; Alice's 'Site visit' 10:30-11:30 was
    booked since: booking it says so, names the visit, and plans nothing."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    start = datetime(2035, 3, 5, 10, tzinfo=AMS)
    calendar_services.create_appointment(
        subject="Site visit", start=start + timedelta(minutes=30), end=start + timedelta(minutes=90), agents=[alice]
    )
    client = page_client(coordinator)
    page = client.post(
        f"/requests/{ticket.pk}/book-slot/", {"start": start.isoformat(), "agent": [alice.pk]}, follow=True
    )
    text = page.content.decode()
    assert "That slot is no longer free (overlaps Alice&#x27;s &#x27;Site visit&#x27; 10:30–11:30)" in text
    assert Request.objects.get(pk=ticket.pk).planned_start is None
    assert not Appointment.objects.filter(request=ticket).exists()


def _day_after_tomorrow_or_later_on_a_weekday(now: datetime) -> date:
    """The first Tuesday to Thursday at least two days after `now` on Amsterdam's clock: a working
    day (default hours 08:00-17:00, Monday to Friday) within the two weeks searched."""
    day = now.astimezone(AMS).date() + timedelta(days=2)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return day


def _proposed_starts(page) -> list[datetime]:
    return [datetime.fromisoformat(value) for value in re.findall(r'name="start" value="([^"]+)"', page)]


@pytest.mark.parametrize(
    ("buffer", "first"),
    [("", time(10)), ("0", time(10)), ("30", time(10, 30)), ("45", time(14))],
)
def test_a_travel_buffer_keeps_the_proposed_slot_that_far_from_busy_time(
    page_client, coordinator, alice, buffer, first
):
    """Alice (Amsterdam, 08:00-17:00) is booked solid from now until 10:00 on a working day D
    and has a meeting 12:00-13:00 that day; the request takes an hour (the default estimate).
    Starts fall on whole and half hours.
    - No buffer (empty, or 0): the first slot is 10:00-11:00, right after the busy time.
    - 30 minutes: free time shrinks to 10:30-11:30 between the two, which holds the hour
      exactly: 10:30.
    - 45 minutes: free 10:45-11:15 cannot hold an hour; after the meeting Alice is free from
      13:45, and the first start on the grid from then is 14:00."""
    now = timezone.now()
    day = _day_after_tomorrow_or_later_on_a_weekday(now)
    calendar_services.create_appointment(
        subject="Booked solid",
        start=now - timedelta(hours=1),
        end=datetime.combine(day, time(10), tzinfo=AMS),
        agents=[alice],
    )
    calendar_services.create_appointment(
        subject="Meeting",
        start=datetime.combine(day, time(12), tzinfo=AMS),
        end=datetime.combine(day, time(13), tzinfo=AMS),
        agents=[alice],
    )
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    page = page_client(coordinator).get(f"/requests/{ticket.pk}/", {"find": "1", "buffer": buffer}).content.decode()
    assert _proposed_starts(page)[0] == datetime.combine(day, first, tzinfo=AMS)


@pytest.mark.parametrize(
    ("hours", "first"),
    [
        (0, datetime(2035, 3, 5, 8, tzinfo=AMS)),
        (3, datetime(2035, 3, 5, 11, tzinfo=AMS)),
        (50, datetime(2035, 3, 7, 10, tzinfo=AMS)),
    ],
)
def test_a_minimum_notice_moves_the_search_to_the_first_whole_hour_after_it(alice, hours, first):
    """Now is Monday 5 March 2035 07:10 Amsterdam; Alice works 08:00-17:00 and is free.
    - No notice: the first whole hour after now, 08:00 (as before there was a notice).
    - 3 hours: not before 10:10, so the first whole hour after, 11:00.
    - 50 hours: not before Wednesday 7 March 09:10, so 10:00 that day."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    found = selectors.slot_proposals(ticket, notice=timedelta(hours=hours), now=datetime(2035, 3, 5, 7, 10, tzinfo=AMS))
    assert found.slots[0].start == first


def test_find_a_slot_refuses_a_bad_buffer_or_notice_clearly_and_keeps_it(page_client, coordinator, alice):
    """A negative buffer, a notice that is not a number and one of more than 60 days (1440
    hours) are each named and stay in the form as typed; a team that does not exist is refused;
    nothing is proposed."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = page_client(coordinator)
    for field, typed, message in [
        ("buffer", "-5", "Give the travel before and after as a whole number of minutes from 0 to 1440."),
        ("notice", "soon", "Give the minimum notice as a whole number of hours from 0 to 1440."),
        ("notice", "1441", "Give the minimum notice as a whole number of hours from 0 to 1440."),
        ("team", "99999999999999999999", "Select a valid choice."),
    ]:
        response = client.get(f"/requests/{ticket.pk}/", {"find": "1", field: typed})
        text = response.content.decode()
        assert response.status_code == 200
        assert message in text, typed
        if field != "team":
            assert f'name="{field}" value="{typed}"' in text
        assert "Next free slots" not in text and ">Book</button>" not in text
