"""A technician's own entry, imported from her CalDAV calendar, stays in that calendar whatever the
helpdesk does with its technicians (trial report, problem 1: a coordinator's drag to Bob deleted
alice's "Dentist" from her Radicale calendar). Checked on a real Radicale with the caldav library."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from integrations.sync import engine

pytestmark = pytest.mark.django_db


def pull(agent_calendar):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=True)


def push(agent_calendar):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=False)


@pytest.fixture
def dentist(alice_calendar, alice_phone, tomorrow_9):
    """Alice's "Dentist", made in her phone's calendar and imported (source external)."""
    alice = alice_calendar.agent
    alice.import_external = True
    alice.save()
    pull(alice_calendar)  # the first sync token
    alice_phone.add("phone-dentist", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist")
    pull(alice_calendar)
    return Appointment.objects.get(source=Appointment.Source.EXTERNAL)


def test_coordinator_patch_of_an_imported_entrys_agents_is_refused_and_nothing_is_pushed(
    dentist, alice_calendar, bob_calendar, alice_phone, coordinator, django_capture_on_commit_callbacks
):
    bob = bob_calendar.agent
    client = APIClient()
    client.force_authenticate(coordinator)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.patch(f"/api/appointments/{dentist.pk}/", {"agents": [bob.pk]}, format="json")
    push(alice_calendar), push(bob_calendar)

    assert response.status_code == 400
    assert list(response.json()) == ["agents"]
    assert queued == []  # no push was queued
    assert list(Appointment.objects.get(pk=dentist.pk).agents.all()) == [alice_calendar.agent]
    assert not SyncLink.objects.filter(pending=True).exists()
    assert not SyncLink.objects.filter(agent_calendar=bob_calendar).exists()
    entry = alice_phone.by_uid("phone-dentist").icalendar_component  # still in her own calendar, as she made it
    assert str(entry["summary"]) == "Dentist"


def test_imported_entry_taken_off_its_technician_stays_in_her_calendar_and_comes_back(
    dentist, alice_calendar, alice_phone, bob, tomorrow_9
):
    """Data from before the rule (or a change made straight in the database): the entry is on Bob
    in the helpdesk and alice's link is marked for a push. The push must not delete her event; the
    next pull imports it again as her own time."""
    Appointment.agents.through.objects.filter(appointment=dentist).update(agent=bob)
    SyncLink.objects.filter(appointment=dentist).update(pending=True)

    report = push(alice_calendar)

    assert report.pushed == 0
    entry = alice_phone.by_uid("phone-dentist").icalendar_component
    assert (str(entry["summary"]), entry.decoded("dtstart")) == ("Dentist", tomorrow_9)
    assert not SyncLink.objects.filter(appointment=dentist, agent_calendar=alice_calendar).exists()
    kept = SyncLogEntry.objects.get(agent_calendar=alice_calendar, direction="out")
    assert (kept.operation, kept.result) == ("delete", SyncLogEntry.Result.SKIPPED)

    pull(alice_calendar)

    again = Appointment.objects.exclude(pk=dentist.pk).get(source=Appointment.Source.EXTERNAL)
    assert (again.subject, again.start, list(again.agents.all())) == ("Dentist", tomorrow_9, [alice_calendar.agent])
    assert len(alice_phone.entries()) == 1
    alice_calendar.refresh_from_db()
    assert alice_calendar.import_retry == {}


def test_an_imported_entry_deleted_in_the_helpdesk_is_still_deleted_in_her_calendar(
    dentist, alice_calendar, alice_phone, coordinator, django_capture_on_commit_callbacks
):
    """The rule is about who the entry is for, not deletions: one on either side reaches the other (S3.8)."""
    client = APIClient()
    client.force_authenticate(coordinator)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/appointments/{dentist.pk}/").status_code == 204

    assert alice_phone.entries() == []
