"""A shared appointment on Microsoft 365 (Graph): each technician's mailbox gets its own event,
organised by that mailbox with nobody invited (Graph "event resource type": isOrganizer true,
responseStatus "organizer", no attendees, so no invitation puts a second copy in anyone's
calendar), and what Outlook does to one copy is that technician's answer only. The scenarios are
tests/integrations/shared_scenarios.py; the local Graph server expands series itself."""

from datetime import UTC, datetime

import pytest

from integrations import services
from tests.integrations import one_technician_scenarios, shared_scenarios
from tests.peers.graph import graph_time

from .conftest import ALICE

pytestmark = pytest.mark.django_db

BOB = "bob@example.com"
CAROL = "carol@example.org"


def occurrence_id(master_id: str, original_start: datetime) -> str:
    """The id Graph gives an occurrence: the series' id and the occurrence's original start (UTC)."""
    return f"{master_id}_OID_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class Outlook:
    """Outlook on the technicians' mailboxes of the local Graph server."""

    def __init__(self, graph) -> None:
        self.graph = graph

    def entries(self, address: str) -> list[dict]:
        return [
            {
                "id": event["id"],
                "subject": event["subject"],
                "body": (event.get("body") or {}).get("content", ""),
                "start": event["_start"].astimezone(UTC),
                "attendees": [a["emailAddress"]["address"] for a in event["attendees"]],
                "organiser_is_self": event["isOrganizer"] and event["responseStatus"]["response"] == "organizer",
            }
            for event in self.graph.events(address)
        ]

    def view(self, address: str, start: datetime, end: datetime) -> list[tuple]:
        return sorted(
            (e["_start"].astimezone(UTC), e["_end"].astimezone(UTC), e["subject"])
            for e in self.graph.calendar_view(address, start, end)
        )

    def delete(self, address: str, entry_id: str) -> None:
        self.graph.outlook_delete(address, entry_id)

    def move(self, address: str, entry_id: str, start: datetime, end: datetime, subject: str) -> None:
        self.graph.outlook_edit(
            address, entry_id, start=graph_time(start, "UTC"), end=graph_time(end, "UTC"), subject=subject
        )

    def cancel_occurrence(self, address: str, master_id: str, original_start: datetime) -> None:
        self.graph.outlook_delete(address, occurrence_id(master_id, original_start))

    def move_occurrence(self, address, master_id, original_start, start, end) -> None:
        self.graph.outlook_edit(
            address,
            occurrence_id(master_id, original_start),
            start=graph_time(start, "UTC"),
            end=graph_time(end, "UTC"),
        )

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.graph.outlook_add(address, start, end, subject)["id"]

    def invitation(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        event = self.graph.outlook_add(address, start, end, subject)
        self.graph.outlook_edit(
            address,
            event["id"],
            isOrganizer=False,
            organizer={"emailAddress": {"name": "Carol", "address": CAROL}},
            responseStatus={"response": "notResponded", "time": "0001-01-01T00:00:00Z"},
            attendees=[{"emailAddress": {"address": address}, "type": "required"}],
            showAs="tentative",
        )
        return event["id"]

    def decline(self, address: str, entry_id: str) -> None:
        self.graph.outlook_edit(
            address, entry_id, responseStatus={"response": "declined", "time": "2026-12-01T00:00:00Z"}, showAs="free"
        )

    def lose_answer(self, address: str, operation: str, entry_id: str | None = None, *, times: int = 1) -> None:
        # The helpdesk's writes go out in $batch requests: the batch's answer is lost, every request
        # in it made.
        self.graph.drop_next.extend(["/$batch"] * times)

    def answer_again(self) -> None:
        self.graph.drop_next.clear()


@pytest.fixture
def bob_graph(bob, graph_connection):
    return services.connect_agent(bob, connection=graph_connection)


@shared_scenarios.each_scenario
def test_shared_appointment_on_microsoft_365(
    scenario, graph, alice_graph, bob_graph, django_capture_on_commit_callbacks
):
    assert (alice_graph.agent.mailbox, bob_graph.agent.mailbox) == (ALICE, BOB)
    scenario(Outlook(graph), alice_graph, bob_graph, django_capture_on_commit_callbacks)


@shared_scenarios.each_conditional_delete
def test_conditional_delete_on_microsoft_365(
    scenario, graph, alice_graph, bob_graph, django_capture_on_commit_callbacks
):
    scenario(Outlook(graph), alice_graph, bob_graph, django_capture_on_commit_callbacks)


@one_technician_scenarios.each_scenario
def test_one_technician_on_microsoft_365(scenario, graph, alice_graph, django_capture_on_commit_callbacks):
    scenario(Outlook(graph), alice_graph, django_capture_on_commit_callbacks)


@one_technician_scenarios.each_lost_answer
def test_lost_answer_on_microsoft_365(scenario, graph, alice_graph, django_capture_on_commit_callbacks):
    scenario(Outlook(graph), alice_graph, django_capture_on_commit_callbacks)
