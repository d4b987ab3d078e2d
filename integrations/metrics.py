"""Prometheus metrics of the calendar sync, computed when scraped (prometheus-client's custom
collector: https://prometheus.github.io/client_python/collector/custom/).

Everything comes from `selectors.sync_overview` (two queries, whatever the number of calendars)
and from the Celery broker (queue lengths); nothing is kept in process memory, so any web
process answers the same and several web processes need no multiprocess mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from django.conf import settings
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from integrations import selectors

logger = logging.getLogger(__name__)


def queue_names() -> list[str]:
    """The Celery queues the workers read: the default queue and any named in task routes."""
    names = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        queue = route.get("queue") if isinstance(route, dict) else None
        if queue and queue not in names:
            names.append(queue)
    return names


def queue_depths(app=None, queues: list[str] | None = None) -> tuple[dict[str, int], int | None]:
    """({queue: messages waiting in the broker}, messages taken by workers but not yet acknowledged
    or None where the transport does not say). Redis: the queue lists' lengths (all priority
    lists) and the `unacked` hash; the filesystem transport: the message files in its folder;
    any kombu transport: its passive queue declare. A queue never declared counts 0.
    Raises whatever the broker connection raises (the collector reports the broker down)."""
    from kombu.exceptions import ChannelError

    if app is None:
        from helpdesk.celery import app
    depths: dict[str, int] = {}
    unacked = None
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.default_channel
        for queue in queues or queue_names():
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # no message was ever sent to it
                depths[queue] = 0
        client, key = getattr(channel, "client", None), getattr(channel, "unacked_key", None)
        if client is not None and key and hasattr(client, "hlen"):
            unacked = int(client.hlen(key))
    return depths, unacked


class SyncCollector(Collector):
    """Gauges of the sync: per calendar the pull lag and failed pulls in a row; per connection the
    calendars by state, the worst lag, calendars backing off, links waiting and failing; the
    Celery queue depth."""

    def __init__(self, overview: Callable = selectors.sync_overview, broker: Callable = queue_depths) -> None:
        self.overview = overview
        self.broker = broker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        overview = self.overview()
        yield from self._calendars(overview)
        yield from self._connections(overview)
        yield from self._queues()

    def _calendars(self, overview) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "helpdesk_sync_pull_lag_seconds",
            "Seconds since the calendar's last good pull (never pulled: since it was linked).",
            labels=["connection", "agent"],
        )
        failures = GaugeMetricFamily(
            "helpdesk_sync_failed_pulls",
            "Failed pulls in a row of the calendar (0 after a good pull).",
            labels=["connection", "agent"],
        )
        for calendar in overview.calendars:
            lag.add_metric([calendar.connection, calendar.agent], calendar.lag_seconds)
            failures.add_metric([calendar.connection, calendar.agent], calendar.pull_failures)
        yield lag
        yield failures

    def _connections(self, overview) -> Iterator[GaugeMetricFamily]:
        def family(name: str, documentation: str, extra: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=["connection", *(extra or [])])

        by_state = family("helpdesk_sync_calendars", "Connected calendars by sync state.", ["state"])
        max_lag = family(
            "helpdesk_sync_max_pull_lag_seconds",
            "The connection's longest time since a good pull of a polled calendar (never pulled: since linked).",
        )
        never = family("helpdesk_sync_calendars_never_pulled", "Connected calendars not pulled yet.")
        backing_off = family("helpdesk_sync_calendars_backing_off", "Calendars waiting out a pull back-off.")
        pending = family("helpdesk_sync_links_pending", "Helpdesk changes waiting to be pushed.")
        waiting = family("helpdesk_sync_links_waiting_approval", "Appointments waiting for the technician's approval.")
        failing = family("helpdesk_sync_links_failing", "Entries whose last push or pull failed (retried later).")
        for connection in overview.connections:
            label = [connection.name]
            for state in selectors.AgentCalendar.State.values:
                by_state.add_metric([*label, state], connection.by_state.get(state, 0))
            if connection.max_lag_seconds is not None:
                max_lag.add_metric(label, connection.max_lag_seconds)
            never.add_metric(label, connection.never_pulled)
            backing_off.add_metric(label, connection.backing_off)
            pending.add_metric(label, connection.pending)
            waiting.add_metric(label, connection.waiting)
            failing.add_metric(label, connection.failing_links)
        yield from (by_state, max_lag, never, backing_off, pending, waiting, failing)

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("helpdesk_celery_broker_up", "1 when the Celery broker answered this scrape.")
        try:
            depths, unacked = self.broker()
        except Exception as error:  # a scrape reports the broker down rather than failing whole
            logger.warning("Celery broker unreachable for metrics: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        queued = GaugeMetricFamily(
            "helpdesk_celery_queue_messages", "Tasks waiting in the broker's queue.", labels=["queue"]
        )
        for queue, count in depths.items():
            queued.add_metric([queue], count)
        yield queued
        if unacked is not None:
            yield GaugeMetricFamily(
                "helpdesk_celery_unacked_messages",
                "Tasks workers hold, not yet acknowledged (running, or waiting for their slot in the interval).",
                value=unacked,
            )


def render(collector: Collector | None = None, accept: str = "") -> tuple[bytes, str]:
    """(body, content type) of the sync's metrics in the format the scraper's Accept header asks
    for: OpenMetrics when it says so, else the Prometheus text format 0.0.4 (prometheus-client's
    own negotiation)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector or SyncCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
