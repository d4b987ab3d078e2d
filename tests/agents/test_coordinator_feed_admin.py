"""Admin of the team-feed links of coordinators without a technician profile (CoordinatorFeed,
dispatch gap 2): listed with their state, renewed and revoked as a technician's link is, the
token never shown. Whether a link works is read from the feed itself (/feeds/team/...)."""

import hashlib
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from agents.models import CoordinatorFeed, Team

CHANGELIST = "admin:agents_coordinatorfeed_changelist"


@pytest.fixture
def service_desk(alice) -> Team:
    team = Team.objects.create(name="Service desk")
    team.members.add(alice)
    return team


@pytest.fixture
def coordinator_client(coordinator) -> Client:
    client = Client()
    client.force_login(coordinator)
    return client


@pytest.fixture
def root(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _team_link(client: Client, team: Team) -> str:
    """Make (or renew) the coordinator's link on /me/; the team feed's path it shows once."""
    page = client.post(reverse("agents:renew-feed"), follow=True).content.decode()
    token = re.search(rf"http://testserver/feeds/team/{team.pk}/([A-Za-z0-9_-]+)\.ics", page).group(1)
    return reverse("feeds:team", args=[team.pk, token])


def test_coordinator_team_feeds_are_listed_in_admin_without_their_token(root, coordinator_client, service_desk):
    link = _team_link(coordinator_client, service_desk)
    token = link.rsplit("/", 1)[1].removesuffix(".ics")
    holder = CoordinatorFeed.objects.get()

    listing = root.get(reverse(CHANGELIST))
    change = root.get(reverse("admin:agents_coordinatorfeed_change", args=[holder.pk]))

    for page in (listing, change):
        text = page.content.decode()
        assert page.status_code == 200
        assert "coordinator" in text and ">on<" in text
        assert token not in text and hashlib.sha256(token.encode()).hexdigest() not in text


def test_admin_revokes_a_coordinators_team_feed(root, coordinator_client, service_desk):
    link = _team_link(coordinator_client, service_desk)
    assert Client().get(link).status_code == 200

    answer = root.post(
        reverse(CHANGELIST),
        {"action": "revoke_feed_tokens", "_selected_action": [CoordinatorFeed.objects.get().pk]},
        follow=True,
    )

    assert "Switched off the calendar link of 1 coordinator(s)." in answer.content.decode()
    assert Client().get(link).status_code == 404
    assert ">revoked<" in root.get(reverse(CHANGELIST)).content.decode()


def test_admin_renews_a_coordinators_team_feed_and_the_old_link_stops(root, coordinator_client, service_desk):
    link = _team_link(coordinator_client, service_desk)

    root.post(
        reverse(CHANGELIST), {"action": "renew_feed_tokens", "_selected_action": [CoordinatorFeed.objects.get().pk]}
    )

    assert Client().get(link).status_code == 404
    assert ">on<" in root.get(reverse(CHANGELIST)).content.decode()
    # The coordinator makes a working link again on /me/.
    assert Client().get(_team_link(coordinator_client, service_desk)).status_code == 200


def test_coordinator_team_feeds_are_made_by_their_coordinator_not_added_in_admin(root):
    assert root.get(reverse("admin:agents_coordinatorfeed_add")).status_code == 403


def test_technician_links_show_their_state_in_the_technician_list(root, alice):
    assert ">not made yet<" in root.get(reverse("admin:agents_agent_changelist")).content.decode()
