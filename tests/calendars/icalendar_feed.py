"""The oracle for the feed's own text writer (calendars.ical_text, issue 14): the same feed's
events put into icalendar's objects and written by icalendar, the library's serialisation of
RFC 5545 rather than ours. Only the tests use it; the served feed is `feed_fragments` +
`feed_text`."""

from collections.abc import Callable
from datetime import datetime

from icalendar import Calendar

from calendars.ical import EventStyle, finish, new_calendar, series_events, single_event
from calendars.models import Appointment
from calendars.selectors import FeedEntries


def icalendar_feed(
    entries: FeedEntries,
    style: EventStyle,
    *,
    name: str,
    on_feed: Callable[[Appointment], bool],
    window: tuple[datetime, datetime],
) -> Calendar:
    """The subscription feed of one technician or one team, as one icalendar Calendar."""
    calendar = new_calendar(name, zone=style.zone)
    for appointment in entries.singles:
        calendar.add_component(single_event(appointment, style))
    for master in entries.series:
        for event in series_events(
            master, style, exceptions=entries.exceptions.get(master.pk, ()), on_feed=on_feed, window=window
        ):
            calendar.add_component(event)
    return finish(calendar)
