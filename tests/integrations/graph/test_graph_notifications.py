"""Microsoft Graph change notifications: the subscription and its handshake, the webhook (clientState
checked, only a pull queued), renewal, and a change reaching the helpdesk through a real delivery."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from calendars.models import Appointment
from integrations import services
from integrations.models import AgentCalendar, GraphSubscription
from tests.waiting import wait_for

from .conftest import ALICE

HOUR = timedelta(hours=1)
NOTIFY = "/integrations/graph/notify/"


def test_no_public_address_means_no_subscription(importing_graph, graph, settings):
    settings.PUBLIC_SITE_URL = ""

    assert services.refresh_graph_subscriptions() == {"created": 0, "renewed": 0, "failed": 0}
    assert graph.subscriptions == {}


def test_validation_handshake_echoes_the_token(client):
    response = client.post(f"{NOTIFY}?validationToken=Validation%3A+Testing+client+application")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "Validation: Testing client application"


@pytest.fixture
def subscribed(importing_graph, graph, settings, live_server):
    settings.PUBLIC_SITE_URL = live_server.url
    counts = services.refresh_graph_subscriptions()
    assert counts == {"created": 1, "renewed": 0, "failed": 0}
    return GraphSubscription.objects.get(agent_calendar=importing_graph)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_change_made_in_outlook_reaches_the_helpdesk_within_10_seconds(subscribed, graph, tomorrow_9):
    (subscription,) = graph.subscriptions.values()
    assert subscription["notificationUrl"].endswith(NOTIFY)
    assert subscription["clientState"] == subscribed.client_state
    assert subscription["resource"] == f"users/{ALICE}/calendars/{subscribed.agent_calendar.calendar_id}/events"

    made = time.monotonic()
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")
    while not Appointment.objects.filter(subject="Dentist").exists() and time.monotonic() - made < 10:
        time.sleep(0.1)

    assert Appointment.objects.filter(subject="Dentist").exists(), graph.deliveries
    assert time.monotonic() - made < 10
    # The server records a delivery once our answer is in, which may be just after the pull it queued.
    while (subscribed.subscription_id, 202) not in graph.deliveries and time.monotonic() - made < 15:
        time.sleep(0.05)
    assert (subscribed.subscription_id, 202) in graph.deliveries


@pytest.mark.slow
def test_a_change_notification_reaches_the_helpdesk_through_a_real_worker_within_10_seconds(
    worker, live_server, subscribed, graph, tomorrow_9
):
    """Issue 12 (Graph change notifications): Graph posts to the webhook, which only queues a pull; a
    real Celery worker on Redis (its own process) runs it against the local Graph server, and the
    change made in Outlook is in the helpdesk within 10 s."""
    from integrations.tasks import pull_agent_calendar

    synced_before = AgentCalendar.objects.get(pk=subscribed.agent_calendar_id).last_sync
    pull_agent_calendar.delay(subscribed.agent_calendar_id)  # the worker is up once it has run one pull
    wait_for(
        lambda: AgentCalendar.objects.get(pk=subscribed.agent_calendar_id).last_sync != synced_before,
        what="the worker",
    )

    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")

    wait_for(lambda: Appointment.objects.filter(subject="Dentist").exists(), timeout=10, what="the change")
    assert (subscribed.subscription_id, 202) in graph.deliveries


@pytest.mark.django_db
def test_a_notification_with_a_wrong_client_state_queues_nothing(importing_graph, client, graph, tomorrow_9):
    GraphSubscription.objects.create(
        agent_calendar=importing_graph, subscription_id="sub-1", client_state="ours", expires_at=timezone.now() + HOUR
    )
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")
    body = {"value": [{"subscriptionId": "sub-1", "clientState": "forged", "changeType": "created"}]}

    response = client.post(NOTIFY, json.dumps(body), content_type="application/json")

    assert response.status_code == 202
    assert not Appointment.objects.exists()  # no pull ran

    body["value"][0]["clientState"] = "ours"
    client.post(NOTIFY, json.dumps(body), content_type="application/json")

    assert Appointment.objects.filter(subject="Dentist").exists()  # the pull, run eagerly in tests


@pytest.mark.django_db
def test_a_subscription_graph_refuses_is_counted_and_not_stored(importing_graph, graph, settings):
    settings.PUBLIC_SITE_URL = "http://127.0.0.1:9"  # nothing listens: Graph refuses the subscription
    assert services.refresh_graph_subscriptions()["failed"] == 1
    assert not GraphSubscription.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.django_db(transaction=True)
def test_a_subscription_watches_the_synced_calendar_alone(subscribed, graph, tomorrow_9):
    """The subscription's resource is the synced calendar's events (Graph: /users/{id}/calendars/{id}/events),
    not the whole mailbox's: an entry made in another calendar of the technician's mailbox sends no
    notification, one in the synced calendar does. Expected values: what the server notified."""
    calendar_id = subscribed.agent_calendar.calendar_id
    assert calendar_id
    (subscription,) = graph.subscriptions.values()
    assert subscription["resource"] == f"users/{ALICE}/calendars/{calendar_id}/events"
    birthdays = graph.add_calendar(ALICE, "Birthdays")

    other = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Mum's birthday", calendar_id=birthdays)
    synced = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")

    assert graph.calendar_of(ALICE, other["id"]) == birthdays
    assert graph.notified == [(subscribed.subscription_id, "created", synced["id"])]


def test_a_calendar_graph_refuses_as_a_resource_is_watched_through_the_mailbox(
    importing_graph, graph, settings, live_server
):
    """Graph's table of subscription resources names only /users/{id}/events for Outlook events: where
    Graph refuses the calendar's path (400), the mailbox's events are subscribed to instead."""
    graph.calendar_subscriptions = False
    settings.PUBLIC_SITE_URL = live_server.url

    assert services.refresh_graph_subscriptions() == {"created": 1, "renewed": 0, "failed": 0}

    (subscription,) = graph.subscriptions.values()
    assert subscription["resource"] == f"users/{ALICE}/events"
    assert GraphSubscription.objects.get().subscription_id == subscription["id"]


def test_a_mailbox_wide_subscription_is_replaced_by_the_calendars_at_its_renewal(
    importing_graph, graph, settings, live_server
):
    """A subscription made before subscriptions named the calendar (the mailbox's events) is deleted at
    its renewal and the calendar's own made instead."""
    graph.calendar_subscriptions = False
    settings.PUBLIC_SITE_URL = live_server.url
    services.refresh_graph_subscriptions()
    (old,) = graph.subscriptions
    graph.calendar_subscriptions = True
    GraphSubscription.objects.update(expires_at=timezone.now() + HOUR)

    assert services.refresh_graph_subscriptions() == {"created": 1, "renewed": 0, "failed": 0}

    (subscription,) = graph.subscriptions.values()
    assert old not in graph.subscriptions
    assert subscription["resource"] == f"users/{ALICE}/calendars/{importing_graph.calendar_id}/events"
    assert GraphSubscription.objects.get().subscription_id == subscription["id"]


def test_renewal_and_lifecycle_notifications(subscribed, graph):
    later = timezone.now() + timedelta(days=2, hours=1)  # within a day of expiry: renewed
    assert services.refresh_graph_subscriptions(now=later)["renewed"] == 1
    subscribed.refresh_from_db()
    assert subscribed.expires_at > later + timedelta(days=2)
    (remote,) = graph.subscriptions.values()
    assert remote["expirationDateTime"] == subscribed.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    first_expiry = subscribed.expires_at
    graph.send_lifecycle(subscribed.subscription_id, "reauthorizationRequired")
    deadline = time.monotonic() + 10
    while GraphSubscription.objects.get(pk=subscribed.pk).expires_at <= first_expiry and time.monotonic() < deadline:
        time.sleep(0.1)
    assert GraphSubscription.objects.get(pk=subscribed.pk).expires_at > timezone.now() + timedelta(days=2)

    graph.subscriptions.clear()  # Graph dropped it: the next renewal makes a new one
    GraphSubscription.objects.filter(pk=subscribed.pk).update(expires_at=timezone.now())
    assert services.refresh_graph_subscriptions()["created"] == 1
    assert len(graph.subscriptions) == 1
    assert GraphSubscription.objects.get().subscription_id == next(iter(graph.subscriptions))


def test_the_beat_renews_a_subscription_before_it_expires(subscribed, graph, settings):
    """Graph drops a subscription at its expirationDateTime ("Renew a subscription"): the beat's task
    runs more often than the renewal margin, and renews one close to its end."""
    from integrations.services import GRAPH_RENEW_BEFORE_HOURS
    from integrations.tasks import renew_graph_subscriptions

    entry = settings.CELERY_BEAT_SCHEDULE["renew-graph-subscriptions"]
    assert entry["task"] == renew_graph_subscriptions.name
    assert entry["schedule"] < GRAPH_RENEW_BEFORE_HOURS * 3600
    soon = timezone.now() + HOUR
    GraphSubscription.objects.filter(pk=subscribed.pk).update(expires_at=soon)

    assert renew_graph_subscriptions.apply().get() == {"created": 0, "renewed": 1, "failed": 0}

    subscribed.refresh_from_db()
    (remote,) = graph.subscriptions.values()
    assert subscribed.expires_at > soon + timedelta(days=1)
    assert remote["expirationDateTime"] == subscribed.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
