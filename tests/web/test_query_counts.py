"""Pages and the calendar data cost a fixed number of queries, whatever the number of technicians (S4)."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent, Team
from calendars.models import Appointment
from tests.web.conftest import at
from tickets.models import Request

WEEK = {"start": "2026-03-02T00:00:00+01:00", "end": "2026-03-09T00:00:00+01:00"}


def make_team(name: str, size: int) -> Team:
    """`size` technicians in a team, each with two appointments this week and a request."""
    users = User.objects.bulk_create([User(username=f"{name}-{i}", first_name=f"Tech {i}") for i in range(size)])
    agents = Agent.objects.bulk_create([Agent(user=user, feed_token=f"{name}-{user.username}") for user in users])
    team = Team.objects.create(name=name)
    team.members.set(agents)
    appointments = Appointment.objects.bulk_create(
        [
            Appointment(subject=f"Job {i}", start=at(2 + day, 9), end=at(2 + day, 10))
            for i in range(size)
            for day in (0, 2)
        ]
    )
    through = Appointment.agents.through
    through.objects.bulk_create(
        [through(appointment_id=a.pk, agent_id=agents[i // 2].pk) for i, a in enumerate(appointments)]
    )
    requests = Request.objects.bulk_create([Request(summary=f"Request {i}") for i in range(size)])
    Request.assigned_agents.through.objects.bulk_create(
        [Request.assigned_agents.through(request_id=r.pk, agent_id=agents[i].pk) for i, r in enumerate(requests)]
    )
    return team


def count_queries(client, url, params) -> int:
    client.get(url, params)  # warm up: the settings row is made on first use
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def small_and_large(db):
    return make_team("small", 2), make_team("large", 100)


def test_group_calendar_page_costs_the_same_for_100_technicians_as_for_2(
    page_client, coordinator, small_and_large, django_assert_num_queries
):
    small, large = small_and_large
    client = page_client(coordinator)
    expected = count_queries(client, "/calendar/group/", {"team": small.pk, "days": 7})
    with django_assert_num_queries(expected):
        response = client.get("/calendar/group/", {"team": large.pk, "days": 7})
    assert response.content.decode().count('"workingStart"') == 100


def test_group_calendar_data_costs_the_same_for_100_technicians_as_for_2(
    api_client, coordinator, small_and_large, django_assert_num_queries
):
    small, large = small_and_large
    client = api_client(coordinator)
    expected = count_queries(client, "/api/appointments/", {**WEEK, "team": small.pk})
    with django_assert_num_queries(expected):
        response = client.get("/api/appointments/", {**WEEK, "team": large.pk, "page_size": 1000})
    assert len(response.json()["results"]) == 200


def test_group_calendar_data_by_chosen_technicians_costs_the_same(
    api_client, coordinator, small_and_large, django_assert_num_queries
):
    small, large = small_and_large
    client = api_client(coordinator)
    few = list(small.members.values_list("pk", flat=True))
    many = list(large.members.values_list("pk", flat=True))
    expected = count_queries(client, "/api/appointments/", {**WEEK, "agent": few})
    with django_assert_num_queries(expected):
        client.get("/api/appointments/", {**WEEK, "agent": many, "page_size": 1000})


def test_agents_api_costs_the_same_for_100_technicians_as_for_2(
    api_client, coordinator, small_and_large, django_assert_num_queries
):
    small, large = small_and_large
    client = api_client(coordinator)
    expected = count_queries(client, "/api/agents/", {"team": small.pk})
    with django_assert_num_queries(expected):
        assert len(client.get("/api/agents/", {"team": large.pk}).json()) == 100


def test_request_list_page_costs_the_same_for_100_technicians_as_for_2(
    page_client, coordinator, small_and_large, django_assert_max_num_queries
):
    small, large = small_and_large
    client = page_client(coordinator)
    expected = count_queries(client, "/requests/", {"team": small.pk})
    with django_assert_max_num_queries(expected):
        response = client.get("/requests/", {"team": large.pk})
    assert response.content.decode().count("Request ") >= 50


def test_request_list_api_costs_the_same_for_100_requests_as_for_2(
    api_client, alice, small_and_large, django_assert_num_queries
):
    small, large = small_and_large
    client = api_client(alice.user)
    expected = count_queries(client, "/api/requests/", {"team": small.pk})
    with django_assert_num_queries(expected):
        assert len(client.get("/api/requests/", {"team": large.pk}).json()["results"]) == 100


def _rows_on_requests(agent, first: int, count: int) -> None:
    """`count` entries of `agent` this week, each on its own request assigned to them; every
    other one is logged work (an Action's entry), whose edit checks read the Action."""
    from calendars import services as calendar_services
    from tickets import services as ticket_services

    for i in range(first, first + count):
        ticket = ticket_services.create_request(summary=f"R{i}", assigned_agents=[agent])
        if i % 2:
            ticket_services.log_action(
                ticket, agent=agent, done_at=at(2 + i % 5, 8), time_taken=at(2, 9) - at(2, 8), add_to_calendar=True
            )
        else:
            calendar_services.create_appointment(
                subject=f"s{i}", start=at(2 + i % 5, 9), end=at(2 + i % 5, 10), agents=[agent], request=ticket
            )


def test_appointment_list_api_costs_the_same_for_22_rows_as_for_2_for_a_technician(
    api_client, alice, django_assert_max_num_queries
):
    # A technician's rows are judged one by one (ASSIGNED, MINE): nothing short-circuits as for a coordinator.
    client = api_client(alice.user)
    _rows_on_requests(alice, 0, 2)
    expected = count_queries(client, "/api/appointments/", WEEK)
    _rows_on_requests(alice, 2, 20)
    with django_assert_max_num_queries(expected):
        response = client.get("/api/appointments/", WEEK)
    rows = response.json()["results"]
    assert len(rows) == 22 and all(row["can_edit"] for row in rows)
