"""Review finding 5 on EWS: ErrorAccessDenied in one item's own ResponseMessage (MS-OXWS 3.1.4: one
response message per item) is that entry's failure, named in the log; the calendar is not marked
failing, as it is when the whole request is refused."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine

pytestmark = pytest.mark.django_db


def test_an_access_denied_on_one_item_fails_that_entry_alone(alice_exchange, ews, tomorrow_9):
    calendar_services.create_appointment(
        subject="Locked visit", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_exchange.agent]
    )
    ews.refuse_items("Locked", code="ErrorAccessDenied", text="Access is denied. Check credentials and try again.")

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_exchange.pk), pull=False)

    calendar = AgentCalendar.objects.get(pk=alice_exchange.pk)
    assert report.failed == 1 and report.connection_failures == 0
    assert calendar.state == AgentCalendar.State.ACTIVE
    (logged,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert logged.link_id == SyncLink.objects.get().pk and "refused this entry" in logged.message
