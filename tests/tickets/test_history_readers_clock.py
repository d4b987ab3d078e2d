"""Trial F-HIST-TZ: history lines keep their instants and are written on each reader's clock
(README: pages and the API show times in the signed-in user's zone, others get TIME_ZONE); a line
written before the instants were kept reads as it was written.

Expected texts are written with strftime on the reader's zone (zoneinfo), not with our code."""

from datetime import UTC, datetime
from html import escape
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from tickets import services as ticket_services
from tickets.models import HistoryLine

pytestmark = pytest.mark.django_db
AMS, LONDON = ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/London")


def on(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def history(user, request_id: int) -> list[str]:
    client = Client()
    client.force_login(user)
    return [line["text"] for line in client.get(f"/api/requests/{request_id}/").json()["history"]]


def test_a_coordinators_planned_line_reads_on_a_london_technicians_clock(coordinator, alice, bob):
    ticket = ticket_services.create_request(summary="Router", assigned_agents=[bob])
    client = Client()
    client.force_login(coordinator)
    body = {"planned_start": "2026-12-02T09:00:00Z", "confirm_overlap": True}
    assert client.patch(f"/api/requests/{ticket.pk}/", body, content_type="application/json").status_code == 200

    planned = datetime(2026, 12, 2, 9, tzinfo=UTC)
    assert history(coordinator, ticket.pk) == [f"Planned for {on(planned, AMS)} by coordinator"]
    assert history(bob.user, ticket.pk) == [f"Planned for {on(planned, LONDON)} by coordinator"]
    assert on(planned, LONDON) == "Wed 2 Dec 2026 09:00 GMT"


def test_a_line_written_before_instants_were_kept_reads_as_written(coordinator, bob):
    ticket = ticket_services.create_request(summary="Router", assigned_agents=[bob])
    old = "Unplanned from Bob's calendar on Mon 30 Nov 2026 21:50 GMT"
    HistoryLine.objects.create(request=ticket, text=old)  # as migration 0005 leaves it: no parts

    assert history(coordinator, ticket.pk) == [old]
    page = Client()
    page.force_login(coordinator)
    assert f"<li>{escape(old)}</li>" in page.get(f"/requests/{ticket.pk}/").content.decode()
