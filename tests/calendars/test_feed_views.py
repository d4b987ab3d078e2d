from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from agents.models import Agent, Team
from agents.services import renew_feed_token, revoke_feed_token
from calendars import services
from tests.calendars.icalendar_feed import icalendar_feed
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


def test_a_technician_named_with_commas_and_a_line_break_gets_a_readable_feed(alice, appointment, client, feed_url):
    alice.user.first_name, alice.user.last_name = "Smith, John;", "Jr.\nField"
    alice.user.save()

    response = client.get(feed_url(alice))

    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    # NAME is TEXT (RFC 7986 5.1), escaped as RFC 5545 3.3.11 says (icalendar reads it back raw).
    assert calendar["NAME"].to_ical() == "Helpdesk – Smith\\, John\\; Jr.\\nField".encode()
    assert calendar["X-WR-CALNAME"].to_ical() == calendar["NAME"].to_ical()


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
    # token, settings, version, the index of entries (3), their rows (3), first-served mark...
    with django_assert_max_num_queries(12) as small:
        assert client.get(feed_url(alice)).status_code == 200
    add(40, 10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(feed_url(alice)).status_code == 200


def _feeds_equal(first: bytes, second: bytes) -> None:
    """Two feed texts hold the same calendar: properties, zones and events, in any order."""
    one, other = Calendar.from_ical(first), Calendar.from_ical(second)
    assert dict(one.items()) == dict(other.items())
    for kind in ("VEVENT", "VTIMEZONE"):
        assert sorted(c.to_ical() for c in one.walk(kind)) == sorted(c.to_ical() for c in other.walk(kind))


def test_feed_rebuilt_after_a_change_writes_only_that_entry_and_equals_a_fresh_build(
    alice, bob, client, feed_url, django_assert_max_num_queries
):
    """Per-entry fragments (issue 14): a change rebuilds the feed from the cached fragments of
    every other entry, and the text is the one a build from nothing gives."""
    from django.core.cache import cache

    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    visits = [
        services.create_appointment(
            subject=f"Visit {n}",
            start=start + timedelta(hours=3 * n),
            end=start + timedelta(hours=3 * n + 1),
            agents=[alice],
        )
        for n in range(5)
    ]
    series = services.create_recurring_appointment(
        rule="FREQ=WEEKLY", agents=[alice], start=start, end=start + timedelta(hours=1), subject="Weekly"
    )
    moved = series.occurrences.order_by("start")[2]
    services.update_appointment(moved, start=moved.start + timedelta(hours=2), end=moved.end + timedelta(hours=2))
    assert client.get(feed_url(alice)).status_code == 200
    services.update_appointment(visits[2], subject="Visit two, moved to the afternoon")

    with django_assert_max_num_queries(12) as rebuilt:
        warm = client.get(feed_url(alice))
    whole_rows = 'SELECT "calendars_appointment"."id", "calendars_appointment"."subject"'
    loads = [q["sql"] for q in rebuilt.captured_queries if q["sql"].startswith(whole_rows)]
    assert len(loads) == 1 and f"IN ({visits[2].pk})" in loads[0]  # only the changed entry is read whole
    cache.clear()
    cold = client.get(feed_url(alice))
    summaries = {str(event["SUMMARY"]) for event in Calendar.from_ical(warm.content).walk("VEVENT")}
    assert "Visit two, moved to the afternoon" in summaries
    _feeds_equal(warm.content, cold.content)


def test_feed_from_fragments_is_the_calendar_the_objects_make(alice, bob, team, calendar_settings):
    """feed_text (fragments) against icalendar_feed (one icalendar Calendar, as before)."""
    from calendars.ical import EventStyle, feed_fragments, feed_text
    from calendars.selectors import feed_entries, feed_window

    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    services.create_appointment(subject="Shared", start=start, end=start + timedelta(hours=1), agents=[alice, bob])
    services.create_appointment(subject="Course", start=start.date(), end=start.date(), all_day=True, agents=[bob])
    series = services.create_recurring_appointment(
        rule="FREQ=DAILY;COUNT=10",
        agents=[bob],
        start=start,
        end=start + timedelta(hours=1),
        subject="Daily",
        time_zone="America/New_York",
    )
    services.delete_appointment(series.occurrences.order_by("start")[1])
    window = feed_window(calendar_settings, alice.zone)
    style = EventStyle.for_settings(calendar_settings, zone=alice.zone, show_agents=True)
    entries = feed_entries([alice.pk, bob.pk], *window, include_external=False, with_agents=True)
    on_feed = lambda occurrence: occurrence.on_feed  # noqa: E731
    fragments = feed_fragments(entries, style, on_feed=on_feed, window=window)
    text = feed_text("Team", style, [fragments[a.pk] for a in [*entries.singles, *entries.series]])
    expected = icalendar_feed(entries, style, name="Team", on_feed=on_feed, window=window).to_ical()
    _feeds_equal(text, expected)
    assert {str(tz["TZID"]) for tz in Calendar.from_ical(text).walk("VTIMEZONE")} == {
        "Europe/Amsterdam",
        "America/New_York",
    }


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
