"""The calendar widget's one answer (/api/appointments/calendar/): the same items as the list's
serializer, for any number of technicians in a fixed number of queries, without pages (issue 14)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.web.conftest import at
from tests.web.test_query_counts import make_team
from tickets import services as ticket_services
from tickets.models import Request

CALENDAR = "/api/appointments/calendar/"
LIST = "/api/appointments/"
WEEK = {"start": "2026-03-02T00:00:00+01:00", "end": "2026-03-09T00:00:00+01:00"}


@pytest.fixture
def mixed_week(alice, bob, ticket, alices_appointment, bobs_appointment, private_external):
    """Every kind of entry the widget shows: shared, all-day, recurring (one occurrence moved,
    one cancelled), planned, an imported private one, and a planned request today."""
    calendar_services.create_appointment(
        subject="Shared",
        start=at(4, 9),
        end=at(4, 10),
        agents=[bob, alice],
        other_attendees=["facility@example.com", "zoë@example.com"],  # read from the stored JSON text
    )
    calendar_services.create_appointment(subject="Training", start=at(5, 0), end=at(6, 0), agents=[bob], all_day=True)
    master = calendar_services.create_recurring_appointment(
        rule="FREQ=DAILY;COUNT=4", subject="Stand-up", start=at(2, 8), end=at(2, 8, 15), agents=[alice], now=at(1, 0)
    )
    first, second = master.occurrences.order_by("start")[:2]
    calendar_services.update_appointment(first, start=at(2, 9), end=at(2, 9, 15))
    calendar_services.delete_appointment(second)
    ticket_services.update_request(ticket, planned_start=at(6, 13))
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    calendar_services.create_appointment(subject="Now", start=today, end=today + timedelta(hours=1), agents=[alice])
    return today


def _both(client, params: dict) -> tuple[list, list]:
    listed = client.get(LIST, {**params, "page_size": 1000})
    answered = client.get(CALENDAR, params)
    assert listed.status_code == answered.status_code == 200
    return listed.json()["results"], answered.json()


@pytest.mark.parametrize("who", ["coordinator", "alice", "bob"])
def test_calendar_items_are_the_list_serializers_items(who, request, api_client, mixed_week, alice, bob):
    user = request.getfixturevalue(who) if who == "coordinator" else request.getfixturevalue(who).user
    client = api_client(user)
    for params in (WEEK, {**WEEK, "agent": [alice.pk]}, {**WEEK, "recurring": "yes"}, {**WEEK, "source": "planned"}):
        listed, answered = _both(client, params)
        assert answered == listed
        assert answered
    today = mixed_week
    around_today = {"start": (today - timedelta(days=1)).isoformat(), "end": (today + timedelta(days=1)).isoformat()}
    listed, answered = _both(client, around_today)
    assert answered == listed and [item["subject"] for item in answered] == ["Now"]


def test_calendar_answer_shows_private_imports_as_busy_time_only(api_client, alice, private_external):
    (item,) = api_client(alice.user).get(CALENDAR, {**WEEK, "agent": [alice.pk]}).json()
    assert (item["subject"], item["note"], item["location"]) == ("Data unavailable", "", "")
    assert item["other_attendees"] == [] and item["data_unavailable"] and not item["can_edit"]


def test_calendar_answer_in_the_technicians_zone(bob, bobs_appointment):
    # bob lives in London and signs in on the page: the middleware reads his times there.
    client = APIClient()
    client.force_login(bob.user)
    (item,) = client.get(CALENDAR, {**WEEK, "agent": [bob.pk]}).json()
    assert item["start"] == "2026-03-02T10:00:00Z"  # 11:00 in Amsterdam is 10:00 in London (GMT)
    assert client.get(LIST, {**WEEK, "agent": [bob.pk]}).json()["results"] == [item]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"end": WEEK["end"]}, "start", "Give start"),
        ({"start": WEEK["start"]}, "end", "Give end"),
        ({"start": "2026-01-01", "end": "2026-03-05"}, "end", "Ask for at most 62 days at a time."),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start", "between 1900 and 2199"),
        ({**WEEK, "agent": ["x"]}, "agent", '"x" is not an id: give agent as whole numbers from 1.'),
        ({**WEEK, "source": "nope"}, "source", "Choose one of: planned, action, manual, external."),
    ],
)
def test_calendar_answer_refuses_bad_windows_with_a_field_message(api_client, alice, params, field, message):
    response = api_client(alice.user).get(CALENDAR, params)
    assert response.status_code == 400
    assert message in response.json()[field][0]


@pytest.fixture
def teams(db):
    return make_team("small", 2), make_team("large", 100)


def test_calendar_answer_costs_the_same_for_100_technicians_as_for_2(
    api_client, coordinator, teams, django_assert_num_queries
):
    small, large = teams
    client = api_client(coordinator)
    client.get(CALENDAR, {**WEEK, "team": small.pk})  # the settings row is made on first use
    for params in ({"team": small.pk}, {"agent": list(small.members.values_list("pk", flat=True))}):
        # the team or technicians named exist (a 400 names those that do not), settings,
        # appointments, technicians, and the entries' states on external calendars
        with django_assert_num_queries(5) as captured:
            assert len(client.get(CALENDAR, {**WEEK, **params}).json()) == 4
        expected = len(captured)
    many = list(large.members.values_list("pk", flat=True))
    for params in ({"team": large.pk}, {"agent": many}):
        with django_assert_num_queries(expected):
            response = client.get(CALENDAR, {**WEEK, **params})
        # 200 entries in one answer: no pages, no COUNT.
        assert len(response.json()) == 200


def test_technician_calendar_answer_costs_the_same_for_many_requests(api_client, teams, django_assert_num_queries):
    """A technician's rights come from the table once, not per entry (no query per row)."""
    small, large = teams
    for number, appointment in enumerate(Appointment.objects.order_by("pk")):
        Appointment.objects.filter(pk=appointment.pk).update(request=Request.objects.order_by("pk")[number // 2])
    member = large.members.first()
    client = api_client(member.user)
    client.get(CALENDAR, {**WEEK, "team": small.pk})
    # the team exists (a 400 names an unknown one), settings, appointments, technicians, the
    # requests' technicians (the table lets a technician edit an entry by its request:
    # ASSIGNED), whatever the number of requests, and the entries' states on external calendars
    with django_assert_num_queries(6) as captured:
        items = client.get(CALENDAR, {**WEEK, "team": small.pk}).json()
    assert not any(item["can_edit"] for item in items)  # not on them, nor on their requests
    assert not any("COUNT(" in query["sql"] for query in captured.captured_queries)
    with django_assert_num_queries(6):
        items = client.get(CALENDAR, {**WEEK, "team": large.pk}).json()
    assert len(items) == 200
    # Editable: the member's own two entries (SOLE, and on her own requests: ASSIGNED); every
    # other entry is another technician's alone, on that technician's request.
    assert sum(item["can_edit"] for item in items) == 2


def test_occurrences_of_masters_only_listed_never_masters(api_client, alice, mixed_week):
    items = api_client(alice.user).get(CALENDAR, {**WEEK, "recurring": "1"}).json()
    assert all(item["master"] is not None for item in items)
    assert Appointment.objects.filter(schedule__isnull=False).exclude(pk__in=[i["master"] for i in items]).count() == 0


def test_row_edit_check_answers_every_row_alike_only_for_a_coordinator(coordinator, alice):
    """calendar_items skips building each row's target when RowEditCheck.every_shown_row holds
    (issue 14): only for a role whose rules are Scope.ANY for appointments and actions alike; a
    technician's answers depend on the row (test above: same items as the list serializer's)."""
    from helpdesk import permissions

    assert permissions.appointment_row_edit_check(coordinator).every_shown_row
    assert permissions.appointment_row_edit_check(coordinator, permissions.Verb.REASSIGN).every_shown_row
    assert not permissions.appointment_row_edit_check(alice.user).every_shown_row
    assert not permissions.appointment_row_edit_check(alice.user, permissions.Verb.REASSIGN).every_shown_row
