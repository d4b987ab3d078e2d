import hashlib
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from lxml import html

from agents.models import Agent, CoordinatorFeed, Team


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice.user)
    return client


def _new_link(client) -> tuple[str, str]:
    """Renew on /me/; (the page shown after it, the new token read from that page)."""
    page = client.post(reverse("agents:renew-feed"), follow=True).content.decode()
    token = re.search(r"http://testserver/feeds/([A-Za-z0-9_-]+)\.ics", page).group(1)
    return page, token


def test_me_page_shows_https_and_webcal_links_with_a_qr_code_once_after_renewal(alice_client, alice):
    page, token = _new_link(alice_client)

    assert f"http://testserver/feeds/{token}.ics" in page
    assert f"webcal://testserver/feeds/{token}.ics" in page
    assert "<svg" in page
    assert "chart.googleapis" not in page and "api.qrserver" not in page
    assert alice_client.get(f"/feeds/{token}.ics").status_code == 200
    again = alice_client.get(reverse("agents:me")).content.decode()
    assert token not in again and "/feeds/" not in again
    assert "shown only once" in again


def test_feed_token_is_stored_only_as_a_hash(alice_client, alice):
    _page, token = _new_link(alice_client)

    alice.refresh_from_db()
    assert token not in alice.feed_token
    assert alice.feed_token == hashlib.sha256(token.encode()).hexdigest()
    assert alice_client.get(f"/feeds/{alice.feed_token}.ics").status_code == 404


def test_renew_button_gives_a_new_link(alice_client, alice):
    _, old = _new_link(alice_client)

    _page, token = _new_link(alice_client)

    assert token != old
    assert alice_client.get(f"/feeds/{token}.ics").status_code == 200
    assert alice_client.get(f"/feeds/{old}.ics").status_code == 404


def test_revoke_button_switches_the_feed_off(alice_client, alice):
    _, old = _new_link(alice_client)

    response = alice_client.post(reverse("agents:revoke-feed"), follow=True)

    page = response.content.decode()
    alice.refresh_from_db()
    assert alice_client.get(f"/feeds/{old}.ics").status_code == 404
    assert "switched off" in page
    assert "/feeds/" not in page


def test_renew_needs_a_post(alice_client, alice):
    old = alice.feed_token

    assert alice_client.get(reverse("agents:renew-feed")).status_code == 405
    alice.refresh_from_db()
    assert alice.feed_token == old


def test_renew_is_protected_against_cross_site_requests(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)

    assert client.post(reverse("agents:renew-feed")).status_code == 403


def test_me_page_needs_a_login(db, client):
    response = client.get(reverse("agents:me"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_coordinator_sees_a_feed_link_per_team(client, make_agent):
    carla = make_agent("carla", team="Service desk")
    carla.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    team = Team.objects.get(name="Service desk")
    client.force_login(carla.user)

    page, token = _new_link(client)

    assert reverse("feeds:team", args=[team.pk, token]) in page


def test_user_without_technician_profile_gets_an_explanation(client, db):
    user = User.objects.create_user("viewer", password="pw")
    client.force_login(user)

    page = client.get(reverse("agents:me")).content.decode()

    assert "no technician profile" in page


def test_admin_action_renews_the_selected_tokens(admin_client, alice, bob):
    old = {alice.pk: alice.feed_token, bob.pk: bob.feed_token}

    admin_client.post(
        reverse("admin:agents_agent_changelist"),
        {"action": "renew_feed_tokens", "_selected_action": [alice.pk]},
    )

    assert Agent.objects.get(pk=alice.pk).feed_token != old[alice.pk]
    assert Agent.objects.get(pk=bob.pk).feed_token == old[bob.pk]


def test_first_visit_offers_to_make_a_link_not_to_renew_one(alice_client, alice):
    first = alice_client.get(reverse("agents:me")).content.decode()

    assert "Make my link" in first
    assert "Renew link" not in first and "renew it" not in first and "Revoke link" not in first

    _new_link(alice_client)
    later = alice_client.get(reverse("agents:me")).content.decode()

    assert "Renew link" in later and "Make my link" not in later


def test_a_never_made_link_is_no_feed(client, alice):
    assert client.get(f"/feeds/{alice.feed_token}.ics").status_code == 404


# --- a coordinator without a technician profile (trial report, problem 5) -----------------------


def _new_team_links(client) -> tuple[str, str]:
    """Make or renew on /me/; (the page shown after it, the token its team links carry)."""
    page = client.post(reverse("agents:renew-feed"), follow=True).content.decode()
    token = re.search(r"http://testserver/feeds/team/\d+/([A-Za-z0-9_-]+)\.ics", page).group(1)
    return page, token


@pytest.fixture
def service_desk(alice) -> Team:
    team = Team.objects.create(name="Service desk")
    team.members.add(alice)
    return team


def test_coordinator_without_profile_makes_a_team_feed_link_on_me_page(client, coordinator, service_desk):
    client.force_login(coordinator)
    first = client.get(reverse("agents:me")).content.decode()
    assert "Make my link" in first and reverse("agents:me") in first

    page, token = _new_team_links(client)

    url = reverse("feeds:team", args=[service_desk.pk, token])
    assert f"http://testserver{url}" in page and f"webcal://testserver{url}" in page
    feed = client.get(url)
    assert feed.status_code == 200
    assert b"BEGIN:VCALENDAR" in feed.content
    again = client.get(reverse("agents:me")).content.decode()
    assert token not in again and "Renew link" in again


def test_team_feed_token_of_a_coordinator_without_profile_is_stored_only_as_a_hash(client, coordinator, service_desk):
    client.force_login(coordinator)
    _page, token = _new_team_links(client)

    stored = CoordinatorFeed.objects.get(user=coordinator).feed_token
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert client.get(reverse("feeds:team", args=[service_desk.pk, stored])).status_code == 404


def test_renewing_the_team_link_of_a_coordinator_without_profile_ends_the_old_one(client, coordinator, service_desk):
    client.force_login(coordinator)
    _page, old = _new_team_links(client)

    _page, token = _new_team_links(client)

    assert client.get(reverse("feeds:team", args=[service_desk.pk, token])).status_code == 200
    assert client.get(reverse("feeds:team", args=[service_desk.pk, old])).status_code == 404


def test_revoking_the_team_link_of_a_coordinator_without_profile_switches_it_off(client, coordinator, service_desk):
    client.force_login(coordinator)
    _page, token = _new_team_links(client)

    page = client.post(reverse("agents:revoke-feed"), follow=True).content.decode()

    assert client.get(reverse("feeds:team", args=[service_desk.pk, token])).status_code == 404
    assert "switched off" in page and "/feeds/" not in page


def test_team_link_of_a_former_coordinator_answers_404(client, coordinator, service_desk):
    client.force_login(coordinator)
    _page, token = _new_team_links(client)

    coordinator.user_permissions.clear()

    assert client.get(reverse("feeds:team", args=[service_desk.pk, token])).status_code == 404


def test_user_without_profile_who_does_not_coordinate_gets_no_team_link(client, db, service_desk):
    user = User.objects.create_user("viewer", password="pw")
    client.force_login(user)

    page = client.post(reverse("agents:renew-feed"), follow=True).content.decode()

    assert "no technician profile" in page and "/feeds/" not in page
    assert not CoordinatorFeed.objects.exists()


def test_group_calendar_points_a_coordinator_to_the_team_links(client, coordinator):
    client.force_login(coordinator)

    page = client.get(reverse("calendars:group")).content.decode()

    assert f'href="{reverse("agents:me")}#team-feeds-heading"' in page


def test_pages_of_a_technicians_own_calendar_point_a_coordinator_to_the_team_links(client, coordinator):
    client.force_login(coordinator)

    page = client.get(reverse("integrations:sync_health")).content.decode()

    assert "no technician profile" in page
    assert f'href="{reverse("agents:me")}#team-feeds-heading"' in page


def test_the_first_link_does_not_speak_of_an_old_one(alice_client, alice):
    """Trial of main: making the very first link said "The old one no longer works", though
    there was none; renewing a working link still says so."""
    first, _ = _new_link(alice_client)
    assert "Your calendar link is made" in first and "old one" not in first

    renewed, _ = _new_link(alice_client)
    assert "The old one no longer works" in renewed


def test_me_page_says_which_sync_policy_applies(alice_client, alice):
    """Trial fault 8: the technician sees the policy in force, and why."""
    from calendars.models import CalendarSettings

    settings = CalendarSettings.load()
    settings.sync_policy = "technician"
    settings.save()
    alice.sync_policy = "ask"
    alice.save()

    page = alice_client.get(reverse("agents:me")).content.decode()

    assert "Sending appointments to your other calendars: Ask (this technician&#x27;s own setting" in page


def _labelled_links(page: str) -> dict[str, set[str]]:
    """Each feed link on the page by the words shown beside it: "Subscribe (webcal)" or "Web link
    (https)" (a link's href or a copy box's value)."""
    tree = html.fromstring(page)
    found: dict[str, set[str]] = {"Subscribe (webcal)": set(), "Web link (https)": set()}
    for dd in tree.xpath("//dl[contains(@class, 'feed-links')]/dd"):
        label = (dd.text or "").strip().rstrip(":")
        found.setdefault(label, set()).update(dd.xpath("./a/@href | ./input/@value"))
    return found


def test_coordinator_without_profile_gets_a_labelled_https_link_beside_each_webcal_one(
    client, coordinator, service_desk
):
    """Trial fault 16: team feeds were offered as webcal:// only; Google Calendar and Android need https."""
    client.force_login(coordinator)
    page, token = _new_team_links(client)

    path = reverse("feeds:team", args=[service_desk.pk, token])
    links = _labelled_links(page)
    assert f"webcal://testserver{path}" in links["Subscribe (webcal)"]
    assert f"http://testserver{path}" in links["Web link (https)"]


def test_technician_gets_both_links_for_each_of_her_feeds(alice_client, alice):
    page, token = _new_link(alice_client)

    links = _labelled_links(page)
    assert f"webcal://testserver/feeds/{token}.ics?external=1" in links["Subscribe (webcal)"]
    assert f"http://testserver/feeds/{token}.ics?external=1" in links["Web link (https)"]
    assert f"webcal://testserver/feeds/{token}.ics" in html.fromstring(page).xpath("//dl//a/@href")
