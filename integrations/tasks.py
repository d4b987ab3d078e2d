"""Celery tasks: push one agent calendar, pull one, pull all (beat). Each calls one service."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TypeVar

from celery import shared_task
from django.utils import timezone

# The project's configured app, current before any task here is queued: `helpdesk` loads it on
# first use only (helpdesk/__init__.py), and a process that queues work must send it to its broker.
import helpdesk.celery  # noqa: F401
from integrations import services
from integrations.models import Connection
from integrations.providers.base import ProviderError, TransientError
from integrations.sync import engine

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _back_off(task, error: TransientError, base: float, cap: float) -> float:
    """Seconds before `task`'s next try after a passing fault `error`: the server's own wait when it
    gave one (Retry-After, RFC 9110 10.2.3), else `base` seconds doubled for each try already
    retried, at most `cap`, times a jitter of 0.5-1.5 so calendars that failed together do not all
    come back at once."""
    return error.retry_after or min(cap, base * 2**task.request.retries) * random.uniform(0.5, 1.5)


TRANSIENT_RETRIES = 8  # tries while the server has a passing fault, with back-off (about an hour and a half)
BUSY_RETRIES = 20  # tries while another run holds the calendar: the first few shortly, then at its lease's end


def _busy_countdown(task, busy: engine.CalendarBusy) -> float:
    """Seconds before `task` tries a busy calendar again: 2-5 while a run is likely to end soon (the
    first 10 tries), then just after the holder's lease runs out (`busy.until`), so a lease left by
    a worker that died elsewhere is taken as soon as it is free, not at the next poll."""
    if task.request.retries < 10 or busy.until is None:
        return 2 + random.uniform(0, 3)
    return max(2.0, (busy.until - timezone.now()).total_seconds()) + random.uniform(1, 5)


def _retried(task, work: Callable[[], T], *, gave_up: Callable[[str], None] | None = None) -> T | None:
    """`work()`, with `task` retried when the calendar is busy or the server has a passing fault.
    None when the calendar stayed busy, or its server faulty, through every retry: for a sync
    nothing is lost (what was to be pushed stays marked on its links, and the next run of the
    calendar, at the latest the beat's poll, sends it), so that is one log line, not an error.
    Work that no later run picks up passes `gave_up`, called then with the reason (one line)."""
    try:
        return work()
    except engine.CalendarBusy as busy:
        if task.request.retries < BUSY_RETRIES:
            # Another run has it; what we were asked to push is still marked, so try again.
            raise task.retry(countdown=_busy_countdown(task, busy), max_retries=BUSY_RETRIES) from None
        reason = f"{busy} was still being synced by another run after {task.request.retries} tries"
    except TransientError as error:
        if task.request.retries < TRANSIENT_RETRIES:
            raise task.retry(
                countdown=_back_off(task, error, base=15, cap=600), max_retries=TRANSIENT_RETRIES
            ) from error
        reason = f"the calendar's server still had a passing fault after {task.request.retries} tries ({error})"
    if gave_up is not None:
        gave_up(reason)
    else:
        logger.warning(
            "%s: %s; what waits stays marked and goes with the calendar's next sync (at the latest the next poll).",
            task.name,
            reason,
        )
    return None


def _run(task, agent_calendar_id: int, *, pull: bool) -> str:
    report = _retried(task, lambda: engine.sync_calendar_by_id(agent_calendar_id, pull=pull))
    if report is None:
        return "skipped"  # gone, paused, or left for its next sync (`_retried`)
    if report.changed_meanwhile:
        # The helpdesk changed entries again while this run sent them: they stay marked, and go out
        # now rather than at the next poll (that change's own push may have met this run's lease).
        services.queue_push_again(agent_calendar_id)
    return report.summary()


@shared_task(bind=True, acks_late=True)
def push_agent_calendar(self, agent_calendar_id: int) -> str:
    return _run(self, agent_calendar_id, pull=False)


@shared_task(bind=True, acks_late=True)
def pull_agent_calendar(self, agent_calendar_id: int) -> str:
    return _run(self, agent_calendar_id, pull=True)


@shared_task
def sync_all_calendars() -> int:
    """Beat, once per pull interval: queue every polled calendar's pull (which also pushes what
    waits) at the calendar's own slot within the interval, so pulls are spread instead of all
    starting at once; calendars backing off after failed pulls wait their turn."""
    return services.queue_poll_round()


@shared_task(bind=True, acks_late=True)
def finish_disconnect(self, agent_calendar_id: int, remove_pushed: bool) -> str:
    """The outbound half of an admin's "Disconnect": remove what the link put on the calendar, then
    the link. Out of tries, the calendar (paused: no sync takes it up later) shows the admin that
    the disconnect did not finish (`services.record_unfinished_disconnect`)."""
    reasons: list[str] = []

    def gave_up(reason: str) -> None:
        reasons.append(reason)
        logger.warning("%s: disconnect of calendar %s not finished: %s.", self.name, agent_calendar_id, reason)
        services.record_unfinished_disconnect(agent_calendar_id, reason)

    outcome = _retried(
        self, lambda: engine.finish_disconnect(agent_calendar_id, remove_pushed=remove_pushed), gave_up=gave_up
    )
    return outcome if outcome is not None else f"not finished: {reasons[0]}; shown on the calendar"


@shared_task
def run_connection_test(connection_id: int) -> str:
    """The admin's "test connection", run here rather than in the web request."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "skipped"
    return services.record_connection_test(connection)


@shared_task
def renew_graph_subscriptions() -> dict:
    """Beat: Microsoft 365 change-notification subscriptions created and renewed before they expire."""
    return services.refresh_graph_subscriptions()


@shared_task
def finish_delegated_sign_in(agent_id: int, connection_id: int, code: str, verifier: str, redirect_uri: str) -> str:
    """A technician's Microsoft 365 sign-in, redeemed here rather than in the web request."""
    from agents.models import Agent

    agent = Agent.objects.filter(pk=agent_id).first()
    connection = Connection.objects.filter(pk=connection_id).first()
    if agent is None or connection is None:
        return "skipped"
    try:
        services.finish_delegated_sign_in(agent, connection, code, verifier, redirect_uri)
    except Exception as error:  # the technician sees it on their sync page
        logger.warning("Microsoft 365 sign-in of %s failed: %s", agent, error)
        return f"failed: {error}"
    return "connected"


@shared_task
def renew_google_channels() -> int:
    """Beat: open or renew the push channels of Google calendars before they end (off without
    PUBLIC_SITE_URL)."""
    return services.renew_google_channels()


SIGN_IN_RETRIES = 4  # about a minute and a half in all: Google's authorization code lives minutes


@shared_task(bind=True)
def finish_google_sign_in(
    self, agent_id: int, connection_id: int, code: str, redirect_uri: str, verifier: str = ""
) -> str:
    """The end of "Connect my Google calendar": the code exchange and the first look at the calendar,
    run here rather than in the web request, with the sign-in's PKCE verifier (empty for one queued
    before PKCE). The code is single-use and lives minutes; what lasts
    (the refresh token) is stored encrypted. A passing fault is retried with back-off while the code
    may still be good (a code Google already redeemed then gets invalid_grant, a clear refusal). A
    refusal, or a fault outlasting the retries, leaves the technician unconnected with the reason in
    the sync log, which the page shows next to the sign-in it offers again."""
    from agents.models import Agent

    agent = Agent.objects.get(pk=agent_id)
    connection = Connection.objects.get(pk=connection_id)
    try:
        agent_calendar = services.finish_google_sign_in(
            agent, connection, code=code, redirect_uri=redirect_uri, code_verifier=verifier
        )
    except TransientError as error:
        if self.request.retries < SIGN_IN_RETRIES:
            raise self.retry(countdown=_back_off(self, error, base=5, cap=60), max_retries=SIGN_IN_RETRIES) from error
        return _sign_in_failed(agent, connection, error)
    except ProviderError as error:
        return _sign_in_failed(agent, connection, error)
    services.queue_existing_appointments(agent_calendar, since=timezone.now())
    return f"connected {agent_calendar.calendar_id}"


def _sign_in_failed(agent, connection: Connection, error: ProviderError) -> str:
    logger.warning("Google sign-in of %s on %s failed: %s", agent, connection, error)
    services.record_google_sign_in_failure(agent, connection, error)
    return f"failed: {error}"


@shared_task
def prune_sync_log() -> int:
    """Remove sync log entries past the retention in the calendar settings (run daily by beat)."""
    return services.prune_sync_log()
