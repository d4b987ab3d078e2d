"""Every change a person makes to a request's planned date leaves a line in its history: set,
changed, and cleared (trial: clearing it left none, so the coordinator could not see who
unplanned the work or when it had been planned).

The expected lines are written here with strftime on the reader's clock (Amsterdam, the site's
zone for a coordinator without a technician), not with our formatting code."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from tickets import services as ticket_services

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")


def when(moment: datetime) -> str:
    local = moment.astimezone(AMS)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def lines(client: Client, request_id: int) -> list[str]:
    return [line["text"] for line in client.get(f"/api/requests/{request_id}/").json()["history"]]


def patch(client: Client, request_id: int, planned_start: str | None) -> None:
    body = {"planned_start": planned_start, "confirm_overlap": True}
    response = client.patch(f"/api/requests/{request_id}/", body, content_type="application/json")
    assert response.status_code == 200, response.content


def test_setting_changing_and_clearing_the_planned_date_each_leave_a_history_line(coordinator, alice):
    ticket = ticket_services.create_request(summary="Router", assigned_agents=[alice])
    client = Client()
    client.force_login(coordinator)
    first, second = datetime(2026, 12, 2, 9, tzinfo=UTC), datetime(2026, 12, 3, 13, tzinfo=UTC)

    patch(client, ticket.pk, "2026-12-02T09:00:00Z")
    patch(client, ticket.pk, "2026-12-03T13:00:00Z")
    patch(client, ticket.pk, None)

    assert lines(client, ticket.pk) == [  # newest first
        f"Unplanned by coordinator (was planned for {when(second)})",
        f"Re-planned from {when(first)} to {when(second)} by coordinator",
        f"Planned for {when(first)} by coordinator",
    ]
    assert when(first) == "Wed 2 Dec 2026 10:00 CET"


def test_clearing_the_planned_date_on_the_request_page_leaves_a_history_line(coordinator, alice):
    start = datetime(2026, 12, 2, 9, tzinfo=UTC)
    ticket = ticket_services.create_request(summary="Router", assigned_agents=[alice], planned_start=start)
    client = Client()
    client.force_login(coordinator)
    page = client.get(f"/requests/{ticket.pk}/edit/")
    assert page.status_code == 200
    form = page.context["form"]
    fields = {name: value for name, value in form.initial.items() if value is not None}
    fields.update(summary="Router", planned_start="", assigned_agents=[alice.pk])

    response = client.post(f"/requests/{ticket.pk}/edit/", fields)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert lines(client, ticket.pk) == [f"Unplanned by coordinator (was planned for {when(start)})"]


def test_a_change_without_a_person_leaves_no_line_here(alice):
    """The sync (by=None) writes its own line, naming the technician's calendar."""
    ticket = ticket_services.create_request(summary="Router", assigned_agents=[alice])
    ticket_services.update_request(ticket, planned_start=datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert not ticket.history.exists()
