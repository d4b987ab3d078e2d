"""Issue 14: an unchanged poll builds every link's local side from rows read in bulk
(`engine._with_local_side`: technicians built once each, the remote snapshot read only where the
entry reads it). The requirement is "the same decision as before", so the reference here is the
local side built as before: the appointment read on its own (its technicians and edited
occurrences read through the ORM) and the remote snapshot always given to `mapping.local_event`.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import CalendarSettings
from integrations.models import AgentCalendar, SyncLink
from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import CalDAVProvider
from integrations.sync import engine, mapping
from tests.integrations.conftest import USERS
from tests.integrations.series import make_weekly_series
from tests.peers.radicale import sample_entries
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _reference_hash(run: engine._Run, link: SyncLink) -> str | None:
    """The local side's hash as the engine built it before issue 14's change."""
    link = SyncLink.objects.get(pk=link.pk)  # no prefetch: every relation read through the ORM
    appointment = link.appointment
    if appointment is None or all(agent.pk != run.agent.pk for agent in appointment.agents.all()):
        return None
    before = mapping.from_data(link.snapshot["remote"]) if link.snapshot.get("remote") else None
    local = run._entry_of(link, appointment, before)  # the snapshot read for every link, as before
    return mapping.content_hash(local)


def _fast_hashes(run: engine._Run) -> dict[int, str | None]:
    links = engine._with_local_side(run.ac.links.all())
    return {
        link.pk: (None if (local := run._local_event(link)) is None else mapping.content_hash(local)) for link in links
    }


def test_the_local_side_read_in_bulk_hashes_as_each_appointment_read_alone(
    alice_calendar, bob_calendar, radicale, tomorrow_9, django_capture_on_commit_callbacks
):
    alice, bob = alice_calendar.agent, bob_calendar.agent
    settings = CalendarSettings.load()
    settings.subject_template = "[HD] {subject} #{request_number}"
    settings.body_template = "{note}\nFor: {customer} / {site}\nWith: {agents}\n{summary}"
    settings.reminder_minutes = 25
    settings.save()
    capture = django_capture_on_commit_callbacks

    # Imported entries: singles, all-day, private, series with EXDATE and a moved occurrence.
    alice.import_external = True
    alice.save()
    radicale.write_entries(alice_calendar.calendar_id, sample_entries(60, timezone.localdate() + timedelta(days=1)))
    server = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=600)
    wide = Window(timezone.now() - timedelta(days=3650), timezone.now() + timedelta(days=3650))
    server.list_changes(RemoteCalendar("", alice_calendar.calendar_id), None, wide)
    assert engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True).pulled == 60

    # The helpdesk's own: templates, a request, shared, attendees, reminders, private, all-day, series.
    def make(subject, start, **fields):
        with capture(execute=True):
            return calendar_services.create_appointment(subject=subject, start=start, end=start + HOUR, **fields)

    with capture(execute=True):
        request = ticket_services.create_request(
            summary="Move desk phones", assigned_agents=[bob, alice], planned_start=tomorrow_9 + timedelta(days=3)
        )
    make("Shared visit", tomorrow_9, agents=[bob, alice], note="Keys at desk", location="Room 4", request=request)
    make("Attendees", tomorrow_9 + 2 * HOUR, agents=[alice], other_attendees=["x@example.com", "y@example.com"])
    make("Reminded", tomorrow_9 + 4 * HOUR, agents=[alice], reminder_minutes=5, busy=False)
    make("Private", tomorrow_9 + 6 * HOUR, agents=[alice, bob], private=True, note="secret")
    day = timezone.localdate() + timedelta(days=5)
    with capture(execute=True):
        calendar_services.create_appointment(
            subject="Off", start=day, end=day + timedelta(days=2), agents=[alice], all_day=True
        )
    master = make_weekly_series(alice, tomorrow_9 + timedelta(days=10), capture)
    with capture(execute=True):
        shared = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=5", agents=[alice, bob], start=tomorrow_9 + timedelta(days=20),
            end=tomorrow_9 + timedelta(days=20) + HOUR, subject="Shared daily", note="n",
        )  # fmt: skip
    occurrences = list(shared.occurrences.order_by("original_start"))
    with capture(execute=True):
        calendar_services.update_appointment(
            occurrences[1], subject="Moved one", start=occurrences[1].start + HOUR, end=occurrences[1].end + HOUR
        )
    with capture(execute=True):
        calendar_services.update_appointment(occurrences[2], private=True)
    with capture(execute=True):
        calendar_services.leave_occurrence(occurrences[3], bob)
    assert master.occurrences.filter(is_modified=True).exists()

    for agent_calendar in (alice_calendar, bob_calendar):
        run = engine._Run(AgentCalendar.objects.get(pk=agent_calendar.pk), timezone.now())
        fast = _fast_hashes(run)
        reference = {link.pk: _reference_hash(run, link) for link in run.ac.links.all()}
        assert len(fast) >= (68 if agent_calendar == alice_calendar else 4)
        assert fast == reference
    # What the poll decides: nothing, on either calendar.
    for agent_calendar in (alice_calendar, bob_calendar):
        report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)
        assert (report.pulled, report.pushed, report.failed) == (0, 0, 0)
