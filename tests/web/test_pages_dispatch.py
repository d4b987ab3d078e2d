""" "Find a slot" on the request page (issue 15)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
    estimate, slots, agents = selectors.slot_proposals(
        ticket, team=carol.teams.get(), now=datetime(2035, 3, 5, 7, 10, tzinfo=AMS)
    )
    assert estimate == timedelta(hours=1)
    assert slots[0].start == datetime(2035, 3, 5, 8, tzinfo=AMS)
    assert slots[0].agent_ids == (dave.pk, carol.pk)
    assert set(agents) == {carol.pk, dave.pk}


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
