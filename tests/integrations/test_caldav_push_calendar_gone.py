"""Trial L-409: a push into a calendar that is no longer on the server. RFC 4918 9.7.1: a PUT whose
parent collection is missing answers 409 Conflict (Radicale does; RFC 4791 5.3.2 lists the PUT
preconditions). The sync log and the calendar's error say the calendar is not there, naming its URL,
as the listing's 404 does, and the entry waits its back-off instead of retrying at every push."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("operation", ["create", "update"])
def test_a_push_into_a_calendar_that_is_gone_says_so_with_its_url(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks, operation
):
    appointment = None
    if operation == "update":
        with django_capture_on_commit_callbacks(execute=True):
            appointment = calendar_services.create_appointment(
                subject="Training", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
            )
    alice_phone.calendar.delete()  # the collection itself, as a new server without it would be

    with django_capture_on_commit_callbacks(execute=True):
        if appointment is None:
            appointment = calendar_services.create_appointment(
                subject="Training", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
            )
        else:
            calendar_services.update_appointment(
                appointment, start=tomorrow_9 + timedelta(hours=2), end=tomorrow_9 + timedelta(hours=3)
            )

    line = SyncLogEntry.objects.filter(agent_calendar=alice_calendar, result=SyncLogEntry.Result.ERROR).latest("pk")
    assert f"there is no calendar at {alice_calendar.calendar_id}" in line.message
    assert "409 Conflict" in line.message
    alice_calendar.refresh_from_db()
    assert alice_calendar.state == AgentCalendar.State.FAILING
    assert f"there is no calendar at {alice_calendar.calendar_id}" in alice_calendar.last_error
    link = SyncLink.objects.get(appointment=appointment)
    assert link.pending and link.failures == 1 and link.next_attempt_at is not None

    # Its back-off holds: the next push does not try it again (no retry storm).
    again = engine.sync_agent_calendar(alice_calendar, pull=False)

    assert (again.pushed, again.failed) == (0, 0)
    assert SyncLink.objects.get(pk=link.pk).failures == 1
