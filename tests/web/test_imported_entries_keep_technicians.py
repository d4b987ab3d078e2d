"""An entry imported from a technician's own calendar stays with her (trial report, problem 1):
no page, API call or admin form gives it to another technician; its time may still change."""

import html

from django.contrib.auth.models import User
from django.urls import reverse

from calendars import ownership
from calendars import services as calendar_services
from calendars.models import Appointment
from tests.test_admin import appointment_form, management, request_form
from tests.web.conftest import at
from tests.web.test_pages_calendars import config_of
from tickets import services as ticket_services

LIST = "/api/appointments/"


def _dentist(alice) -> Appointment:
    """Alice's own "Dentist", as an import makes it: source external, public, on her alone."""
    return calendar_services.create_appointment(
        subject="Dentist", start=at(3, 13), end=at(3, 14), agents=[alice], source=Appointment.Source.EXTERNAL
    )


def _unchanged(appointment: Appointment, alice) -> bool:
    fresh = Appointment.objects.get(pk=appointment.pk)
    return (list(fresh.agents.all()), fresh.start, fresh.sequence) == ([alice], at(3, 13), appointment.sequence)


def test_coordinator_patching_an_imported_entrys_agents_gets_400_naming_the_field(api_client, coordinator, alice, bob):
    dentist = _dentist(alice)

    response = api_client(coordinator).patch(f"{LIST}{dentist.pk}/", {"agents": [bob.pk]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"agents": [ownership.refusal([alice.name])]}
    assert "Alice" in response.json()["agents"][0]
    assert _unchanged(dentist, alice)


def test_patch_with_a_new_time_and_other_agents_changes_nothing(api_client, coordinator, alice, bob):
    dentist = _dentist(alice)

    response = api_client(coordinator).patch(
        f"{LIST}{dentist.pk}/",
        {"agents": [alice.pk, bob.pk], "start": "2026-03-03T15:00:00+01:00", "end": "2026-03-03T16:00:00+01:00"},
        format="json",
    )

    assert response.status_code == 400
    assert _unchanged(dentist, alice)


def test_reassign_endpoint_refuses_an_imported_entry(api_client, coordinator, alice, bob):
    dentist = _dentist(alice)

    response = api_client(coordinator).post(
        f"{LIST}{dentist.pk}/reassign/", {"from_agent": alice.pk, "to_agent": bob.pk}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["agents"]
    assert _unchanged(dentist, alice)


def test_imported_entry_still_moves_in_time_on_its_technician(api_client, coordinator, alice):
    dentist = _dentist(alice)

    response = api_client(coordinator).patch(
        f"{LIST}{dentist.pk}/",
        {"agents": [alice.pk], "start": "2026-03-03T15:00:00+01:00", "end": "2026-03-03T16:00:00+01:00"},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["agents"], response.json()["start"]) == ([alice.pk], "2026-03-03T15:00:00+01:00")


def test_the_widget_is_told_an_imported_entry_cannot_go_to_another_technician(api_client, coordinator, alice):
    dentist = _dentist(alice)
    visit = calendar_services.create_appointment(subject="Visit", start=at(3, 9), end=at(3, 10), agents=[alice])
    client = api_client(coordinator)

    items = {
        item["id"]: item for item in client.get(f"{LIST}calendar/", {"start": "2026-03-02", "end": "2026-03-09"}).json()
    }
    detail = client.get(f"{LIST}{dentist.pk}/").json()

    assert (items[dentist.pk]["can_edit"], items[dentist.pk]["can_reassign"]) == (True, False)
    assert (items[visit.pk]["can_edit"], items[visit.pk]["can_reassign"]) == (True, True)
    assert (detail["can_edit"], detail["can_reassign"]) == (True, False)


def test_technician_without_the_reassign_right_is_told_so_too(api_client, alice):
    """The table lets a technician edit her own entry but give it to others only on her requests."""
    visit = calendar_services.create_appointment(subject="Visit", start=at(3, 9), end=at(3, 10), agents=[alice])

    item = api_client(alice.user).get(f"{LIST}calendar/", {"start": "2026-03-02", "end": "2026-03-09"}).json()[0]

    assert (item["id"], item["can_edit"], item["can_reassign"]) == (visit.pk, True, False)


def test_page_form_refuses_other_technicians_for_an_imported_entry(page_client, coordinator, alice, bob):
    dentist = _dentist(alice)
    url = f"/calendar/appointments/{dentist.pk}/"
    client = page_client(coordinator)

    shown = client.get(url).content.decode()
    response = client.post(
        url, {"subject": "Dentist", "start": "2026-03-03T13:00", "end": "2026-03-03T14:00", "agents": [bob.pk]}
    )

    message = ownership.refusal([alice.name])
    assert html.escape(message) in shown  # said next to the technicians before anyone tries
    assert response.status_code == 200
    assert response.context["form"].errors["agents"] == [message]
    assert _unchanged(dentist, alice)


def test_page_form_still_moves_an_imported_entry_in_time(page_client, coordinator, alice):
    dentist = _dentist(alice)

    response = page_client(coordinator).post(
        f"/calendar/appointments/{dentist.pk}/",
        {"subject": "Dentist", "start": "2026-03-03T15:00", "end": "2026-03-03T16:00", "agents": [alice.pk]},
    )

    assert response.status_code == 302
    dentist.refresh_from_db()
    assert (dentist.start, list(dentist.agents.all())) == (at(3, 15), [alice])


def test_admin_form_refuses_other_technicians_for_an_imported_entry(client, alice, bob):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    dentist = _dentist(alice)

    response = client.post(
        reverse("admin:calendars_appointment_change", args=[dentist.pk]),
        appointment_form(
            bob, subject="Dentist", start_0="2026-03-03", start_1="13:00:00", end_0="2026-03-03", end_1="14:00:00"
        ),
    )

    assert response.status_code == 200
    assert html.escape(ownership.refusal([alice.name])) in response.content.decode()
    assert _unchanged(dentist, alice)


def test_group_calendar_page_gives_the_widget_the_message(page_client, coordinator, alice):
    config = config_of(page_client(coordinator).get("/calendar/group/"))

    assert config["keepsTechniciansMessage"] == ownership.refusal(())


def test_request_admins_appointment_tab_refuses_other_technicians_for_an_imported_entry(client, alice, bob):
    """An imported entry an admin tied to a request shows on its Appointments tab; changing its
    technicians there is a form error, not a server error."""
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    ticket = ticket_services.create_request(summary="Server down", customer="Acme", site="HQ", assigned_agents=[alice])
    dentist = _dentist(alice)
    Appointment.objects.filter(pk=dentist.pk).update(request=ticket)
    data = request_form(
        alice,
        planned_start_0="",
        planned_start_1="",
        **management("appointments", total=1, initial=1),
        **{
            "appointments-0-id": dentist.pk,
            "appointments-0-request": ticket.pk,
            "appointments-0-subject": "Dentist",
            "appointments-0-start_0": "2026-03-03",
            "appointments-0-start_1": "13:00:00",
            "appointments-0-end_0": "2026-03-03",
            "appointments-0-end_1": "14:00:00",
            "appointments-0-agents": [bob.pk],
            "appointments-0-note": "",
        },
    )

    response = client.post(reverse("admin:tickets_request_change", args=[ticket.pk]), data)

    assert response.status_code == 200
    assert html.escape(ownership.refusal([alice.name])) in response.content.decode()
    assert _unchanged(dentist, alice)
