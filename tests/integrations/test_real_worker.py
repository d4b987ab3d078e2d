"""A real Celery worker on Redis carries changes between the web client and Radicale (runs in CI)."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, SyncPolicy
from integrations.models import SyncLink
from integrations.tasks import pull_agent_calendar
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow]


def test_real_worker_carries_changes_both_ways(worker, alice_calendar, alice_phone, tomorrow_9, client):
    alice = alice_calendar.agent
    calendar_settings = CalendarSettings.load()
    calendar_settings.sync_policy = SyncPolicy.ASK
    calendar_settings.save()
    appointment = calendar_services.create_appointment(
        subject="Firewall upgrade", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice]
    )
    link = SyncLink.objects.get(appointment=appointment)
    client.force_login(alice.user)

    response = client.post(f"/me/approvals/{link.pk}/", {"decision": "approve"})  # the web client approves

    assert response.status_code == 302
    entries = wait_for(lambda: alice_phone.entries(), what="the entry to reach Radicale")
    assert [str(e.icalendar_component["summary"]) for e in entries] == ["Firewall upgrade"]

    alice_phone.edit(SyncLink.objects.get().marker, summary="Firewall upgrade (moved by phone)")
    pull_agent_calendar.delay(alice_calendar.pk)  # what beat does on its interval

    wait_for(
        lambda: Appointment.objects.get(pk=appointment.pk).subject == "Firewall upgrade (moved by phone)",
        what="the change to come back into the helpdesk",
    )
