"""Trial F-BOOK-REASSIGN: "Find a slot" > "Anyone of <team>" > Book on another technician's slot
replaced the request's technician without a word: the message said only "Planned for ... with Bob
de Vries." and the history only "Planned for ...". The drag on the group calendar writes
"Reassigned from Bob de Vries to Carol Smith by ..."; a booking now names the change in the same
words, in the message and in the history, once.

Expected times are written with strftime on the coordinator's clock (Amsterdam, the site's zone)."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tickets import services
from tickets.models import HistoryLine

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")
NOW = r"\w{3} \d{1,2} \w{3} \d{4} \d\d:\d\d (CET|CEST)"  # now, on the coordinator's clock


def on(moment: datetime) -> str:
    local = moment.astimezone(AMS)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def book(client, ticket, start: datetime, agent) -> str:
    response = client.post(
        f"/requests/{ticket.pk}/book-slot/", {"start": start.isoformat(), "agent": [agent.pk]}, follow=True
    )
    assert response.status_code == 200
    return " ".join(str(message) for message in response.context["messages"])


def history(client, ticket) -> list[str]:
    return [line["text"] for line in client.get(f"/api/requests/{ticket.pk}/").json()["history"]]


def test_booking_another_technicians_slot_on_an_unplanned_request_names_the_reassignment(
    page_client, coordinator, alice, bob
):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = page_client(coordinator)
    start = datetime(2035, 3, 5, 10, tzinfo=AMS)

    said = book(client, ticket, start, bob)

    assert said == "Planned for Mon 5 Mar 2035 10:00 with Bob. Reassigned from Alice to Bob."
    reassigned, planned = history(client, ticket)  # newest first
    assert re.fullmatch(f"Reassigned from Alice to Bob by coordinator on {NOW}", reassigned)
    assert planned == f"Planned for {on(start)} by coordinator"


def test_booking_another_technicians_slot_on_a_planned_request_names_it_once(page_client, coordinator, alice, bob):
    first = datetime(2035, 3, 5, 9, tzinfo=AMS)
    ticket = services.create_request(summary="Printer", assigned_agents=[alice], planned_start=first)
    client = page_client(coordinator)
    start = datetime(2035, 3, 5, 13, tzinfo=AMS)

    said = book(client, ticket, start, bob)

    assert said == "Planned for Mon 5 Mar 2035 13:00 with Bob. Reassigned from Alice to Bob."
    lines = history(client, ticket)
    assert len(lines) == 2, lines
    (reassigned,) = [line for line in lines if line.startswith("Reassigned")]
    assert re.fullmatch(f"Reassigned from Alice to Bob by coordinator on {NOW}, moved to {on(start)}", reassigned)
    assert f"Re-planned from {on(first)} to {on(start)} by coordinator" in lines


def test_booking_the_same_technician_says_no_reassignment(page_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = page_client(coordinator)

    said = book(client, ticket, datetime(2035, 3, 5, 10, tzinfo=AMS), alice)

    assert said == "Planned for Mon 5 Mar 2035 10:00 with Alice."
    assert not HistoryLine.objects.filter(text__startswith="Reassigned").exists()


def test_booking_through_the_api_writes_the_reassignment_in_the_history(page_client, coordinator, alice, bob):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = page_client(coordinator)
    body = {"start": "2035-03-05T10:00:00+01:00", "agents": [bob.pk]}

    response = client.post(f"/api/requests/{ticket.pk}/book-slot/", body, content_type="application/json")

    assert response.status_code == 200, response.content
    texts = [line["text"] for line in response.json()["history"]]
    assert re.fullmatch(f"Reassigned from Alice to Bob by coordinator on {NOW}", texts[0])
