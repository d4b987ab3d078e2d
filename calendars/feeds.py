"""The iCalendar subscription feeds (S3.12): a technician's own, and a coordinator's team feed.

No session: a phone has none. A technician's feed is guarded by the long random token in its
URL (`/feeds/<token>.ics`); a team feed by the coordinator's own token
(`/feeds/team/<team id>/<token>.ics`: their technician token, or for a coordinator without a
technician profile the token of their CoordinatorFeed), and only while that user may coordinate. A revoked or
unknown token, a missing permission and an unknown team all answer the same 404.

A phone polls often; an unchanged calendar costs one aggregate query and a 304.
"""

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from agents.models import Agent, Team
from agents.services import agent_for_feed_token, coordinator_for_feed_token, feed_enabled
from calendars.ical import EventStyle, feed_fragments, feed_text, timezone_text, uid_domain
from calendars.models import CalendarSettings
from calendars.selectors import feed_entries, feed_index, feed_version, feed_window

# Raise when the feed's content changes shape, so phones fetch it again.
FEED_FORMAT = "4"  # 2: open yearly VTIMEZONE rules; 3: repeated hour in UTC; 4: a series' EXDATEs on its zone
TRUE_VALUES = {"1", "true", "yes", "on"}
FIRST_SERVED_KEPT = int(timedelta(days=30).total_seconds())
BODY_KEPT = int(timedelta(hours=6).total_seconds())
FRAGMENT_KEPT = int(timedelta(days=7).total_seconds())


def _agent_for_token(token: str) -> Agent:
    agent = agent_for_feed_token(token)
    if agent is None or not feed_enabled(agent):
        raise Http404("No calendar here.")
    return agent


def _wants_external(request: HttpRequest) -> bool:
    """Entries imported from the technician's other calendars are there already; in the feed
    only when the link asks for them (`?external=1`)."""
    return request.GET.get("external", "").lower() in TRUE_VALUES


def _last_modified(etag: str, newest_change: datetime | None) -> datetime:
    """When this version of the feed first appeared: the newest change, unless a deletion (which
    leaves no timestamp) made it, in which case the moment we first served it."""
    first_served = cache.get_or_set(f"feed-version:{etag}", timezone.now, timeout=FIRST_SERVED_KEPT)
    return max(filter(None, (newest_change, first_served)))


def _fragment_key(style_key: str, kind: str, pk: int, revision: tuple, window) -> str:
    # A series' text also depends on the window (occurrences moved off the rule are shown
    # only inside it), so its fragments are rebuilt when the window moves, once a day.
    scope = window if kind == "series" else None
    digest = hashlib.sha256(repr((style_key, kind, pk, revision, scope)).encode()).hexdigest()[:40]
    return f"feed-entry:{digest}"


def _cached_timezone(tzid: str, first, last) -> bytes:
    return cache.get_or_set(
        f"feed-tz:{FEED_FORMAT}:{tzid}:{first}:{last}", lambda: timezone_text(tzid, first, last), FRAGMENT_KEPT
    )


def build_feed(
    agent_ids: list[int],
    window: tuple[datetime, datetime],
    *,
    name: str,
    style: EventStyle,
    include_external: bool,
    with_agents: bool,
) -> bytes:
    """The feed's iCalendar text, put together from per-entry fragments kept in Django's cache
    under each entry's revision (calendars.selectors.FeedIndex): only entries changed since
    they were last written are loaded and written again (issue 14: a feed at a small multiple
    of the fetch). A fixed number of queries whatever the number of entries."""
    index = feed_index(agent_ids, *window, include_external=include_external, with_agents=with_agents)
    style_key = repr(
        (
            FEED_FORMAT,
            uid_domain(),
            str(style.zone),
            style.reminder_minutes,
            style.all_day_reminder_minutes,
            style.show_agents,
        )
    )
    singles = {pk: _fragment_key(style_key, "single", pk, revision, window) for pk, revision in index.singles}
    series = {pk: _fragment_key(style_key, "series", pk, revision, window) for pk, revision in index.series}
    found = cache.get_many([*singles.values(), *series.values()])
    missing_singles = [pk for pk, key in singles.items() if key not in found]
    missing_series = [pk for pk, key in series.items() if key not in found]
    if missing_singles or missing_series:
        entries = feed_entries(
            agent_ids,
            *window,
            include_external=include_external,
            with_agents=with_agents,
            single_ids=missing_singles,
            series_ids=missing_series,
        )
        made = feed_fragments(entries, style, on_feed=lambda occurrence: occurrence.on_feed, window=window)
        new = {singles[pk]: made[pk] for pk in missing_singles if pk in made}
        new |= {series[pk]: made[pk] for pk in missing_series if pk in made}
        cache.set_many(new, timeout=FRAGMENT_KEPT)
        found |= new
    keys = [*singles.values(), *series.values()]
    return feed_text(name, style, (found[key] for key in keys if key in found), timezones=_cached_timezone)


def _feed_response(
    request: HttpRequest,
    *,
    identity: str,
    agent_ids: list[int],
    name: str,
    zone: ZoneInfo,
    with_agents: bool,
) -> HttpResponse:
    calendar_settings = CalendarSettings.load()
    if not calendar_settings.calendar_enabled:
        raise Http404("The calendar is switched off.")
    include_external = _wants_external(request)
    window = feed_window(calendar_settings, zone)
    version = feed_version(agent_ids, *window, include_external=include_external)
    fingerprint = repr(
        (
            FEED_FORMAT,
            identity,
            name,
            str(zone),
            window,
            include_external,
            calendar_settings.reminder_minutes,
            calendar_settings.all_day_reminder_minutes,
            version,
        )
    )
    etag = quote_etag(hashlib.sha256(fingerprint.encode()).hexdigest()[:40])
    last_modified = _last_modified(etag, version.last_modified)
    timestamp = int(last_modified.timestamp())
    response = get_conditional_response(request, etag=etag, last_modified=timestamp)
    if response is None:
        body = cache.get(f"feed-body:{etag}")
        if body is None:
            style = EventStyle.for_settings(calendar_settings, zone=zone, show_agents=with_agents)
            body = build_feed(
                agent_ids, window, name=name, style=style, include_external=include_external, with_agents=with_agents
            )
            # Phones that do not send If-None-Match (and a team's many subscribers) get the
            # same bytes without rebuilding them; a change makes a new ETag, so no stale copy.
            cache.set(f"feed-body:{etag}", body, timeout=BODY_KEPT)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response.headers["ETag"] = etag
    response.headers["Last-Modified"] = http_date(timestamp)
    response.headers["X-Robots-Tag"] = "noindex"
    # The token is in the URL: no shared cache may keep it, and every poll revalidates.
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_safe
def agent_feed(request: HttpRequest, token: str) -> HttpResponse:
    agent = _agent_for_token(token)
    if not agent.is_active:
        raise Http404("No calendar here.")
    return _feed_response(
        request,
        identity=f"agent:{agent.pk}:{agent.feed_token}",
        agent_ids=[agent.pk],
        name=f"Helpdesk – {agent.name}",
        zone=agent.zone,
        with_agents=False,
    )


@require_safe
def team_feed(request: HttpRequest, team_id: int, token: str) -> HttpResponse:
    coordinator = coordinator_for_feed_token(token)
    if coordinator is None:
        raise Http404("No calendar here.")
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise Http404("No calendar here.")
    member_ids = list(Agent.objects.filter(teams=team, is_active=True).values_list("pk", flat=True))
    return _feed_response(
        request,
        identity=f"team:{team.pk}:{coordinator._meta.model_name}:{coordinator.pk}:{coordinator.feed_token}:{sorted(member_ids)}",
        agent_ids=member_ids,
        name=f"Helpdesk – {team.name}",
        zone=coordinator.zone,
        with_agents=True,
    )
