"""A removed reminder is "no reminder", apart from "not set" (the global default), on the edit
page and in the API (the F-REMINDER-NONE fault: removing it brought the default back)."""

from calendars.models import Appointment

LIST = "/api/appointments/"
EDIT = {"subject": "Visit Acme", "start": "2026-03-02T09:00", "end": "2026-03-02T11:00"}


def test_no_reminder_ticked_on_the_edit_page_is_kept_and_shown_ticked(page_client, alice, alices_appointment):
    client = page_client(alice.user)
    url = f"/calendar/appointments/{alices_appointment.pk}/"

    response = client.post(url, {**EDIT, "agents": [alice.pk], "reminder_minutes": "", "no_reminder": "on"})

    assert response.status_code == 302
    alices_appointment.refresh_from_db()
    assert (alices_appointment.no_reminder, alices_appointment.reminder_minutes) == (True, None)
    form = client.get(url).context["form"]
    assert (form.initial["no_reminder"], form.initial["reminder_minutes"]) == (True, None)


def test_minutes_given_on_the_edit_page_bring_a_reminder_back(page_client, alice, alices_appointment):
    Appointment.objects.filter(pk=alices_appointment.pk).update(no_reminder=True)

    response = page_client(alice.user).post(
        f"/calendar/appointments/{alices_appointment.pk}/", {**EDIT, "agents": [alice.pk], "reminder_minutes": "30"}
    )

    assert response.status_code == 302
    alices_appointment.refresh_from_db()
    assert (alices_appointment.no_reminder, alices_appointment.reminder_minutes) == (False, 30)


def test_no_reminder_through_the_api_is_stored_and_read_back(api_client, alice, alices_appointment):
    client = api_client(alice.user)
    Appointment.objects.filter(pk=alices_appointment.pk).update(reminder_minutes=20)

    response = client.patch(f"{LIST}{alices_appointment.pk}/", {"no_reminder": True}, format="json")

    assert response.status_code == 200, response.json()
    body = client.get(f"{LIST}{alices_appointment.pk}/").json()
    assert (body["no_reminder"], body["reminder_minutes"]) == (True, None)


def test_an_empty_reminder_through_the_api_is_the_default_again(api_client, alice, alices_appointment):
    client = api_client(alice.user)
    Appointment.objects.filter(pk=alices_appointment.pk).update(no_reminder=True)

    response = client.patch(f"{LIST}{alices_appointment.pk}/", {"reminder_minutes": None}, format="json")

    assert response.status_code == 200, response.json()
    alices_appointment.refresh_from_db()
    assert (alices_appointment.no_reminder, alices_appointment.reminder_minutes) == (False, None)


def test_minutes_with_no_reminder_ticked_on_the_edit_page_are_refused_not_dropped(
    page_client, alice, alices_appointment
):
    Appointment.objects.filter(pk=alices_appointment.pk).update(reminder_minutes=20)
    url = f"/calendar/appointments/{alices_appointment.pk}/"

    response = page_client(alice.user).post(
        url, {**EDIT, "agents": [alice.pk], "reminder_minutes": "45", "no_reminder": "on"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["reminder_minutes"] == [
        'Either minutes or "No reminder", not both: empty the minutes or untick "No reminder".'
    ]
    alices_appointment.refresh_from_db()
    assert (alices_appointment.no_reminder, alices_appointment.reminder_minutes) == (False, 20)


def test_minutes_with_no_reminder_through_the_api_are_refused_not_dropped(api_client, alice, alices_appointment):
    Appointment.objects.filter(pk=alices_appointment.pk).update(reminder_minutes=20)

    response = api_client(alice.user).patch(
        f"{LIST}{alices_appointment.pk}/", {"no_reminder": True, "reminder_minutes": 45}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["reminder_minutes"] == [
        "Either reminder_minutes or no_reminder true, not both: send one of them."
    ]
    alices_appointment.refresh_from_db()
    assert (alices_appointment.no_reminder, alices_appointment.reminder_minutes) == (False, 20)
