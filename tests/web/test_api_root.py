"""The API root (/api/ and /api/.json) names every endpoint a client can read, read from the URL
conf (dispatch gap 3), and each answers a plain GET."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from calendars.times import midnight
from tickets import services

ROOTS = ["/api/", "/api/.json"]


def test_api_root_lists_every_collection_not_only_the_viewsets(api_client, coordinator):
    """Trial report, problem 7: the root listed only agents, teams, requests and appointments;
    availability, working hours and the calendar window were only in the schema."""
    root = api_client(coordinator).get("/api/", HTTP_ACCEPT="application/json").json()

    assert root == {
        "agents": "http://testserver/api/agents/",
        "teams": "http://testserver/api/teams/",
        "requests": "http://testserver/api/requests/",
        "appointments": "http://testserver/api/appointments/",
        "appointments/calendar": "http://testserver/api/appointments/calendar/",
        "availability": "http://testserver/api/availability/",
        "working-hours": "http://testserver/api/working-hours/",
        "schema": "http://testserver/api/schema/",
        "docs": "http://testserver/api/docs/",
    }


def test_the_json_root_lists_the_same_endpoints(api_client, coordinator):
    """/api/.json listed only the router's entries: an endpoint without a .json form (working
    hours, availability, schema, docs) was dropped instead of listed by its plain URL."""
    client = api_client(coordinator)

    plain = client.get("/api/", HTTP_ACCEPT="application/json").json()
    suffixed = client.get("/api/.json").json()

    assert suffixed.keys() == plain.keys()
    assert suffixed["agents"] == "http://testserver/api/agents.json"
    assert suffixed["working-hours"] == "http://testserver/api/working-hours/"


def test_every_parameterless_path_of_the_schema_is_in_the_root(api_client, coordinator):
    """drf-spectacular's own walk of the endpoints (the OpenAPI paths) against the root: each
    path without a path parameter is listed; the schema and its docs, which the schema leaves
    out, are listed too."""
    client = api_client(coordinator)
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    root = client.get("/api/", HTTP_ACCEPT="application/json").json()

    expected = {path.removeprefix("/api/").strip("/") for path in paths if "{" not in path}

    assert expected | {"schema", "docs"} == set(root)


@pytest.mark.parametrize("root_url", ROOTS)
def test_every_address_the_root_lists_answers_200_for_a_coordinator(api_client, coordinator, alice, root_url):
    """A coordinator (no technician profile of their own) opens each listed address with a plain
    GET: the endpoints that take a period or technicians answer with their defaults (this week,
    every active technician), not 400."""
    client = api_client(coordinator)
    root = client.get(root_url, HTTP_ACCEPT="application/json").json()

    answers = {name: client.get(url).status_code for name, url in root.items()}

    assert answers == dict.fromkeys(root, 200)


def test_a_bare_working_hours_query_is_the_callers_own_week(api_client, alice, bob):
    """Alice (Amsterdam, default hours 08:00-17:00 Monday to Friday) asks with no parameters:
    her own hours from today's midnight on her clock, seven days."""
    body = api_client(alice.user).get("/api/working-hours/").json()

    assert list(body["agents"]) == [str(alice.pk)]
    today = timezone.localdate(timezone=alice.zone)
    working = [today + timedelta(days=n) for n in range(7) if (today + timedelta(days=n)).weekday() < 5]
    starts = [midnight(day, alice.zone) + timedelta(hours=8) for day in working]
    assert [datetime.fromisoformat(i["start"]) for i in body["agents"][str(alice.pk)]] == starts


def test_a_bare_availability_query_of_a_coordinator_asks_who_is_free_first(api_client, coordinator, alice, bob):
    """Nobody named, no technician profile: every active technician, any one of them, for the
    default estimate (an hour), from now."""
    body = api_client(coordinator).get("/api/availability/").json()

    assert set(body["agents"]) == {str(alice.pk), str(bob.pk)}
    first = body["slots"][0]
    assert datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"]) == timedelta(hours=1)
    assert len(first["agents"]) >= 1


def test_half_a_calendar_window_is_still_refused(api_client, coordinator):
    response = api_client(coordinator).get("/api/appointments/calendar/", {"start": "2026-03-02T00:00:00Z"})

    assert response.status_code == 400
    assert "Give end" in str(response.json())


def test_the_actions_answer_in_their_format_suffix_form_too(api_client, coordinator, alice):
    """The .json root links /api/appointments/calendar.json, which answered 500 (the action took
    no format argument); so did every other action's .json form."""
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    client = api_client(coordinator)

    assert client.get("/api/appointments/calendar.json").status_code == 200
    assert client.get(f"/api/requests/{ticket.pk}/find-slot.json").status_code == 200
