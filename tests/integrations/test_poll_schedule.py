"""Many calendars: pulls spread over the interval at a fixed slot per calendar, failed pulls back off."""

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from integrations import selectors, services
from integrations.models import AgentCalendar
from integrations.providers.base import ConnectionProblem
from integrations.sync import engine
from integrations.sync.schedule import backoff_seconds, plan_round, pull_delay, pull_offset
from integrations.tasks import pull_agent_calendar
from tests.integrations.conftest import ROOT, USERS

# Upper 1% point of the chi-square distribution with 9 degrees of freedom (NIST/SEMATECH
# e-Handbook of Statistical Methods, table 1.3.6.7.4): 10 equal buckets, uniform spread.
CHI_SQUARE_9_DF_1_PERCENT = 21.666


def test_slots_spread_a_thousand_calendars_evenly_over_the_interval():
    interval = 300
    buckets = Counter(pull_offset(pk, interval) * 10 // interval for pk in range(1, 1001))
    expected = 1000 / 10

    chi_square = sum((buckets[b] - expected) ** 2 / expected for b in range(10))

    assert chi_square < CHI_SQUARE_9_DF_1_PERCENT, buckets
    # No thundering herd: the busiest second holds a handful of starts, not all thousand.
    assert max(Counter(pull_offset(pk, interval) for pk in range(1, 1001)).values()) <= 12


def test_slot_is_the_same_in_every_process_whatever_the_hash_seed():
    script = (
        "import json; from integrations.sync.schedule import pull_offset; "
        "print(json.dumps([pull_offset(pk, 300) for pk in range(1, 51)]))"
    )
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script],
                cwd=ROOT,
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for seed in ("1", "2")
    ]

    assert runs[0] == runs[1] == [pull_offset(pk, 300) for pk in range(1, 51)]


@pytest.mark.parametrize(
    "tick",
    [
        datetime(2026, 3, 29, 0, 0, 0, tzinfo=UTC),  # :00, where a naive beat would start everyone
        datetime(2026, 3, 29, 0, 4, 59, 999000, tzinfo=UTC),
        datetime(2026, 3, 29, 13, 7, 31, 250000, tzinfo=UTC),
    ],
)
def test_a_calendar_is_pulled_at_its_slot_whatever_the_beat_phase(tick):
    interval = 300
    for pk in (1, 7, 999):
        delay = pull_delay(pk, interval, tick)
        fires = tick.timestamp() + delay

        assert 0 <= delay < interval
        assert round(fires % interval, 3) % interval == pull_offset(pk, interval)


def test_backoff_doubles_per_failed_pull_up_to_the_cap_and_none_without_failures():
    # Truncated binary exponential back-off: base x 2^(n-1), at most the cap.
    assert [backoff_seconds(n, base=300, cap=3600) for n in range(7)] == [0, 300, 600, 1200, 2400, 3600, 3600]
    assert backoff_seconds(10_000, base=300, cap=3600) == 3600


def test_a_round_leaves_out_calendars_backing_off_past_their_slot():
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    interval = 300
    late = now + timedelta(seconds=pull_delay(2, interval, now) + 1)
    due_at_slot = now + timedelta(seconds=pull_delay(3, interval, now))

    plan = plan_round(
        [(1, None), (2, late), (3, due_at_slot), (4, now - timedelta(hours=1))], interval=interval, now=now
    )

    assert sorted(pk for pk, _ in plan) == [1, 3, 4]
    assert [delay for _, delay in plan] == sorted(delay for _, delay in plan)


@pytest.fixture
def queued(monkeypatch):
    """The pulls the beat queues, as (args, countdown), recorded instead of sent to a broker."""
    sent = []
    monkeypatch.setattr(
        pull_agent_calendar, "apply_async", lambda args, countdown=None, **_: sent.append((args, countdown))
    )
    return sent


@pytest.mark.django_db
def test_the_beat_queues_every_polled_calendar_at_its_slot_in_two_queries(
    make_agent, caldav_connection, queued, django_assert_num_queries
):
    calendars = [
        AgentCalendar.objects.create(agent=make_agent(f"tech{n}"), connection=caldav_connection, calendar_id=f"/c{n}/")
        for n in range(12)
    ]
    paused, backing_off, backed_off = calendars[0], calendars[1], calendars[2]
    AgentCalendar.objects.filter(pk=paused.pk).update(state=AgentCalendar.State.PAUSED)
    AgentCalendar.objects.filter(pk=backing_off.pk).update(next_pull_at=timezone.now() + timedelta(hours=2))
    AgentCalendar.objects.filter(pk=backed_off.pk).update(next_pull_at=timezone.now() - timedelta(minutes=1))
    now = timezone.now()

    with django_assert_num_queries(2):  # the interval, the calendars
        count = services.queue_poll_round(now)

    expected = {c.pk for c in calendars} - {paused.pk, backing_off.pk}
    assert count == len(expected) == len(queued)
    assert {args[0] for args, _ in queued} == expected
    for (pk,), countdown in queued:
        assert countdown == pytest.approx(pull_delay(pk, 300, now))


@pytest.mark.django_db
def test_the_round_follows_the_interval_edited_in_admin(make_agent, caldav_connection, queued):
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="sync-calendars", task=selectors.SYNC_ALL_TASK, interval=every)
    calendar = AgentCalendar.objects.create(agent=make_agent("tech"), connection=caldav_connection, calendar_id="/c/")
    now = timezone.now()

    services.queue_poll_round(now)

    assert selectors.pull_interval_seconds() == 600
    assert queued == [((calendar.pk,), pytest.approx(pull_delay(calendar.pk, 600, now)))]


@pytest.mark.django_db
def test_failed_pulls_back_off_doubling_and_a_good_pull_resets(client, alice_calendar, caldav_connection, settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 300
    settings.SYNC_BACKOFF_MAX_SECONDS = 3600
    caldav_connection.set_secret("not-the-password")
    caldav_connection.save()

    waits = []
    for _ in range(3):
        with pytest.raises(ConnectionProblem):
            engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
        failed = AgentCalendar.objects.get(pk=alice_calendar.pk)
        waits.append((failed.pull_failures, (failed.next_pull_at - failed.last_error_at).total_seconds()))

    assert waits == [(1, 300), (2, 600), (3, 1200)]
    assert alice_calendar.pk not in {
        pk for pk, _ in plan_round(selectors.calendars_to_pull(), interval=300, now=timezone.now())
    }
    client.force_login(alice_calendar.agent.user)
    page = client.get("/me/sync/").content.decode()
    assert "after 3 failed pulls, not before" in page

    caldav_connection.set_secret(USERS["helpdesk"])
    caldav_connection.save()
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    healed = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert (healed.pull_failures, healed.next_pull_at) == (0, None)
    assert healed.last_pull_at is not None and healed.last_pull_at >= failed.last_error_at
    assert "failed pull" not in client.get("/me/sync/").content.decode()


def push_with_a_wrong_password(alice_calendar, caldav_connection, tomorrow_9) -> engine.SyncReport:
    """A new appointment of Alice's pushed while the connection holds a wrong password."""
    from calendars import services as calendar_services

    calendar_services.create_appointment(
        subject="Waits", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
    )
    caldav_connection.set_secret("not-the-password")
    caldav_connection.save()
    return engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=False)


@pytest.mark.django_db
def test_a_push_neither_backs_off_nor_counts_as_a_pull(alice_calendar, caldav_connection, tomorrow_9):
    report = push_with_a_wrong_password(alice_calendar, caldav_connection, tomorrow_9)

    pushed = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert report.failed == 1  # the entry retries on its own schedule
    assert (pushed.pull_failures, pushed.next_pull_at, pushed.last_pull_at) == (0, None, None)


@pytest.mark.django_db(transaction=True)
def test_claiming_a_calendar_ignores_a_lock_on_its_connection(alice_calendar, caldav_connection):
    """Another worker's claim of a sibling calendar held the shared connection row for a moment;
    the claim (one UPDATE of the calendar's own row) must not see that as "busy"."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("Row locks held by another session are PostgreSQL's; SQLite locks the whole database.")
    import psycopg

    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )  # fmt: skip
    try:
        other.execute("SELECT id FROM integrations_connection WHERE id = %s FOR UPDATE", [caldav_connection.pk])

        owner = engine.claim(alice_calendar)

        assert owner is not None
        engine.release(alice_calendar, owner)
    finally:
        other.rollback()
        other.close()


@pytest.mark.django_db
def test_a_calendar_whose_every_push_meets_a_connection_problem_shows_as_failing(
    client, alice_calendar, caldav_connection, tomorrow_9
):
    """Task 5: a push refused for the calendar's connection itself (a wrong password: RFC 4918 /
    RFC 7235 401 on every request) marks the calendar failing with the reason, as a pull that meets
    it does; a push that gets through again makes it active."""
    report = push_with_a_wrong_password(alice_calendar, caldav_connection, tomorrow_9)

    pushed = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert report.failed == 1
    assert pushed.state == AgentCalendar.State.FAILING
    assert pushed.last_error and pushed.last_error_at is not None
    client.force_login(alice_calendar.agent.user)
    assert "Not working" in client.get("/me/sync/").content.decode()

    caldav_connection.set_secret(USERS["helpdesk"])
    caldav_connection.save()
    from integrations.models import SyncLink

    SyncLink.objects.update(next_attempt_at=timezone.now())  # its back-off is over
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=False)

    healed = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert (report.pushed, report.failed) == (1, 0)
    assert (healed.state, healed.last_error) == (AgentCalendar.State.ACTIVE, "")
