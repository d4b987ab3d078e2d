"""The "Work logged: " title of an action's entry (dispatch task 2) against a real Radicale: what
the sync does with entries synced before, under the old default subject template "{subject}".

The sync compares each linked entry as the helpdesk renders it now with the hash stored at the
last sync (integrations.sync.planner, case 11): a new rendered subject is a helpdesk change, so
every already-synced action entry is written once at the next pull, and never again (no
ping-pong): the remote entry then holds exactly what the helpdesk renders, and reading it back
through the template "{title}" gives the same subject. Planned and manual entries render as
before and are not written. Entries are read with the caldav client, not with our code.
"""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps

from calendars.models import Appointment, CalendarSettings
from integrations.models import SyncLink
from integrations.sync import engine
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

migration = importlib.import_module("calendars.migrations.0006_dispatch_title_template")


def pull(agent_calendar):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=True)


def _summary(phone, appointment) -> str:
    return str(phone.by_uid(SyncLink.objects.get(appointment=appointment).marker).icalendar_component["summary"])


@pytest.fixture
def synced_under_the_old_default(alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks):
    """A planned request and an action on it, pushed while the subject template was "{subject}"."""
    settings = CalendarSettings.load()
    settings.subject_template = "{subject}"
    settings.save()
    alice = alice_calendar.agent
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_services.create_request(summary="Printer jams", assigned_agents=[alice])
        ticket_services.update_request(ticket, planned_start=tomorrow_9)
        ticket_services.log_action(
            ticket,
            agent=alice,
            done_at=tomorrow_9 - timedelta(days=2),  # work is logged once done (never ahead)
            time_taken=timedelta(hours=1),
            add_to_calendar=True,
        )
    planned = Appointment.objects.get(request=ticket, source=Appointment.Source.PLANNED)
    logged = Appointment.objects.get(request=ticket, source=Appointment.Source.ACTION)
    subject = f"#{ticket.pk} Printer jams"
    assert _summary(alice_phone, planned) == _summary(alice_phone, logged) == subject
    assert pull(alice_calendar).pushed == 0
    return planned, logged, subject


def test_the_new_default_rewrites_each_synced_action_entry_once_and_then_never(
    alice_calendar, alice_phone, synced_under_the_old_default
):
    planned, logged, subject = synced_under_the_old_default

    migration.title_by_default(apps, None)

    assert CalendarSettings.load().subject_template == "{title}"
    first = pull(alice_calendar)
    assert (first.pushed, first.pulled, first.conflicts) == (1, 0, 0)  # the action's entry, not the plan
    assert _summary(alice_phone, logged) == f"Work logged: {subject}"
    assert _summary(alice_phone, planned) == subject
    for _ in range(2):
        again = pull(alice_calendar)
        assert (again.pushed, again.pulled, again.conflicts) == (0, 0, 0)
    logged.refresh_from_db()
    assert logged.subject == subject  # the subject is not rewritten, only the title shown


def test_a_renamed_entry_reads_back_through_the_title_without_ping_pong(
    alice_calendar, alice_phone, synced_under_the_old_default
):
    _planned, logged, subject = synced_under_the_old_default
    migration.title_by_default(apps, None)
    pull(alice_calendar)
    marker = SyncLink.objects.get(appointment=logged).marker

    alice_phone.edit(marker, summary=f"Work logged: {subject} (toner)")
    first = pull(alice_calendar)

    logged.refresh_from_db()
    assert (first.pulled, first.pushed) == (1, 0)
    assert logged.subject == f"{subject} (toner)"  # no "Work logged: Work logged: ..." next time
    again = pull(alice_calendar)
    assert (again.pushed, again.pulled) == (0, 0)
    assert _summary(alice_phone, logged) == f"Work logged: {subject} (toner)"


def test_a_template_an_admin_wrote_is_kept(db):
    settings = CalendarSettings.load()
    settings.subject_template = "[HD] {subject}"
    settings.save()

    migration.title_by_default(apps, None)

    assert CalendarSettings.load().subject_template == "[HD] {subject}"
