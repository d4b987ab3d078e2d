"""S3.3 Ask: the manual appointment form asks the technician at once."""

from datetime import timedelta

from django.urls import reverse

from calendars.models import Appointment
from integrations.models import SyncLink


def post_form(client, agent, start, answer: str | None, django_capture_on_commit_callbacks):
    client.force_login(agent.user)
    data = {
        "subject": "Server room check",
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "agents": [agent.pk],
        "entries": "each",
    }
    if answer:
        data["external_calendar"] = answer
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("calendars:appointment-create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Appointment.objects.get(subject="Server room check")


def test_form_asks_a_technician_under_ask(client, asking):
    client.force_login(asking.agent.user)

    page = client.get(reverse("calendars:appointment-create")).content.decode()

    assert "Send it to my external calendar now" in page


def test_form_does_not_ask_when_the_policy_is_always(client, alice_calendar):
    client.force_login(alice_calendar.agent.user)

    page = client.get(reverse("calendars:appointment-create")).content.decode()

    assert "Send it to my external calendar now" not in page


def test_answering_send_now_pushes_at_once(client, asking, alice_phone, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = post_form(client, asking.agent, tomorrow_9, "push", django_capture_on_commit_callbacks)

    assert [str(e.icalendar_component["summary"]) for e in alice_phone.entries()] == ["Server room check"]
    assert SyncLink.objects.get(appointment=appointment).approval != SyncLink.Approval.WAITING


def test_answering_keep_here_keeps_it_off_the_external_calendar(
    client, asking, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = post_form(client, asking.agent, tomorrow_9, "keep", django_capture_on_commit_callbacks)

    assert alice_phone.entries() == []
    assert SyncLink.objects.get(appointment=appointment).approval == SyncLink.Approval.DECLINED


def test_deciding_later_leaves_it_in_the_to_approve_list(
    client, asking, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = post_form(client, asking.agent, tomorrow_9, "later", django_capture_on_commit_callbacks)

    assert alice_phone.entries() == []
    assert SyncLink.objects.get(appointment=appointment).approval == SyncLink.Approval.WAITING
    assert "Server room check" in client.get(reverse("integrations:approvals")).content.decode()
