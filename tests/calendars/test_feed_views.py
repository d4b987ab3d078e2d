from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from agents.models import Agent, Team
from agents.services import renew_feed_token, revoke_feed_token
from calendars import services
from tests.feed_tokens import feed_token_of


@pytest.fixture
def appointment(alice):
    start = timezone.now() + timedelta(days=1)
    return services.create_appointment(subject="Printer", start=start, end=start + timedelta(hours=1), agents=[alice])


def test_poll_with_the_returned_etag_answers_304(alice, appointment, client, feed_url):
    first = client.get(feed_url(alice))

    again = client.get(feed_url(alice), headers={"if-none-match": first["ETag"]})

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_poll_with_last_modified_answers_304(alice, appointment, client, feed_url):
    first = client.get(feed_url(alice))

    again = client.get(feed_url(alice), headers={"if-modified-since": first["Last-Modified"]})

    assert again.status_code == 304


def test_changed_calendar_answers_with_the_new_feed(alice, appointment, client, feed_url):
    first = client.get(feed_url(alice))
    services.update_appointment(appointment, subject="Printer on floor 2")

    again = client.get(feed_url(alice), headers={"if-none-match": first["ETag"]})

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]
    assert b"Printer on floor 2" in again.content


def test_deleted_appointment_changes_the_etag(alice, appointment, client, feed_url):
    first = client.get(feed_url(alice))
    services.delete_appointment(appointment)

    again = client.get(feed_url(alice), headers={"if-none-match": first["ETag"]})

    assert again.status_code == 200
    assert Calendar.from_ical(again.content).walk("VEVENT") == []


def test_appointment_taken_off_the_technician_changes_the_etag(alice, bob, appointment, client, feed_url):
    first = client.get(feed_url(alice))
    services.reassign_appointment(appointment, from_agent=alice, to_agent=bob)

    again = client.get(feed_url(alice), headers={"if-none-match": first["ETag"]})

    assert again.status_code == 200


def test_revoked_token_answers_404(alice, appointment, client, feed_url):
    old_url = feed_url(alice)
    assert client.get(old_url).status_code == 200

    revoke_feed_token(alice)

    assert client.get(old_url).status_code == 404


def test_renewed_token_gives_a_working_link_and_kills_the_old_one(alice, appointment, client, feed_url):
    old_url = feed_url(alice)

    new_token = renew_feed_token(alice)

    assert client.get(old_url).status_code == 404
    assert client.get(reverse("feeds:agent", args=[new_token])).status_code == 200


def test_unknown_token_answers_404(db, client):
    assert client.get(reverse("feeds:agent", args=["x" * 43])).status_code == 404


def test_feed_of_an_inactive_technician_answers_404(alice, client, feed_url):
    Agent.objects.filter(pk=alice.pk).update(is_active=False)

    assert client.get(feed_url(alice)).status_code == 404


def test_feed_queries_do_not_grow_with_the_calendar(alice, bob, client, feed_url, django_assert_max_num_queries):
    def add(count: int, offset: int) -> None:
        start = timezone.now() + timedelta(days=offset)
        for number in range(count):
            moment = start + timedelta(hours=3 * number)
            services.create_appointment(
                subject=f"Visit {number}", start=moment, end=moment + timedelta(hours=1), agents=[alice, bob]
            )
        series = services.create_recurring_appointment(
            rule="FREQ=DAILY", agents=[alice], start=start, end=start + timedelta(hours=1), subject="Daily"
        )
        services.delete_appointment(series.occurrences.order_by("start")[3])

    add(2, 1)
    with django_assert_max_num_queries(9) as small:
        assert client.get(feed_url(alice)).status_code == 200
    add(40, 10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(feed_url(alice)).status_code == 200


# --- team feeds ---------------------------------------------------------------------------------


@pytest.fixture
def team(alice, bob):
    team = Team.objects.create(name="Field service")
    team.members.add(alice, bob)
    return team


@pytest.fixture
def coordinating_agent(make_agent):
    agent = make_agent("carla")
    agent.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    return agent


def team_url(team, agent) -> str:
    return reverse("feeds:team", args=[team.pk, feed_token_of(agent)])


def test_team_feed_shows_every_member_with_names(team, alice, bob, coordinating_agent, client):
    start = timezone.now() + timedelta(days=1)
    services.create_appointment(subject="Alice's visit", start=start, end=start + timedelta(hours=1), agents=[alice])
    services.create_appointment(subject="Bob's visit", start=start, end=start + timedelta(hours=1), agents=[bob])

    response = client.get(team_url(team, coordinating_agent))

    summaries = sorted(str(e["SUMMARY"]) for e in Calendar.from_ical(response.content).walk("VEVENT"))
    assert summaries == ["Alice's visit (Alice)", "Bob's visit (Bob)"]


def test_team_feed_needs_the_coordinate_permission(team, alice, client):
    assert client.get(team_url(team, alice)).status_code == 404


def test_team_feed_of_a_revoked_coordinator_answers_404(team, coordinating_agent, client):
    url = team_url(team, coordinating_agent)
    revoke_feed_token(coordinating_agent)

    assert client.get(url).status_code == 404


def test_team_feed_answers_304_when_unchanged(team, coordinating_agent, client):
    first = client.get(team_url(team, coordinating_agent))

    again = client.get(team_url(team, coordinating_agent), headers={"if-none-match": first["ETag"]})

    assert again.status_code == 304
