"""Trial report F4: a coordinator sees, per technician, whether an appointment waits for their
approval (policy Ask), was declined, or is on their external calendar: in the API (appointment,
list, calendar items; documented in the schema), on the appointment's page, and the technician
gets a message saying what Approve / Decline did."""

from datetime import timedelta

import pytest
import yaml
from django.test import Client
from rest_framework.test import APIClient

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, SyncPolicy
from integrations import services
from integrations.models import SyncLink
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def asking(alice_calendar, bob_calendar):
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    return alice_calendar, bob_calendar


@pytest.fixture
def shared(asking, tomorrow_9, django_capture_on_commit_callbacks):
    """An appointment of Alice and Bob under Ask: Alice approved it (on her phone), Bob declined it."""
    alice_calendar, bob_calendar = asking
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Server room audit",
            start=tomorrow_9,
            end=tomorrow_9 + HOUR,
            agents=[alice_calendar.agent, bob_calendar.agent],
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(SyncLink.objects.get(appointment=appointment, agent_calendar=alice_calendar))
        services.decline(SyncLink.objects.get(appointment=appointment, agent_calendar=bob_calendar))
    return appointment


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_appointment_in_the_api_says_per_technician_approved_or_declined(shared, coordinator, alice, bob):
    data = api(coordinator).get(f"/api/appointments/{shared.pk}/").json()

    assert [(e["agent"], e["state"]) for e in data["external_calendars"]] == [
        (alice.pk, "on_calendar"),
        (bob.pk, "declined"),
    ]


def test_waiting_appointment_says_so_in_the_list_and_the_calendar_items(
    asking, alice_calendar, coordinator, alice, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Printer swap", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice]
        )
    window = {"start": (tomorrow_9 - HOUR).isoformat(), "end": (tomorrow_9 + 2 * HOUR).isoformat()}
    client = api(coordinator)

    (listed,) = client.get("/api/appointments/", window).json()["results"]
    (item,) = client.get("/api/appointments/calendar/", window).json()

    expected = [
        {
            "agent": alice.pk,
            "calendar": alice_calendar.connection.name,
            "state": "waiting",
            "label": "Waiting for their approval",
        }
    ]
    assert listed["id"] == item["id"] == appointment.pk
    assert listed["external_calendars"] == item["external_calendars"] == expected


def test_occurrence_answers_for_its_series(asking, coordinator, alice, tomorrow_9, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3", agents=[alice], start=tomorrow_9, end=tomorrow_9 + HOUR, subject="Stand-up"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(SyncLink.objects.get(appointment=master))
    occurrence = master.occurrences.order_by("original_start").first()

    data = api(coordinator).get(f"/api/appointments/{occurrence.pk}/").json()

    assert [(e["agent"], e["state"]) for e in data["external_calendars"]] == [(alice.pk, "on_calendar")]


def test_schema_documents_the_states(coordinator):
    schema = yaml.safe_load(api(coordinator).get("/api/schema/").content)
    components = schema["components"]["schemas"]

    field = components["Appointment"]["properties"]["external_calendars"]
    assert field["readOnly"] is True
    assert field["items"]["$ref"] == "#/components/schemas/ExternalCalendarState"
    state = components["ExternalCalendarState"]["properties"]["state"]
    assert state["allOf"] == [{"$ref": "#/components/schemas/ExternalCalendarStateEnum"}]
    assert components["ExternalCalendarStateEnum"]["enum"] == [
        "waiting",
        "declined",
        "paused",
        "sending",
        "failing",
        "on_calendar",
    ]
    assert "`declined`: they keep it off their calendar" in state["description"]


def test_calendar_items_read_the_states_in_a_bounded_number_of_queries(
    asking, coordinator, alice, bob, tomorrow_9, django_assert_max_num_queries
):
    alice_calendar, bob_calendar = asking

    def appointments(count: int, day: int) -> list:
        start = tomorrow_9 + timedelta(days=day)
        made = Appointment.objects.bulk_create(
            [Appointment(subject=f"Job {i}", start=start, end=start + HOUR) for i in range(count)]
        )
        through = Appointment.agents.through
        through.objects.bulk_create(
            [through(appointment_id=a.pk, agent_id=agent.pk) for a in made for agent in (alice, bob)]
        )
        SyncLink.objects.bulk_create(
            [SyncLink(agent_calendar=alice_calendar, appointment=a, approval="waiting", pending=True) for a in made]
            + [SyncLink(agent_calendar=bob_calendar, appointment=a, approval="declined") for a in made]
        )
        return {"start": start.isoformat(), "end": (start + HOUR).isoformat()}

    few, many = appointments(2, 3), appointments(100, 4)
    client = api(coordinator)
    client.get("/api/appointments/calendar/", few)
    with django_assert_max_num_queries(20) as captured:
        assert len(client.get("/api/appointments/calendar/", few).json()) == 2
    with django_assert_max_num_queries(len(captured)):
        items = client.get("/api/appointments/calendar/", many).json()
    assert len(items) == 100
    assert {tuple(e["state"] for e in item["external_calendars"]) for item in items} == {("waiting", "declined")}
    with django_assert_max_num_queries(len(captured) + 4):  # a page: COUNT, and no query per entry
        page = client.get("/api/appointments/", {**many, "page_size": 1000}).json()["results"]
    assert {tuple(e["state"] for e in entry["external_calendars"]) for entry in page} == {("waiting", "declined")}


def test_appointment_page_shows_each_technicians_calendar_state(shared, coordinator):
    client = Client()
    client.force_login(coordinator)

    page = client.get(f"/calendar/appointments/{shared.pk}/").content.decode()

    assert "External calendars" in page
    assert "Alice: On their calendar" in page
    assert "Bob: Declined: kept off their calendar" in page


@pytest.fixture
def waiting_link(asking, alice, tomorrow_9):
    appointment = calendar_services.create_appointment(
        subject="Printer <b>swap</b>", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice]
    )
    return SyncLink.objects.get(appointment=appointment)


@pytest.mark.parametrize(
    ("decision", "tag", "message"),
    [
        (
            "approve",
            "success",
            "Approved: “Printer &lt;b&gt;swap&lt;/b&gt;” is being added to your external calendar (Radicale).",
        ),
        (
            "decline",
            "info",
            "Declined: “Printer &lt;b&gt;swap&lt;/b&gt;” stays off your external calendar; "
            "the coordinator sees that you declined it.",
        ),
    ],
)
def test_approve_and_decline_say_what_happened(waiting_link, alice, decision, tag, message):
    client = Client()
    client.force_login(alice.user)

    response = client.post(f"/me/approvals/{waiting_link.pk}/", {"decision": decision}, follow=True)

    page = response.content.decode()
    assert f'<li class="{tag}" role="status">{message}</li>' in page


def test_request_page_shows_each_technicians_calendar_state(shared, coordinator):
    ticket = ticket_services.create_request(summary="Audit", customer="Acme")
    Appointment.objects.filter(pk=shared.pk).update(request=ticket)
    client = Client()
    client.force_login(coordinator)

    page = client.get(f"/requests/{ticket.pk}/?tab=appointments").content.decode()

    assert "<div>Alice: On their calendar</div><div>Bob: Declined: kept off their calendar</div>" in page


def test_a_paused_or_failing_calendar_is_said_and_each_calendar_is_named(shared, coordinator, alice, bob):
    """Trial 2, F10: Alice's approved entry shows "on her calendar" until her calendar fails as a
    whole (a wrong password: no push gets through) or is paused; each line names its calendar."""
    alice_link = SyncLink.objects.get(appointment=shared, agent_calendar__agent=alice)
    calendar = alice_link.agent_calendar
    client = api(coordinator)

    def lines():
        data = client.get(f"/api/appointments/{shared.pk}/").json()["external_calendars"]
        return [(e["agent"], e["calendar"], e["state"]) for e in data]

    name = calendar.connection.name
    assert lines() == [(alice.pk, name, "on_calendar"), (bob.pk, name, "declined")]
    type(calendar).objects.filter(pk=calendar.pk).update(state=type(calendar).State.FAILING)
    assert lines()[0] == (alice.pk, name, "failing")
    type(calendar).objects.filter(pk=calendar.pk).update(state=type(calendar).State.PAUSED)
    assert lines()[0] == (alice.pk, name, "paused")


def test_an_occurrence_left_or_cancelled_is_on_nobodys_calendar_who_left_it(
    alice_calendar, bob_calendar, coordinator, alice, bob, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial 2, F2: a technician who left one occurrence of a shared series (cancelled it on their
    phone) has no line for it, and a cancelled occurrence has none at all; the others keep theirs."""
    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice, bob],
            start=tomorrow_9,
            end=tomorrow_9 + HOUR,
            subject="Sync",
        )
    SyncLink.objects.filter(appointment=master).update(pending=False, local_hash="x", remote_hash="x")
    first, second, _third = master.occurrences.order_by("original_start")
    calendar_services.leave_occurrence(first, bob)
    calendar_services.cancel_occurrence(second)
    client = api(coordinator)

    def agents_of(occurrence):
        return [e["agent"] for e in client.get(f"/api/appointments/{occurrence.pk}/").json()["external_calendars"]]

    assert agents_of(first) == [alice.pk]
    assert agents_of(second) == []
    window = {"start": (tomorrow_9 - HOUR).isoformat(), "end": (tomorrow_9 + timedelta(days=3)).isoformat()}
    items = {i["id"]: i for i in client.get("/api/appointments/calendar/", window).json()}
    assert [e["agent"] for e in items[first.pk]["external_calendars"]] == [alice.pk]
    assert items.get(second.pk, {"external_calendars": []})["external_calendars"] == []
