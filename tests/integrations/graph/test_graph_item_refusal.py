"""Review finding 5: a 403 (ErrorAccessDenied) on one event is that entry's failure, named in the
log; only the application access policy's refusal, which Graph gives for every request on the
mailbox ("Limiting application permissions to specific mailboxes"), marks the calendar failing."""


import pytest

from calendars import services as calendar_services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.test_caldav_sync import make

pytestmark = pytest.mark.django_db

# Graph's answer for an event the app may not change (Graph "Microsoft Graph error responses": 403
# Forbidden, code ErrorAccessDenied, with Exchange's own text).
ITEM_DENIED = "Access is denied. Check credentials and try again."


def test_a_403_on_one_event_fails_that_entry_alone_and_the_calendar_stays_active(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="Locked visit")
    link = SyncLink.objects.get(appointment=appointment)
    graph.fail(403, "ErrorAccessDenied", path=link.remote_id, message=ITEM_DENIED)
    calendar_services.update_appointment(appointment, subject="Locked visit (moved)")

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=False)

    calendar = AgentCalendar.objects.get(pk=alice_graph.pk)
    assert report.failed == 1 and report.connection_failures == 0
    assert calendar.state == AgentCalendar.State.ACTIVE
    assert "application access policy" not in calendar.last_error
    (logged,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert logged.link_id == link.pk and "refused this entry" in logged.message
    assert SyncLink.objects.get(pk=link.pk).failures == 1


def test_the_access_policy_refusal_on_one_event_still_marks_the_calendar_failing(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="Visit")
    link = SyncLink.objects.get(appointment=appointment)
    graph.fail(
        403,
        "ErrorAccessDenied",
        path=link.remote_id,
        message="Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
    )
    calendar_services.update_appointment(appointment, subject="Visit (moved)")

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=False)

    calendar = AgentCalendar.objects.get(pk=alice_graph.pk)
    assert calendar.state == AgentCalendar.State.FAILING
    assert "application access policy" in calendar.last_error
