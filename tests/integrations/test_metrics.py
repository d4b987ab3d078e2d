"""Operators see the sync at scale: Prometheus metrics (read back with prometheus-client's own
parser of the text format) and the admin's sync overview."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import yaml
from celery import Celery
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from calendars import services as calendar_services
from calendars.models import CalendarSettings, SyncPolicy
from integrations import metrics, selectors
from integrations.models import AgentCalendar, SyncLink

pytestmark = pytest.mark.django_db
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def no_broker_call():
    """The collector with an idle broker that holds nothing: queue figures are tested on their own."""
    return metrics.SyncCollector(broker=lambda: ({"celery": 0}, None))


@pytest.fixture
def busy_calendars(make_agent, caldav_connection, tomorrow_9):
    """Three calendars: pulled 90 s ago with two entries waiting to be pushed, one waiting for
    approval and one failing; backing off after 3 failed pulls; never pulled."""
    now = timezone.now()
    ok, failing, new = (
        AgentCalendar.objects.create(agent=make_agent(name), connection=caldav_connection, calendar_id=f"/{name}/")
        for name in ("ann", "ben", "cid")
    )
    AgentCalendar.objects.filter(pk=ok.pk).update(last_pull_at=now - timedelta(seconds=90))
    AgentCalendar.objects.filter(pk=failing.pk).update(
        last_pull_at=now - timedelta(hours=2),
        pull_failures=3,
        next_pull_at=now + timedelta(minutes=20),
        state=AgentCalendar.State.FAILING,
    )
    for hour in range(3):
        calendar_services.create_appointment(
            subject=f"Job {hour}",
            start=tomorrow_9 + timedelta(hours=hour),
            end=tomorrow_9 + timedelta(hours=hour, minutes=30),
            agents=[ok.agent],
        )
    links = list(SyncLink.objects.filter(agent_calendar=ok).order_by("pk"))
    SyncLink.objects.filter(pk=links[2].pk).update(failures=2, pending=False, last_error="503")
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    calendar_services.create_appointment(
        subject="Ask me", start=tomorrow_9 + timedelta(days=1), end=tomorrow_9 + timedelta(days=1, hours=1),
        agents=[ok.agent],
    )  # fmt: skip
    return ok, failing, new


def test_metrics_give_lag_failures_backoff_and_links_per_connection(busy_calendars, no_broker_call):
    samples = _samples(metrics.render(no_broker_call)[0].decode())

    radicale = (("connection", "Radicale"),)
    assert 90 <= samples[("helpdesk_sync_pull_lag_seconds", (("agent", "ann"), *radicale))] < 120
    assert 0 <= samples[("helpdesk_sync_pull_lag_seconds", (("agent", "cid"), *radicale))] < 30  # linked just now
    assert samples[("helpdesk_sync_failed_pulls", (("agent", "ben"), *radicale))] == 3
    assert samples[("helpdesk_sync_failed_pulls", (("agent", "ann"), *radicale))] == 0
    assert 7200 <= samples[("helpdesk_sync_max_pull_lag_seconds", radicale)] < 7230
    assert samples[("helpdesk_sync_calendars", (*radicale, ("state", "failing")))] == 1
    assert samples[("helpdesk_sync_calendars", (*radicale, ("state", "active")))] == 2
    assert samples[("helpdesk_sync_calendars", (*radicale, ("state", "paused")))] == 0
    assert samples[("helpdesk_sync_calendars_never_pulled", radicale)] == 1
    assert samples[("helpdesk_sync_calendars_backing_off", radicale)] == 1
    assert samples[("helpdesk_sync_links_pending", radicale)] == 2
    assert samples[("helpdesk_sync_links_waiting_approval", radicale)] == 1
    assert samples[("helpdesk_sync_links_failing", radicale)] == 1
    assert samples[("helpdesk_celery_broker_up", ())] == 1
    assert samples[("helpdesk_celery_queue_messages", (("queue", "celery"),))] == 0


def test_a_calendar_that_never_pulled_ages_from_its_link_and_trips_the_documented_lag_alert(
    make_agent, caldav_connection, no_broker_call
):
    """Trial F11: a technician linked with wrong credentials three hours ago, four failed pulls and
    never a good one. The README's alert is `helpdesk_sync_max_pull_lag_seconds > 3 * 300`."""
    now = timezone.now()
    henk = AgentCalendar.objects.create(agent=make_agent("henk"), connection=caldav_connection, calendar_id="/henk/")
    AgentCalendar.objects.filter(pk=henk.pk).update(
        linked_at=now - timedelta(hours=3), pull_failures=4, state=AgentCalendar.State.FAILING
    )
    fine = AgentCalendar.objects.create(agent=make_agent("ann"), connection=caldav_connection, calendar_id="/ann/")
    AgentCalendar.objects.filter(pk=fine.pk).update(
        linked_at=now - timedelta(days=30), last_pull_at=now - timedelta(seconds=60)
    )

    samples = _samples(metrics.render(no_broker_call)[0].decode())

    radicale = (("connection", "Radicale"),)
    assert 3 * 3600 <= samples[("helpdesk_sync_pull_lag_seconds", (("agent", "henk"), *radicale))] < 3 * 3600 + 30
    assert 60 <= samples[("helpdesk_sync_pull_lag_seconds", (("agent", "ann"), *radicale))] < 90
    worst = samples[("helpdesk_sync_max_pull_lag_seconds", radicale)]
    assert 3 * 3600 <= worst < 3 * 3600 + 30
    alert = yaml.safe_load(README.split("```yaml\n")[2].split("```")[0])["groups"][0]["rules"][0]["expr"]
    factor, interval = re.fullmatch(r"helpdesk_sync_max_pull_lag_seconds > (\d+) \* (\d+)", alert).groups()
    assert worst > int(factor) * int(interval)  # the README's alert fires
    assert samples[("helpdesk_sync_calendars_never_pulled", radicale)] == 1


def test_a_paused_calendar_that_never_pulled_does_not_raise_the_connections_lag(
    make_agent, caldav_connection, no_broker_call
):
    paused = AgentCalendar.objects.create(agent=make_agent("pat"), connection=caldav_connection, calendar_id="/pat/")
    AgentCalendar.objects.filter(pk=paused.pk).update(
        linked_at=timezone.now() - timedelta(days=2), state=AgentCalendar.State.PAUSED
    )

    samples = _samples(metrics.render(no_broker_call)[0].decode())

    assert ("helpdesk_sync_max_pull_lag_seconds", (("connection", "Radicale"),)) not in samples


def test_overview_costs_two_queries_for_three_calendars_or_forty(
    make_agent, caldav_connection, busy_calendars, django_assert_num_queries
):
    with django_assert_num_queries(2):
        few = selectors.sync_overview()
    for n in range(37):
        AgentCalendar.objects.create(agent=make_agent(f"t{n}"), connection=caldav_connection, calendar_id=f"/t{n}/")

    with django_assert_num_queries(2):
        many = selectors.sync_overview()

    assert (len(few.calendars), len(many.calendars)) == (3, 40)


def test_metrics_endpoint_answers_staff_and_the_token_and_nobody_else(client, admin_client, alice, settings):
    settings.METRICS_TOKEN = "scrape-me-0123456789"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(alice.user)  # a technician, not staff
    assert client.get("/metrics").status_code == 401
    client.logout()
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789")
    assert scraped.status_code == 200
    assert scraped["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "helpdesk_celery_broker_up" in scraped.content.decode()
    assert admin_client.get("/metrics").status_code == 200
    openmetrics = admin_client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.content.decode().endswith("# EOF\n")


def test_no_token_set_means_no_token_opens_it(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_queue_depth_on_the_filesystem_transport_counts_the_waiting_messages(tmp_path):
    app = Celery("depth", broker="filesystem://", set_as_current=False)
    app.conf.broker_transport_options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    for n in range(3):
        app.send_task("integrations.tasks.pull_agent_calendar", args=(n,))

    depths, unacked = metrics.queue_depths(app, ["celery", "never-used"])

    assert depths == {"celery": 3, "never-used": 0}
    assert unacked is None  # the filesystem transport keeps no such count
    assert len(list(tmp_path.glob("*.msg"))) == 3


def test_queue_depth_on_redis_is_the_queue_lists_length(settings):
    url = settings.REDIS_URL
    if not url:
        pytest.skip("REDIS_URL is not set (CI sets it).")
    app = Celery("depth", broker=url, set_as_current=False)
    queue = f"metrics-test-{os.getpid()}"
    client = redis.Redis.from_url(url)
    try:
        for n in range(4):
            app.send_task("integrations.tasks.pull_agent_calendar", args=(n,), queue=queue)

        depths, unacked = metrics.queue_depths(app, [queue])

        assert depths == {queue: client.llen(queue)} == {queue: 4}
        assert unacked == client.hlen("unacked")
    finally:
        client.delete(queue)


def test_a_broker_that_does_not_answer_shows_as_down_and_the_rest_still_scrapes(busy_calendars):
    app = Celery("down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.broker_connection_timeout = 1
    collector = metrics.SyncCollector(broker=lambda: metrics.queue_depths(app, ["celery"]))

    samples = _samples(metrics.render(collector)[0].decode())

    assert samples[("helpdesk_celery_broker_up", ())] == 0
    assert samples[("helpdesk_sync_calendars_never_pulled", (("connection", "Radicale"),))] == 1


def test_admin_overview_summarises_connections_backoffs_and_lag(admin_client, busy_calendars):
    page = admin_client.get("/admin/integrations/agentcalendar/overview/")

    assert page.status_code == 200
    html = page.content.decode()
    backing_off = html[html.index('id="sync-backing-off"') : html.index('id="sync-lagging"')]
    # Technicians by name (make_agent gives each the first name of their login), as everywhere in admin.
    assert ">Ben</a>" in backing_off and "Ann" not in backing_off
    lagging = html[html.index('id="sync-lagging"') :]
    assert lagging.index(">Cid<") < lagging.index(">Ben<") < lagging.index(">Ann<")  # never, 2 h, 90 s
    assert "Sync overview" in admin_client.get("/admin/integrations/agentcalendar/").content.decode()


def test_admin_overview_is_for_staff_with_view_rights_only(client, alice):
    client.force_login(alice.user)

    assert client.get("/admin/integrations/agentcalendar/overview/").status_code == 302
