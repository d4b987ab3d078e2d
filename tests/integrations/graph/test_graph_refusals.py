"""Review finding 5 on Microsoft 365 (Graph): the scenarios of tests/integrations/refusal_scenarios.py
against the local Graph server, which refuses one event or a calendar's writes with Graph's 403
ErrorAccessDenied ("Microsoft Graph error responses") and says `canEdit` false for a calendar the
app may only read (calendar resource type)."""

from datetime import UTC, datetime

import pytest

from integrations.models import AgentCalendar
from integrations.sync import engine
from tests.integrations import refusal_scenarios
from tests.integrations.test_caldav_sync import make

pytestmark = pytest.mark.django_db


class Outlook:
    def __init__(self, graph) -> None:
        self.graph = graph

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.graph.outlook_add(address, start.astimezone(UTC), end.astimezone(UTC), subject)["id"]

    def subjects(self, address: str) -> list[str]:
        return sorted(event["subject"] for event in self.graph.events(address))

    def refuse_entry(self, address: str, entry_id: str, *, reads: bool = False) -> None:
        self.graph.refuse_event(address, entry_id, reads=reads)

    def drop_write_right(self, address: str) -> None:
        self.graph.drop_write_right(address)


@refusal_scenarios.each_scenario
def test_refusals_on_microsoft_365(scenario, graph, alice_graph, django_capture_on_commit_callbacks):
    scenario(Outlook(graph), alice_graph, django_capture_on_commit_callbacks)


def test_the_access_policy_refusal_on_one_event_marks_the_calendar_failing(
    graph, alice_graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """The application access policy's 403 names the whole mailbox in its message (Graph "Limiting
    application permissions to specific mailboxes"): the calendar's problem even on one event."""
    from calendars import services as calendar_services

    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    graph.mailboxes[alice_graph.agent.mailbox.lower()].allowed = False
    calendar_services.update_appointment(appointment, subject="Moved")

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=False)

    calendar = AgentCalendar.objects.get(pk=alice_graph.pk)
    assert calendar.state == AgentCalendar.State.FAILING
    assert "application access policy" in calendar.last_error
