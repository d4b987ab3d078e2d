from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from django.urls import reverse
from icalendar import Calendar

from tests.feed_tokens import feed_token_of

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def next_dst_change(after: datetime, zone: ZoneInfo = AMSTERDAM) -> date:
    """The first local date after `after` on which the zone's UTC offset changes."""
    day = after.astimezone(zone).date()
    while True:
        before = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
        following = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).utcoffset()
        if before != following:
            return day
        day += timedelta(days=1)


def expand(calendar: Calendar, start: datetime, end: datetime) -> set[tuple[datetime, datetime, str]]:
    """What a phone shows between start and end: (start, end, summary) in UTC."""
    return {
        (
            event.decoded("dtstart").astimezone(UTC),
            event.decoded("dtend").astimezone(UTC),
            str(event.get("summary")),
        )
        for event in recurring_ical_events.of(calendar).between(start, end)
    }


@pytest.fixture
def feed_url():
    def url(agent, **query) -> str:
        path = reverse("feeds:agent", args=[feed_token_of(agent)])
        if query:
            path += "?" + "&".join(f"{key}={value}" for key, value in query.items())
        return path

    return url


@pytest.fixture
def fetch_feed(client, feed_url):
    """GET a technician's feed and parse it."""

    def fetch(agent, **query) -> Calendar:
        response = client.get(feed_url(agent, **query))
        assert response.status_code == 200, response.content[:500]
        assert response["Content-Type"].startswith("text/calendar")
        return Calendar.from_ical(response.content)

    return fetch
