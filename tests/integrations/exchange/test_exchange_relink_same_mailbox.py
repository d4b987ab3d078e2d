"""An admin relinks alice's Exchange calendar to another calendar folder of the same mailbox.

An EWS ItemId names an item in the whole mailbox (GetItem takes no folder), so reading a link's old
id after the relink found the old folder's item and took it as present in the new folder: nothing
was made there, and the next listing of the new folder, which lacks them, deleted the appointments.
The entries must be re-created in the new folder once and never deleted. Expected values: the
local Exchange server's own store (which folder holds which item), read as Outlook would show it.
"""

from collections import Counter
from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.importing import start_importing
from tests.peers.ews import decode_id

from .conftest import ALICE

pytestmark = pytest.mark.django_db

SUBJECTS = {"Visit 0", "Visit 1", "Far visit"}


def _markers_in(ews, folder_id: str) -> Counter:
    """Our marker (the HelpdeskLinkId extended property) of each item the folder holds."""
    key = decode_id(folder_id)[2]
    return Counter(
        value
        for item in ews.items(ALICE)
        if item.folder == key
        for (_, name, _), value in item.extended.items()
        if name == "HelpdeskLinkId"
    )


def _folder_of(ews, item_id: str) -> str:
    return ews.item(ALICE, item_id).folder


def _relink(admin_client, agent_calendar: AgentCalendar, calendar_id: str) -> AgentCalendar:
    """The admin's AgentCalendar change form, with another folder id of the same connection."""
    form = {
        "agent": agent_calendar.agent.pk,
        "connection": agent_calendar.connection.pk,
        "mailbox": "",
        "calendar_id": calendar_id,
        "calendar_name": "",
        "state": agent_calendar.state,
    }
    response = admin_client.post(f"/admin/integrations/agentcalendar/{agent_calendar.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return AgentCalendar.objects.get(pk=agent_calendar.pk)


def test_relinking_to_another_calendar_folder_of_the_mailbox_re_creates_the_entries_there_once(
    admin_client, alice_exchange, ews, tomorrow_9
):
    alice_calendar = start_importing(alice_exchange)
    for number in range(2):
        start = tomorrow_9 + timedelta(hours=number)
        calendar_services.create_appointment(
            subject=f"Visit {number}", start=start, end=start + timedelta(hours=1), agents=[alice_calendar.agent]
        )
    far = tomorrow_9 + timedelta(days=CalendarSettings.load().import_days_future + 30)
    calendar_services.create_appointment(
        subject="Far visit", start=far, end=far + timedelta(hours=1), agents=[alice_calendar.agent]
    )
    assert engine.sync_agent_calendar(alice_calendar, pull=True).failed == 0
    old = alice_calendar.calendar_id
    markers = Counter(SyncLink.objects.values_list("marker", flat=True))
    assert _markers_in(ews, old) == markers and len(markers) == 3
    new = ews.add_calendar_folder(ALICE, "Helpdesk")

    relinked = _relink(admin_client, alice_calendar, new)
    assert relinked.moved_from == old and relinked.calendar_id == new
    report = engine.sync_agent_calendar(relinked, pull=True)

    assert report.failed == 0, report.errors
    assert _markers_in(ews, new) == markers  # each entry once in the new folder
    assert _markers_in(ews, old) == markers  # the old folder is left as it was
    assert {_folder_of(ews, link.remote_id) for link in SyncLink.objects.all()} == {decode_id(new)[2]}
    assert set(Appointment.objects.values_list("subject", flat=True)) == SUBJECTS
    log = SyncLogEntry.objects.filter(agent_calendar=alice_calendar)
    assert log.filter(operation="re-create").count() == 3
    assert "3 not there and re-created" in log.get(operation="first listing after move").message
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).moved_from == ""

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0 and report.pushed == 0 and report.pulled == 0, report.summary()
    assert _markers_in(ews, new) == markers
    assert set(Appointment.objects.values_list("subject", flat=True)) == SUBJECTS
    assert not log.filter(operation="delete", direction=SyncLogEntry.Direction.INBOUND).exists()


def test_get_reads_an_item_of_the_linked_folder_only(provider, calendar, ews, tomorrow_9):
    """GetItem answers an item of any folder of the mailbox: `get` takes one whose ParentFolderId is
    another folder as not there, one of the linked folder as it is, and a folder named by its
    distinguished id "calendar" is the default Calendar folder's id (GetFolder)."""
    from exchangelib.folders import Calendar, Root
    from exchangelib.properties import ParentFolderId

    from integrations.providers.base import RemoteCalendar, RemoteRef

    other = ews.add_calendar_folder(ALICE, "Helpdesk")
    hour = timedelta(hours=1)
    in_default = ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + hour)
    in_other = ews.outlook_create(ALICE, subject="Rota", start=tomorrow_9, end=tomorrow_9 + hour, folder=other)
    elsewhere = RemoteCalendar(calendar.mailbox, other)

    assert provider.get(elsewhere, RemoteRef(in_default, None)) is None
    assert provider.get(calendar, RemoteRef(in_other, None)) is None
    assert provider.get(elsewhere, RemoteRef(in_other, None)).subject == "Rota"
    assert provider.get(calendar, RemoteRef(in_default, None)).subject == "Dentist"
    distinguished = Calendar(root=Root(account=provider._account(ALICE)), id="calendar")
    assert provider._in_folder(distinguished, ParentFolderId(id=calendar.calendar_id))
    assert not provider._in_folder(distinguished, ParentFolderId(id=other))
