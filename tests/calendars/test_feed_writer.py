"""The feed's own VEVENT writer (calendars.ical_text, issue 14) against icalendar.

For generated appointments and series with hostile text, the feed built from the writer's
fragments (`feed_fragments` + `feed_text`) and the feed icalendar's objects make
(`icalendar_feed`, the feed as it was written before the writer) are parsed with icalendar and
compared property by property, and recurring-ical-events expands both to the same occurrences.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from django.db import transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from calendars import services
from calendars.ical import EventStyle, feed_fragments, feed_text, icalendar_component
from calendars.ical_text import TextComponent, fold
from calendars.models import Appointment
from calendars.selectors import feed_entries, feed_window
from tests.calendars.icalendar_feed import icalendar_feed

ZONES = ["Europe/Amsterdam", "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
# RFC 5545 3.3.11 escapes, line breaks of every kind, what icalendar reads as escapes, quotes,
# and characters of two to four UTF-8 octets (folding must not split them).
HOSTILE = [
    ",",
    ";",
    "\\",
    "\n",
    "\r\n",
    "\r",
    ":",
    '"',
    "\\n",
    "\\N",
    "\\,",
    "^",
    "\t",
    " ",
    "é",
    "€",
    "中文",
    "😀",
    "👩‍🔧",
]
RULES = ["FREQ=WEEKLY", "FREQ=DAILY;COUNT=9", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=MONTHLY;BYMONTHDAY=1,15", "UNTIL"]


def hostile_text(max_size: int) -> st.SearchStrategy[str]:
    """Text of hostile pieces and any other UTF-8 characters but NUL, cut to the field's size."""
    piece = st.one_of(
        st.sampled_from(HOSTILE),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
        st.just("x" * 73 + "\\"),  # a backslash where a fold would fall
    )
    return st.lists(piece, max_size=10).map(lambda pieces: "".join(pieces)[:max_size])


entry_text = st.fixed_dictionaries(
    {
        "subject": hostile_text(255).map(lambda text: text or "x"),
        "note": hostile_text(3000),
        "location": hostile_text(255),
    }
)
flags = st.fixed_dictionaries(
    {
        "all_day": st.booleans(),
        "private": st.booleans(),
        "external": st.booleans(),
        "busy": st.booleans(),
        "reminder_minutes": st.sampled_from([None, 0, 10, 1500]),
    }
)
single = st.tuples(entry_text, flags, st.integers(-24 * 50, 24 * 300), st.integers(15, 3 * 24 * 60))
series = st.tuples(
    entry_text,
    flags,
    st.sampled_from(RULES),
    st.sampled_from(ZONES),
    st.integers(-24 * 20, 24 * 20),
    st.integers(15, 26 * 60),
    st.lists(st.sampled_from(["move", "cancel", "retitle", "exdate"]), max_size=3),
)
case = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(ZONES),
        "reminder_minutes": st.sampled_from([None, 15]),
        "team": st.booleans(),
        "name": hostile_text(60),
        "agent_name": hostile_text(40),
        "singles": st.lists(single, min_size=1, max_size=4),
        "series": st.lists(series, max_size=2),
    }
)


def _fields(text: dict, flags: dict) -> dict:
    source = Appointment.Source.EXTERNAL if flags["external"] else Appointment.Source.MANUAL
    return {
        **text,
        "private": flags["private"],
        "busy": flags["busy"],
        "reminder_minutes": flags["reminder_minutes"],
        "source": source,
    }


def _times(start: datetime, minutes: int, all_day: bool) -> tuple[datetime | date, datetime | date]:
    if all_day:
        return start.date(), start.date() + timedelta(days=minutes // (24 * 60))
    return start, start + timedelta(minutes=minutes)


def _make(example: dict, alice, bob) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    alice.user.first_name = example["agent_name"]
    alice.user.save()
    for text, entry_flags, hours, minutes in example["singles"]:
        start, end = _times(now + timedelta(hours=hours, minutes=7), minutes, entry_flags["all_day"])
        services.create_appointment(
            agents=[alice, bob], start=start, end=end, all_day=entry_flags["all_day"], **_fields(text, entry_flags)
        )
    for text, entry_flags, rule, zone, hours, minutes, edits in example["series"]:
        start = (now + timedelta(hours=hours)).astimezone(ZoneInfo(zone))
        if rule == "UNTIL":
            rule = f"FREQ=DAILY;UNTIL={(start + timedelta(days=20)).astimezone(UTC):%Y%m%dT%H%M%SZ}"
        master = services.create_recurring_appointment(
            rule=rule,
            agents=[alice],
            start=start,
            end=start + timedelta(minutes=minutes),
            time_zone=zone,
            **_fields(text, entry_flags),
        )
        occurrences = list(master.occurrences.order_by("start"))
        for number, edit in enumerate(edits, start=1):
            occurrence = occurrences[number % len(occurrences)]
            if edit == "move":
                services.update_appointment(
                    occurrence, start=occurrence.start + timedelta(hours=5), end=occurrence.end + timedelta(hours=5)
                )
            elif edit == "cancel":
                services.delete_appointment(occurrence)
            elif edit == "retitle":
                services.update_appointment(occurrence, subject=text["location"] or "x", note=text["subject"])
            else:
                services.keep_cancelled_starts(master, [occurrences[-1].original_start])


def _properties(component) -> tuple:
    """Every property of a parsed component, value and parameters, in order, then its
    subcomponents' (VALARM)."""
    own = [
        (name, value.to_ical(), sorted(getattr(value, "params", {}).items()))
        for name, value in component.property_items(recursive=False)
        if name not in ("BEGIN", "END")
    ]
    return own, [_properties(sub) for sub in component.subcomponents]


def _occurrences(calendar: Calendar, window: tuple[datetime, datetime]) -> list[tuple]:
    return sorted(
        (
            str(event["UID"]),
            event.decoded("dtstart").isoformat(),
            event.decoded("dtend").isoformat(),
            str(event.get("summary")),
            str(event.get("description")),
            str(event.get("location")),
            str(event.get("class")),
            str(event.get("transp")),
        )
        for event in recurring_ical_events.of(calendar).between(*window)
    )


@given(example=case)
def test_the_feed_writer_writes_the_calendar_icalendar_writes(alice, bob, calendar_settings, example):
    with transaction.atomic():
        _make(example, alice, bob)
        zone = ZoneInfo(example["zone"])
        window = feed_window(calendar_settings, zone)
        agents = [alice.pk, bob.pk] if example["team"] else [alice.pk]
        style = EventStyle(zone=zone, reminder_minutes=example["reminder_minutes"], show_agents=example["team"])
        entries = feed_entries(agents, *window, include_external=True, with_agents=example["team"])
        on_feed = lambda occurrence: occurrence.on_feed  # noqa: E731
        fragments = feed_fragments(entries, style, on_feed=on_feed, window=window)
        written = feed_text(
            example["name"], style, [fragments[a.pk] for a in [*entries.singles, *entries.series] if a.pk in fragments]
        )
        made = icalendar_feed(entries, style, name=example["name"], on_feed=on_feed, window=window).to_ical()
        transaction.set_rollback(True)

    ours, theirs = Calendar.from_ical(written), Calendar.from_ical(made)
    assert [_properties(c) for c in ours.walk("VEVENT")] == [_properties(c) for c in theirs.walk("VEVENT")]
    # The same VTIMEZONEs (icalendar's, on both sides), in whatever order.
    assert sorted(map(repr, map(_properties, ours.walk("VTIMEZONE")))) == sorted(
        map(repr, map(_properties, theirs.walk("VTIMEZONE")))
    )
    assert _properties(ours)[0] == _properties(theirs)[0]  # the calendar's own properties
    assert _occurrences(ours, window) == _occurrences(theirs, window)
    assert len(ours.walk("VEVENT")) >= len(example["singles"])


moments = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([*map(ZoneInfo, ZONES), UTC]),
)
value_of = {
    "summary": hostile_text(300),
    "description": hostile_text(300),
    "dtstart": st.one_of(moments, st.dates()),
    "exdate": st.one_of(moments, st.dates()),
    "dtstamp": moments,
    "created": moments,
    "sequence": st.integers(0, 2**31 - 1),
    "trigger": st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)),
}
properties = st.lists(st.sampled_from(sorted(value_of)).flatmap(lambda name: st.tuples(st.just(name), value_of[name])))


@given(added=properties, alarm=properties)
def test_a_text_component_is_the_event_icalendar_writes_for_the_same_calls(added, alarm):
    ours, theirs = TextComponent("VEVENT"), icalendar_component("VEVENT")
    for event, make in ((ours, TextComponent), (theirs, icalendar_component)):
        for name, value in added:
            event.add(name, value)
        sub = make("VALARM")
        for name, value in alarm:
            sub.add(name, value)
        event.add_component(sub)

    assert _properties(Calendar.from_ical(ours.to_ical())) == _properties(Calendar.from_ical(theirs.to_ical()))


def test_long_lines_fold_before_75_octets_and_never_inside_a_character():
    line = "DESCRIPTION:" + "é😀a\\" * 40
    folded = fold(line).encode()
    pieces = folded.split(b"\r\n")
    assert all(len(piece) <= 75 for piece in pieces)
    assert all(piece.startswith(b" ") for piece in pieces[1:])
    for piece in pieces:
        piece.decode()  # raises on a split UTF-8 sequence
    assert b"".join(piece[1:] if n else piece for n, piece in enumerate(pieces)).decode() == line
