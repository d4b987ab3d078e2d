import json
import re

from calendars.models import Appointment, CalendarSettings


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('id="calendar-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_personal_calendar_shows_own_agent(page_client, alice):
    response = page_client(alice.user).get("/calendar/")
    assert response.status_code == 200
    config = config_of(response)
    assert config["agents"] == [alice.pk] and config["view"] == "timeGridWeek" and config["canCreate"]
    assert "event-calendar/event-calendar.min.js" in response.content.decode()


def test_personal_calendar_of_someone_else_is_read_only_for_a_technician(page_client, alice, bob):
    config = config_of(page_client(alice.user).get("/calendar/", {"agent": bob.pk}))
    assert config["agents"] == [bob.pk] and not config["canCreate"]


def test_calendar_switched_off_globally(page_client, alice):
    settings = CalendarSettings.load()
    settings.calendar_enabled = False
    settings.save()
    assert "switched off" in page_client(alice.user).get("/calendar/").content.decode()


def test_group_calendar_keeps_choices_in_the_url(page_client, coordinator, make_agent):
    carol = make_agent("carol", team="Field")
    make_agent("dave", team="Desk")
    response = page_client(coordinator).get(
        "/calendar/group/",
        {"team": carol.teams.get().pk, "layout": "rows", "days": "3", "slot": "15", "date": "2026-03-02"},
    )
    config = config_of(response)
    assert [r["title"] for r in config["resources"]] == ["Carol"]
    assert (config["view"], config["days"], config["slotMinutes"], config["date"]) == (
        "resourceTimeline",
        3,
        15,
        "2026-03-02",
    )


def test_group_calendar_picks_technicians(page_client, coordinator, alice, bob):
    config = config_of(page_client(coordinator).get("/calendar/group/", {"agent": [bob.pk]}))
    assert [r["id"] for r in config["resources"]] == [bob.pk] and config["agents"] == [bob.pk]


def test_group_calendar_resources_carry_colour_and_working_hours(page_client, coordinator, alice):
    resource = config_of(page_client(coordinator).get("/calendar/group/"))["resources"][0]
    assert resource["eventBackgroundColor"] == alice.colour
    assert resource["extendedProps"]["workingStart"] == "08:00"
    assert resource["extendedProps"]["workingDays"] == [1, 2, 3, 4, 5]


def test_private_external_detail_page_shows_data_unavailable(page_client, coordinator, alice, private_external):
    for user in (coordinator, alice.user):
        page = page_client(user).get(f"/calendar/appointments/{private_external.pk}/").content.decode()
        assert "Data unavailable" in page
        assert "Doctor" not in page and "Secret" not in page and "Hospital" not in page and "doc@example" not in page


def test_private_external_cannot_be_changed_on_the_page(page_client, coordinator, private_external):
    client = page_client(coordinator)
    assert client.post(f"/calendar/appointments/{private_external.pk}/", {"subject": "x"}).status_code == 403
    assert client.post(f"/calendar/appointments/{private_external.pk}/delete/").status_code == 403


def test_technician_edits_own_appointment_on_the_page(page_client, alice, alices_appointment):
    response = page_client(alice.user).post(
        f"/calendar/appointments/{alices_appointment.pk}/",
        {"subject": "Visit Acme again", "start": "2026-03-02T09:00", "end": "2026-03-02T11:00", "agents": [alice.pk]},
    )
    assert response.status_code == 302
    alices_appointment.refresh_from_db()
    assert alices_appointment.subject == "Visit Acme again"


def test_technician_cannot_edit_someone_elses_on_the_page(page_client, alice, bobs_appointment):
    client = page_client(alice.user)
    page = client.get(f"/calendar/appointments/{bobs_appointment.pk}/").content.decode()
    assert "Bob&#x27;s job" in page and "<h2>Edit</h2>" not in page
    assert client.post(f"/calendar/appointments/{bobs_appointment.pk}/", {"subject": "x"}).status_code == 403
    assert client.post(f"/calendar/appointments/{bobs_appointment.pk}/delete/").status_code == 403


def test_coordinator_deletes_anyones_on_the_page(page_client, coordinator, bobs_appointment):
    assert page_client(coordinator).post(f"/calendar/appointments/{bobs_appointment.pk}/delete/").status_code == 302
    assert not Appointment.objects.exists()


def test_reader_cannot_create_standalone_appointment(page_client, reader):
    assert page_client(reader).get("/calendar/appointments/new/").status_code == 403


def test_click_on_empty_slot_prefills_the_new_appointment(page_client, alice):
    page = (
        page_client(alice.user)
        .get("/calendar/appointments/new/", {"start": "2026-03-02T13:00:00.000Z", "agent": alice.pk})
        .content.decode()
    )
    assert 'value="2026-03-02T14:00"' in page and 'value="2026-03-02T15:00"' in page


def test_technician_creates_standalone_appointment_for_self_only(page_client, alice, bob):
    client = page_client(alice.user)
    data = {"subject": "Dentist", "start": "2026-03-02T13:00", "end": "2026-03-02T14:00", "entries": "each"}
    assert client.post("/calendar/appointments/new/", {**data, "agents": [bob.pk]}).status_code == 200
    assert not Appointment.objects.exists()
    assert client.post("/calendar/appointments/new/", {**data, "agents": [alice.pk]}).status_code == 302
    assert Appointment.objects.get().subject == "Dentist"


def test_private_external_entry_on_request_tab_is_redacted(page_client, coordinator, ticket, private_external):
    Appointment.objects.filter(pk=private_external.pk).update(request=ticket)
    page = page_client(coordinator).get(f"/requests/{ticket.pk}/?tab=appointments").content.decode()
    assert "Data unavailable" in page and "Doctor" not in page and "Secret" not in page


def test_group_calendar_lets_a_technician_create_only_in_her_own_column(page_client, alice, bob):
    resources = config_of(page_client(alice.user).get("/calendar/group/"))["resources"]
    assert {r["id"]: r["extendedProps"]["canCreate"] for r in resources} == {alice.pk: True, bob.pk: False}


def test_group_calendar_lets_a_coordinator_create_in_every_column(page_client, coordinator, alice, bob):
    resources = config_of(page_client(coordinator).get("/calendar/group/"))["resources"]
    assert {r["id"]: r["extendedProps"]["canCreate"] for r in resources} == {alice.pk: True, bob.pk: True}


def _offered(page: str) -> set[int]:
    return {int(value) for value in re.findall(r'name="agents" value="(\d+)"', page)}


def test_new_appointment_form_offers_a_technician_only_herself(page_client, alice, bob):
    page = page_client(alice.user).get("/calendar/appointments/new/", {"agent": bob.pk}).content.decode()
    assert _offered(page) == {alice.pk}


def test_new_appointment_form_offers_a_coordinator_every_technician(page_client, coordinator, alice, bob):
    page = page_client(coordinator).get("/calendar/appointments/new/").content.decode()
    assert _offered(page) == {alice.pk, bob.pk}
