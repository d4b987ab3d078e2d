"""A write carrying a read-only field with another value than its current one answers 400
"read-only: ..." naming it, instead of DRF dropping it while the client believes it changed
(trial: `part`, `source`, `created_at` sent and "saved"). Sent back as read (GET, edit, PUT), a
read-only field is accepted. One mechanism (helpdesk.api_common.KnownFields) for every body."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from calendars.models import Appointment
from tickets import services as ticket_services
from tickets.models import Action, Request

from .conftest import at

TOKYO = ZoneInfo("Asia/Tokyo")


def _refused(response) -> dict[str, str]:
    """The 400's message by field name (one message each)."""
    assert response.status_code == 400, response.content
    return {name: messages[0] for name, messages in response.json().items()}


def test_an_appointment_patch_changing_read_only_fields_answers_400_naming_them(api_client, alice, alices_appointment):
    body = {"subject": "Renamed", "source": "external", "created_at": "2020-01-01T00:00:00Z"}

    response = api_client(alice.user).patch(f"/api/appointments/{alices_appointment.pk}/", body, format="json")

    refused = _refused(response)
    assert sorted(refused) == ["created_at", "source"]
    assert refused["source"].startswith("read-only: source cannot be changed (it is manual)")
    assert refused["created_at"].startswith("read-only: created_at cannot be changed")
    stored = Appointment.objects.get(pk=alices_appointment.pk)
    assert (stored.subject, stored.source) == ("Visit Acme", Appointment.Source.MANUAL)


@pytest.mark.parametrize("edited_meanwhile", [False, True])
def test_an_appointment_got_edited_and_put_back_is_saved(api_client, alice, alices_appointment, edited_meanwhile):
    client = api_client(alice.user)
    url = f"/api/appointments/{alices_appointment.pk}/"
    body = client.get(url).json()
    if edited_meanwhile:
        # The helpdesk moves SEQUENCE and updated_at on every write: an older read's stale values of
        # them are no attempt to change them.
        assert client.patch(url, {"location": "Reception"}, format="json").status_code == 200
        newer = client.get(url).json()
        assert (newer["sequence"], newer["updated_at"]) != (body["sequence"], body["updated_at"])
    body["subject"] = "Visit Acme, second floor"

    response = client.put(url, body, format="json")

    assert response.status_code == 200, response.content
    assert Appointment.objects.get(pk=alices_appointment.pk).subject == "Visit Acme, second floor"


def test_a_read_only_time_sent_with_another_offset_for_the_same_moment_is_not_a_change(
    api_client, alice, alices_appointment
):
    created = alices_appointment.created_at.astimezone(TOKYO).isoformat()
    body = {"created_at": created, "id": alices_appointment.pk, "note": "Ring twice"}

    response = api_client(alice.user).patch(f"/api/appointments/{alices_appointment.pk}/", body, format="json")

    assert response.status_code == 200, response.content
    assert Appointment.objects.get(pk=alices_appointment.pk).note == "Ring twice"


def test_an_appointment_post_with_an_id_answers_400_and_with_a_null_id_is_created(api_client, alice):
    client = api_client(alice.user)
    body = {"subject": "Visit", "start": at(4, 9).isoformat(), "end": at(4, 10).isoformat(), "agents": [alice.pk]}

    refused = _refused(client.post("/api/appointments/", {**body, "id": 4242, "sequence": 3}, format="json"))
    created = client.post("/api/appointments/", {**body, "id": None}, format="json")

    assert refused == {
        "id": "read-only: id is set by the helpdesk, not by a write. Leave it out.",
        "sequence": "read-only: sequence is set by the helpdesk, not by a write. Leave it out.",
    }
    assert created.status_code == 201, created.content
    assert Appointment.objects.filter(subject="Visit").count() == 1


def test_a_form_data_patch_reads_read_only_values_as_their_text(api_client, alice, alices_appointment):
    client = api_client(alice.user)
    url = f"/api/appointments/{alices_appointment.pk}/"

    same = client.patch(url, {"id": str(alices_appointment.pk), "note": "Form"}, format="multipart")
    other = client.patch(url, {"id": str(alices_appointment.pk + 1), "note": "Other"}, format="multipart")

    assert same.status_code == 200, same.content
    assert list(_refused(other)) == ["id"]
    assert Appointment.objects.get(pk=alices_appointment.pk).note == "Form"


def test_a_request_put_back_as_read_is_saved_and_a_changed_number_answers_400(api_client, coordinator, ticket):
    client = api_client(coordinator)
    url = f"/api/requests/{ticket.pk}/"
    body = client.get(url).json()
    body["summary"] = "Printer jams daily"

    saved = client.put(url, body, format="json")
    renumbered = client.patch(url, {"number": ticket.pk + 100, "planned_length": "PT2H"}, format="json")

    assert saved.status_code == 200, saved.content
    refused = _refused(renumbered)
    assert sorted(refused) == ["number", "planned_length"]
    assert refused["number"] == (
        f"read-only: number cannot be changed (it is {ticket.pk}). Leave it out, or send it as a read gives it."
    )
    assert Request.objects.get(pk=ticket.pk).summary == "Printer jams daily"


def test_a_request_patch_changing_its_history_answers_400(api_client, coordinator, ticket):
    response = api_client(coordinator).patch(
        f"/api/requests/{ticket.pk}/", {"history": [{"text": "Nothing happened"}]}, format="json"
    )

    assert list(_refused(response)) == ["history"]


def test_an_action_moved_to_another_request_answers_400_and_put_back_is_saved(api_client, coordinator, alice, ticket):
    other = ticket_services.create_request(summary="Scanner", assigned_agents=[alice])
    action = ticket_services.log_action(
        ticket, agent=alice, done_at=datetime(2026, 3, 2, 9, tzinfo=TOKYO), note="Cleaned rollers"
    )
    client = api_client(coordinator)
    url = f"/api/requests/{ticket.pk}/actions/{action.pk}/"
    body = client.get(url).json()

    moved = client.patch(url, {"request": other.pk}, format="json")
    body["note"] = "Cleaned and replaced rollers"
    saved = client.put(url, body, format="json")

    assert list(_refused(moved)) == ["request"]
    assert moved.json()["request"][0].startswith(f"read-only: request cannot be changed (it is {ticket.pk})")
    assert saved.status_code == 200, saved.content
    stored = Action.objects.get(pk=action.pk)
    assert (stored.request_id, stored.note) == (ticket.pk, "Cleaned and replaced rollers")


def test_an_action_post_with_an_appointment_answers_400(api_client, coordinator, alice, ticket, alices_appointment):
    body = {"agent": alice.pk, "done_at": "2026-03-02T09:00:00Z", "appointment": alices_appointment.pk}

    response = api_client(coordinator).post(f"/api/requests/{ticket.pk}/actions/", body, format="json")

    assert list(_refused(response)) == ["appointment"]
    assert not Action.objects.exists()


def test_the_schema_documents_the_read_only_refusal_of_every_write(schema_document):
    writes = [
        (path, method, operation["responses"]["400"]["description"])
        for path, operations in schema_document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch")
    ]

    assert len(writes) >= 12
    assert [(path, method) for path, method, description in writes if '"read-only: ..."' not in description] == []
