"""Times and series as every client writes them (tests/corpus/ical, listed in its README).

For each input, the right occurrences are what recurring-ical-events makes of the SAME input over
the window; the helpdesk's own view of it must match them in start, end, all-day flag and count:
- through the parser directly (no server normalising anything): the REST API for the technician,
  the technician's iCalendar feed, and a team feed fetched by a coordinator in another zone;
- through the real sync from Radicale: put there by another client and pulled (the API and both
  feeds again), renamed in the helpdesk, pushed, and read back from Radicale.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import pytest
import recurring_ical_events
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from agents.models import Team
from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import services
from integrations.models import SyncLink
from integrations.providers.caldav import CalDAVProvider, parse_event
from integrations.sync import engine, inbound
from tests.integrations.conftest import USERS

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "ical"
FILES = sorted(path.name for path in CORPUS.glob("*.ics"))
# The helpdesk's "today" for these tests: the import window and the one-year horizon follow it.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# Compared between these days: inside the import window and the horizon, away from their edges.
FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2027, 10, 30)
WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 10, 30, tzinfo=UTC))
# The technician's zone, where it is not Amsterdam (floating times are on it).
TECHNICIAN_ZONE = {"apple-floating-time.ics": "America/New_York"}
COORDINATOR_ZONE = "America/Los_Angeles"


def corpus_text(name: str) -> str:
    return (CORPUS / name).read_text().replace("\r\n", "\n").replace("\n", "\r\n")


def expanded(calendar: Calendar, zone: ZoneInfo) -> list[tuple]:
    """The occurrences recurring-ical-events makes of a calendar over the compared days.

    Each is ("day", first day, day after) or ("time", start, end) in UTC. A floating time is on
    the technician's wall clock (RFC 5545 3.3.5). An occurrence with STATUS:CANCELLED is not
    there (RFC 5545 3.8.1.11). For a start in a DST gap, RFC 5545 3.3.5 reads the start with the
    offset before the gap and 3.8.5.3 keeps the series' exact length; recurring-ical-events keeps
    the wall-clock end instead, so only there the length is taken on the wall clock.
    """
    out = []
    for event in recurring_ical_events.of(calendar).between(FIRST_DAY, LAST_DAY):
        if str(event.get("status", "")).upper() == "CANCELLED":
            continue
        start, end = event.start, event.end
        if not isinstance(start, datetime):
            out.append(("day", start, end))
            continue
        if start.tzinfo is None:
            start, end = start.replace(tzinfo=zone), end.replace(tzinfo=zone)
        instant = start.astimezone(UTC)
        in_gap = instant.astimezone(start.tzinfo).replace(tzinfo=None) != start.replace(tzinfo=None)
        length = end.replace(tzinfo=None) - start.replace(tzinfo=None) if in_gap else end.astimezone(UTC) - instant
        out.append(("time", instant, instant + length))
    return sorted(out, key=str)


def reference(name: str, zone: ZoneInfo) -> list[tuple]:
    return expanded(Calendar.from_ical(corpus_text(name)), zone)


def api_view(client, agent) -> list[tuple]:
    """What the REST API lists for the technician over the compared days."""
    response = client.get(
        "/api/appointments/",
        {"start": WINDOW[0].isoformat(), "end": WINDOW[1].isoformat(), "agent": agent.pk, "page_size": 1000},
    )
    assert response.status_code == 200, response.content
    data = response.json()
    items = data["results"] if isinstance(data, dict) else data
    out = []
    for item in items:
        if item["all_day"]:
            out.append(("day", date.fromisoformat(item["start_date"]), date.fromisoformat(item["end_date"])))
        else:
            start = datetime.fromisoformat(item["start"].replace("Z", "+00:00")).astimezone(UTC)
            end = datetime.fromisoformat(item["end"].replace("Z", "+00:00")).astimezone(UTC)
            out.append(("time", start, end))
    return sorted(out, key=str)


def feed_view(client, path: str, zone: ZoneInfo) -> list[tuple]:
    response = client.get(path, {"external": "1"})
    assert response.status_code == 200
    return expanded(Calendar.from_ical(response.content), zone)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def people(make_agent):
    """make the technician (in the zone the input needs) and a coordinator in Los Angeles."""

    def make(name: str):
        technician = make_agent(
            "alice", time_zone=TECHNICIAN_ZONE.get(name, "Europe/Amsterdam"), team="Field", import_external=True
        )
        coordinator = make_agent("carol", time_zone=COORDINATOR_ZONE)
        coordinator.user.user_permissions.add(
            Permission.objects.get(codename="coordinate", content_type__app_label="agents")
        )
        return technician, coordinator

    return make


@pytest.mark.parametrize("name", FILES)
def test_client_input_reads_as_recurring_ical_events_reads_it(name, people, client):
    technician, coordinator = people(name)
    zone = technician.zone
    event = parse_event(corpus_text(name), remote_id=f"/alice/work/{name}")
    assert event is not None
    inbound.import_remote_event(technician, event)
    right = reference(name, zone)
    assert right, "the input has occurrences in the window"

    client.force_login(technician.user)
    assert api_view(client, technician) == right
    assert feed_view(client, reverse("feeds:agent", args=[technician.feed_token]), zone) == right
    team = Team.objects.get(name="Field")
    client.force_login(coordinator.user)
    team_path = reverse("feeds:team", args=[team.pk, coordinator.feed_token])
    assert feed_view(client, team_path, ZoneInfo(COORDINATOR_ZONE)) == right


@pytest.mark.parametrize("name", FILES)
def test_client_input_survives_a_pull_a_rename_and_a_push(
    name, people, client, caldav_connection, radicale, django_capture_on_commit_callbacks
):
    technician, coordinator = people(name)
    zone = technician.zone
    calendar_name = f"work-{uuid.uuid4().hex[:8]}"
    CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        technician.mailbox, calendar_name
    )
    agent_calendar = services.connect_agent(technician, connection=caldav_connection, calendar=calendar_name)
    phone = caldav.DAVClient(url=radicale.url, username="alice", password=USERS["alice"], enable_rfc6764=False)
    phone.session.trust_env = False
    remote = phone.calendar(url=agent_calendar.calendar_id)
    text = corpus_text(name)
    uid = str(Calendar.from_ical(text).walk("VEVENT")[0]["uid"])
    remote.save_event(ical=text)
    stored = Calendar.from_ical(remote.event_by_uid(uid).data)

    agent_calendar.refresh_from_db()
    engine.sync_agent_calendar(agent_calendar, pull=True, now=NOW)
    client.force_login(technician.user)
    right = reference(name, zone)
    assert api_view(client, technician) == right
    assert feed_view(client, reverse("feeds:agent", args=[technician.feed_token]), zone) == right
    team_path = reverse("feeds:team", args=[Team.objects.get(name="Field").pk, coordinator.feed_token])
    assert feed_view(client, team_path, ZoneInfo(COORDINATOR_ZONE)) == right

    appointment = Appointment.objects.get(agents=technician, master__isnull=True, source="external")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Renamed in the helpdesk")
    link = SyncLink.objects.get(appointment=appointment)
    assert not link.pending, link.last_error
    pushed = Calendar.from_ical(remote.event_by_uid(uid).data)
    assert "Renamed in the helpdesk" in str(pushed.walk("VEVENT")[0].get("summary")) or appointment.private
    assert expanded(pushed, zone) == right
    # A rename touches no time: every value keeps the form the client wrote (floating, a Windows
    # zone's TZID, UTC, DATE), so other clients see exactly what they saw before.
    assert time_values(pushed) == time_values(stored)


def time_values(calendar: Calendar) -> dict:
    """Each VEVENT's time properties exactly as written (value and TZID), keyed by RECURRENCE-ID."""
    values = {}
    for vevent in calendar.walk("VEVENT"):
        key = vevent["recurrence-id"].to_ical().decode() if "recurrence-id" in vevent else ""
        props = {}
        for name in ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE"):
            items = vevent.get(name)
            items = items if isinstance(items, list) else ([] if items is None else [items])
            props[name] = sorted((item.to_ical().decode(), str(item.params.get("TZID", ""))) for item in items)
        values[key] = props
    return values
