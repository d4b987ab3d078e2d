"""An admin relinks a technician's calendar to another calendar of the same mailbox (Microsoft 365,
Exchange): the scenario both connectors' tests run.

A Graph event id and an EWS ItemId name an entry in the whole mailbox: GET .../events/{id} (also
under /calendars/{id}/: microsoft-graph-docs#391) and GetItem answer it whatever calendar holds it.
Reading a link's old id after the relink found the old calendar's entry and took it as present in
the new calendar: nothing was made there, and the next listing of the new calendar, which lacks
them, deleted the appointments. The entries must be re-created in the new calendar once and never
deleted. Expected values: the local server's own store (which calendar holds which entry, with
which marker: the peers' `add_calendar`, `markers_in`, `calendar_holding`), never our connector.
"""

from collections import Counter
from datetime import datetime, timedelta

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.importing import start_importing

SUBJECTS = {"Visit 0", "Visit 1", "Far visit"}


def relink(
    admin_client,
    agent_calendar: AgentCalendar,
    calendar_id: str,
    *,
    calendar_name: str = "",
    shared_account: bool = False,
    remove_old: bool = False,
) -> AgentCalendar:
    """The admin's AgentCalendar change form, with another calendar id (or name) of the same
    connection; `remove_old`: the tick box "Remove the helpdesk's entries from the old calendar"."""
    form = {
        "agent": agent_calendar.agent.pk,
        "connection": agent_calendar.connection.pk,
        "mailbox": "",
        "calendar_id": calendar_id,
        "calendar_name": calendar_name,
        "state": agent_calendar.state,
        **({"shared_account": "on"} if shared_account else {}),
        **({"remove_old_entries": "on"} if remove_old else {}),
    }
    response = admin_client.post(f"/admin/integrations/agentcalendar/{agent_calendar.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return AgentCalendar.objects.get(pk=agent_calendar.pk)


def relinked_entries_are_made_there_once(
    admin_client, agent_calendar: AgentCalendar, server, tomorrow_9: datetime, *, remove_old: bool = False
) -> None:
    """Three helpdesk entries (one beyond the import window's end) pushed to the linked calendar;
    the link moved to a new calendar of the mailbox in admin; two pulls. The first re-creates each
    entry in the new calendar, the old calendar keeps its own; the second makes nothing twice and
    deletes nothing. `server`: the Graph or EWS peer. With `remove_old` (the admin's tick box), the
    helpdesk's entries are then deleted from the old calendar, with one log line saying so."""
    mailbox = agent_calendar.agent.mailbox

    def markers_in(calendar_id: str) -> Counter:
        return server.markers_in(mailbox, calendar_id)

    agent_calendar = start_importing(agent_calendar)
    for number in range(2):
        start = tomorrow_9 + timedelta(hours=number)
        calendar_services.create_appointment(
            subject=f"Visit {number}", start=start, end=start + timedelta(hours=1), agents=[agent_calendar.agent]
        )
    far = tomorrow_9 + timedelta(days=CalendarSettings.load().import_days_future + 30)
    calendar_services.create_appointment(
        subject="Far visit", start=far, end=far + timedelta(hours=1), agents=[agent_calendar.agent]
    )
    assert engine.sync_agent_calendar(agent_calendar, pull=True).failed == 0
    old = agent_calendar.calendar_id
    markers = Counter(SyncLink.objects.values_list("marker", flat=True))
    assert markers_in(old) == markers and len(markers) == 3
    new = server.add_calendar(mailbox, "Helpdesk")

    relinked = relink(admin_client, agent_calendar, new, remove_old=remove_old)
    assert relinked.moved_from == old and relinked.calendar_id == new
    report = engine.sync_agent_calendar(relinked, pull=True)

    assert report.failed == 0, report.errors
    assert markers_in(new) == markers  # each entry once in the new calendar
    if remove_old:  # the old calendar held the helpdesk's entries only
        assert markers_in(old) == Counter()
        removed = SyncLogEntry.objects.get(agent_calendar=agent_calendar, operation="remove from old calendar")
        assert removed.message.startswith(f"Removed 3 of the helpdesk's entries from the old calendar {old}")
    else:
        assert markers_in(old) == markers  # the old calendar is left as it was
    assert {server.calendar_holding(mailbox, link.remote_id) for link in SyncLink.objects.all()} == {new}
    assert set(Appointment.objects.values_list("subject", flat=True)) == SUBJECTS
    log = SyncLogEntry.objects.filter(agent_calendar=agent_calendar)
    assert log.filter(operation="re-create").count() == 3
    assert "3 not there and re-created" in log.get(operation="first listing after move").message
    assert AgentCalendar.objects.get(pk=agent_calendar.pk).moved_from == ""

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)

    assert report.failed == 0 and report.pushed == 0, report.summary()
    assert markers_in(new) == markers
    deleted = log.filter(operation="delete", direction=SyncLogEntry.Direction.INBOUND)
    assert set(Appointment.objects.values_list("subject", flat=True)) == SUBJECTS
    assert not deleted.exists()
    assert report.pulled == 0, report.summary()


def kept_once_after_a_refused_push(entries: list[tuple[str, str]], remote_id: str, subject: str) -> None:
    """After a push refused on a stale version and decided again on the entry read now: the linked
    entry is the one entry of the mailbox (`entries`: (id, subject) pairs from the peer's store),
    carries the helpdesk's `subject`, and nothing was deleted or failed on either side."""
    errors = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert not errors.exists(), list(errors.values_list("operation", "message"))
    assert entries == [(remote_id, subject)]
    assert list(Appointment.objects.values_list("subject", flat=True)) == [subject]
    assert SyncLink.objects.get().remote_id == remote_id
    assert not SyncLogEntry.objects.filter(operation="delete").exists()


def push_before_the_first_listing_leaves_the_old_calendar(
    admin_client, agent_calendar: AgentCalendar, server, tomorrow_9: datetime, subjects_in
) -> None:
    """Two helpdesk entries pushed to the linked calendar; the link moved to a new calendar of the
    mailbox; one entry edited and the other deleted in the helpdesk, and a push-only run (the
    on-commit push) before any pull. The old calendar's entries are left as they were; after the
    pull the new calendar holds the edited entry once and not the deleted one, and the deleted
    appointment stays deleted. `server`: the Graph or EWS peer; `subjects_in(calendar_id)`: the
    subjects of that calendar's entries as the peer stores them (a Counter)."""
    mailbox = agent_calendar.agent.mailbox
    agent_calendar = start_importing(agent_calendar)
    made = []
    for number in range(2):
        start = tomorrow_9 + timedelta(hours=number)
        made.append(
            calendar_services.create_appointment(
                subject=f"Visit {number}", start=start, end=start + timedelta(hours=1), agents=[agent_calendar.agent]
            )
        )
    assert engine.sync_agent_calendar(agent_calendar, pull=True).failed == 0
    old = agent_calendar.calendar_id
    assert subjects_in(old) == Counter({"Visit 0": 1, "Visit 1": 1})
    new = server.add_calendar(mailbox, "Helpdesk")
    relinked = relink(admin_client, agent_calendar, new)
    assert relinked.moved_from == old
    calendar_services.update_appointment(made[0], subject="Visit 0 (moved to noon)")
    calendar_services.delete_appointment(made[1])

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=relinked.pk), pull=False)

    assert subjects_in(old) == Counter({"Visit 0": 1, "Visit 1": 1})  # left as it was
    assert subjects_in(new) == Counter()

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=relinked.pk), pull=True)

    assert report.failed == 0, report.errors
    assert subjects_in(new) == Counter({"Visit 0 (moved to noon)": 1})
    assert subjects_in(old) == Counter({"Visit 0": 1, "Visit 1": 1})
    assert list(Appointment.objects.values_list("subject", flat=True)) == ["Visit 0 (moved to noon)"]
    assert AgentCalendar.objects.get(pk=relinked.pk).moved_from == ""
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=relinked.pk), pull=True)
    assert report.failed == 0 and report.pushed == 0, report.summary()
    assert subjects_in(new) == Counter({"Visit 0 (moved to noon)": 1})
