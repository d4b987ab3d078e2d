"""A shared appointment on Exchange (EWS): each technician's mailbox gets its own entry, organised
by that mailbox with nobody invited (MS-OXWS t:ResponseTypeType: MyResponseType "Organizer",
IsMeeting false), and what Outlook does to one copy is that technician's answer only. The
scenarios are tests/integrations/shared_scenarios.py; the local EWS server expands series itself."""

from datetime import UTC, datetime

import pytest

from integrations import services
from tests.integrations import one_technician_scenarios, shared_scenarios

from .conftest import ALICE

pytestmark = pytest.mark.django_db

BOB = "bob@example.com"
CAROL = "carol@example.org"


class Outlook:
    """Outlook on the technicians' mailboxes of the local EWS server."""

    def __init__(self, ews) -> None:
        self.ews = ews

    def entries(self, address: str) -> list[dict]:
        return [
            {
                "id": item.item_id,
                "subject": item.subject,
                "body": item.body,
                "start": item.start.astimezone(UTC),
                "attendees": item.attendees,
                "organiser_is_self": item.my_response_type == "Organizer" and item.organizer in ("", address),
            }
            for item in self.ews.items(address)
        ]

    def view(self, address: str, start: datetime, end: datetime) -> list[tuple]:
        return sorted(
            (e.start.astimezone(UTC), e.end.astimezone(UTC), e.subject)
            for e in self.ews.calendar_view(address, start, end)
        )

    def delete(self, address: str, entry_id: str) -> None:
        self.ews.outlook_delete(address, entry_id)

    def move(self, address: str, entry_id: str, start: datetime, end: datetime, subject: str) -> None:
        self.ews.outlook_update(address, entry_id, start=start, end=end, subject=subject)

    def cancel_occurrence(self, address: str, master_id: str, original_start: datetime) -> None:
        self.ews.outlook_cancel_occurrence(address, master_id, original_start)

    def move_occurrence(self, address, master_id, original_start, start, end) -> None:
        self.ews.outlook_move_occurrence(address, master_id, original_start, start=start, end=end)

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.ews.outlook_create(address, subject=subject, start=start, end=end)

    def invitation(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.ews.outlook_create(
            address,
            subject=subject,
            start=start,
            end=end,
            attendees=[address],
            organizer=CAROL,
            my_response_type="NoResponseReceived",
            free_busy="Tentative",
        )

    def decline(self, address: str, entry_id: str) -> None:
        self.ews.outlook_update(address, entry_id, my_response_type="Decline", free_busy="Free")

    def lose_answer(self, address: str, operation: str, entry_id: str | None = None, *, times: int = 1) -> None:
        self.ews.fail_next("drop_after", times, operation=f"{operation.title()}Item")

    def answer_again(self) -> None:
        self.ews.calm()


@pytest.fixture
def bob_exchange(bob, ews_connection):
    return services.connect_agent(bob, connection=ews_connection)


@shared_scenarios.each_scenario
def test_shared_appointment_on_exchange(
    scenario, ews, alice_exchange, bob_exchange, django_capture_on_commit_callbacks
):
    assert alice_exchange.agent.mailbox == ALICE and bob_exchange.agent.mailbox == BOB
    scenario(Outlook(ews), alice_exchange, bob_exchange, django_capture_on_commit_callbacks)


@shared_scenarios.each_conditional_delete
def test_conditional_delete_on_exchange(
    scenario, ews, alice_exchange, bob_exchange, django_capture_on_commit_callbacks
):
    scenario(Outlook(ews), alice_exchange, bob_exchange, django_capture_on_commit_callbacks)


@one_technician_scenarios.each_scenario
def test_one_technician_on_exchange(scenario, ews, alice_exchange, django_capture_on_commit_callbacks):
    scenario(Outlook(ews), alice_exchange, django_capture_on_commit_callbacks)
    # Whatever the scenario wrote, Exchange was told to send nobody anything (SendToNone).
    assert {mode for _, mode in ews.notifications} <= {"SendToNone"}


@one_technician_scenarios.each_lost_answer
def test_lost_answer_on_exchange(scenario, ews, alice_exchange, django_capture_on_commit_callbacks):
    scenario(Outlook(ews), alice_exchange, django_capture_on_commit_callbacks)
