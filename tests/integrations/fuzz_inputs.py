"""Inputs of the inbound fuzz campaign (issue 11): real payloads from the peers and the corpus, and
hypothesis strategies that mutate them or make new ones.

Seeds are what the real systems send: the iCalendar corpus (tests/corpus/ical), CalendarItem XML
as the local EWS peer renders it for GetItem, Graph event JSON and Google event resources as the
local Graph and Google peers answer them. Mutations are structural (drop, duplicate, move, nest),
of type (a list where a string was), of value (huge, NUL and control text, dates out of range or
impossible, unknown time zones, rules no library reads or that never end) and of depth.
"""

from __future__ import annotations

import copy
import functools
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "ical"
MAILBOX = "alice@example.com"
# The window the peers' series are listed in (Graph instances, Google exceptions).
WINDOW_START = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_END = datetime(2027, 10, 30, tzinfo=UTC)

# --- hostile values ------------------------------------------------------------------------

# XML 1.0 cannot carry NUL or most control characters, so a well-formed answer never holds them.
_XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x0b\x0c\ufffe\uffff").filter(
    lambda c: c >= " " or c in "\t\n\r"
)
CONTROL = "".join(chr(n) for n in range(32)) + "\x7f\u2028\u2029\u202e\ufeff"


def _xml_safe(text: str) -> str:
    """Text a well-formed XML 1.0 answer can carry (no NUL, no C0 controls but tab and newlines)."""
    return "".join(c for c in text if (c >= " " or c in "\t\n\r") and c not in "\ufffe\uffff")


def huge(size: int, char: str = "x") -> str:
    return char * size


nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(CONTROL), max_size=20),
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "<script>alert(1)</script>", "\r\n\r\n", "%s%n{0}{subject}", "☃" * 300]
    ),
    st.integers(min_value=256, max_value=300_000).map(huge),
    st.just(huge(5 * 1024 * 1024)),
)
xml_text = st.one_of(
    st.text(alphabet=_XML_CHARS, max_size=40),
    st.sampled_from(["", " ", "<b>x</b>", "]]>", "&amp;", "☃" * 300]),
    st.integers(min_value=256, max_value=300_000).map(huge),
)
BAD_STAMPS = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59Z",
    "2026-02-30T10:00:00",
    "2026-13-01T00:00:00",
    "2026-12-01T25:00:00",
    "2026-12-01",
    "2026-12-01T10:00:00.123456789012Z",
    "2026-12-01T10:00:00+25:00",
    "",
    "now",
    "NaN",
    "1e309",
]
iso_moments = st.one_of(
    st.sampled_from(BAD_STAMPS),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
)
ical_moments = st.one_of(
    st.sampled_from(
        ["00010101T000000Z", "99991231T235959", "20260230T100000", "20261301", "20261201T250000", "2026", "", "X"]
    ),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.strftime("%Y%m%dT%H%M%S")
    ),
    st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30)).map(lambda d: d.strftime("%Y%m%d")),
)
zones = st.one_of(
    st.sampled_from(
        [
            "Mars/Olympus_Mons",
            "",
            "UTC",
            "W. Europe Standard Time",
            "Customized Time Zone",
            "tzone://Microsoft/Custom",
            "../../etc/passwd",
            "UTC+25",
            "Etc/GMT+14",
            "America/Nuuk",
            "Europe/Amsterdam",
            "Pacific Standard Time",
        ]
    ),
    st.text(max_size=30),
)
_FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "FORTNIGHTLY", ""]
_PARTS = st.one_of(
    st.integers(-2, 1_000_001).map(lambda n: f"COUNT={n}"),
    st.integers(-1, 1000).map(lambda n: f"INTERVAL={n}"),
    ical_moments.map(lambda v: f"UNTIL={v}"),
    st.lists(st.sampled_from(["MO", "TU", "1FR", "-1SU", "53MO", "XX", "+2WE", ""]), max_size=3).map(
        lambda v: "BYDAY=" + ",".join(v)
    ),
    st.integers(-40, 40).map(lambda n: f"BYMONTHDAY={n}"),
    st.integers(-1, 14).map(lambda n: f"BYMONTH={n}"),
    st.integers(-400, 400).map(lambda n: f"BYSETPOS={n}"),
    st.integers(-1, 61).map(lambda n: f"BYSECOND={n}"),
    st.sampled_from(["WKST=SU", "WKST=XX", "BYEASTER=0", "RSCALE=GREGORIAN", "X-NAME=1", "=", ";;", "FREQ=DAILY"]),
)


@st.composite
def rrules(draw) -> str:
    """An RRULE value: rules clients write, never-ending fine ones, and parts no library knows."""
    freq = draw(st.sampled_from(_FREQS))
    parts = draw(st.lists(_PARTS, max_size=4))
    return ";".join([f"FREQ={freq}", *parts])


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
    iso_moments,
    zones,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def nested(depth: int, leaf: object = "x") -> object:
    value = leaf
    for _ in range(depth):
        value = [value] if depth % 2 else {"a": value}
    return value


# --- seeds: real payloads -------------------------------------------------------------------


@functools.cache
def ical_seeds() -> tuple[str, ...]:
    """Every client file of the corpus (RFC 5545 text as clients write it)."""
    return tuple(path.read_text() for path in sorted(CORPUS.glob("*.ics")))


@functools.cache
def graph_seeds() -> tuple[tuple[dict, list[dict] | None], ...]:
    """(event, instances) as the local Graph peer answers GET /events/{id} (with our marker expanded,
    times in UTC) and GET /events/{id}/instances; instances None for a single entry."""
    from integrations.providers.graph.mapping import EXPAND_MARKER, MARKER_PROPERTY_ID
    from tests.peers.graph import GraphServer

    server = GraphServer()
    try:
        server.add_mailbox(MAILBOX)
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        made = [
            server.outlook_add(
                MAILBOX, start, start + timedelta(hours=1), "Visit", time_zone="W. Europe Standard Time"
            ),
            server.outlook_add(
                MAILBOX, start, start + timedelta(days=1), "Away", isAllDay=True, sensitivity="private", showAs="free"
            ),
            server.outlook_add(
                MAILBOX,
                start,
                start + timedelta(minutes=30),
                "Stand-up",
                time_zone="Pacific Standard Time",
                singleValueExtendedProperties=[{"id": MARKER_PROPERTY_ID, "value": "helpdesk-abc"}],
                recurrence={
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "sunday"},
                    "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": 6},
                },
            ),
            server.outlook_add(
                MAILBOX,
                start,
                start + timedelta(hours=2),
                "Patch day",
                recurrence={
                    "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "second"},
                    "range": {"type": "noEnd", "startDate": "2026-12-01"},
                },
            ),
        ]
        headers = {"prefer": 'outlook.timezone="UTC"'}
        seeds = []
        for event in made:
            path = f"/users/{MAILBOX}/events/{event['id']}"
            _, _, body = server.graph("GET", path, {"$expand": EXPAND_MARKER}, headers, None)
            instances = None
            if event.get("recurrence"):
                span = {"startDateTime": WINDOW_START.isoformat(), "endDateTime": WINDOW_END.isoformat()}
                _, _, listed = server.graph("GET", f"{path}/instances", span, headers, None)
                instances = listed["value"]
            seeds.append((json.loads(json.dumps(body)), json.loads(json.dumps(instances))))
        return tuple(seeds)
    finally:
        server.httpd.server_close()
        server._tmp.cleanup()


@functools.cache
def google_seeds() -> tuple[tuple[dict, list[dict]], ...]:
    """(master, exceptions) as the local Google peer holds them (events.list resources)."""
    from tests.peers.google import GoogleCalendarServer

    with GoogleCalendarServer() as server:
        return _google_resources(server)


def _google_resources(server) -> tuple[tuple[dict, list[dict]], ...]:
    from tests.peers.google import instance_id

    server.add_user(MAILBOX, time_zone="Europe/Amsterdam")
    zone = "Europe/Amsterdam"
    single = server.phone_insert(
        MAILBOX,
        summary="Dentist",
        description="<b>bring card</b>",
        location="Main st",
        start={"dateTime": "2026-12-01T09:00:00+01:00", "timeZone": zone},
        end={"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": zone},
        reminders={"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]},
    )
    all_day = server.phone_insert(
        MAILBOX,
        summary="Holiday",
        start={"date": "2026-12-24"},
        end={"date": "2026-12-27"},
        visibility="private",
        transparency="transparent",
    )
    focus = server.phone_insert(
        MAILBOX,
        eventType="focusTime",
        start={"dateTime": "2026-12-02T13:00:00Z"},
        end={"dateTime": "2026-12-02T15:00:00Z"},
    )
    series = server.phone_insert(
        MAILBOX,
        summary="Weekly",
        start={"dateTime": "2026-12-01T09:00:00", "timeZone": zone},
        end={"dateTime": "2026-12-01T09:30:00", "timeZone": zone},
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=8", "EXDATE;TZID=Europe/Amsterdam:20261215T090000"],
        extendedProperties={"private": {"helpdeskLinkId": "helpdesk-xyz"}},
    )
    moved = datetime(2026, 12, 8, 8, tzinfo=UTC)
    server.phone_patch(
        MAILBOX,
        instance_id(series["id"], moved),
        summary="Weekly (moved)",
        start={"dateTime": "2026-12-09T10:00:00+01:00", "timeZone": zone},
        end={"dateTime": "2026-12-09T10:30:00+01:00", "timeZone": zone},
    )
    server.phone_patch(MAILBOX, instance_id(series["id"], moved + timedelta(days=14)), status="cancelled")
    stored = server.events(MAILBOX, with_cancelled=True)
    exceptions = [e for e in stored if e.get("recurringEventId") == series["id"]]
    masters = {e["id"]: e for e in stored if not e.get("recurringEventId")}
    return tuple(
        (copy.deepcopy(masters[event["id"]]), copy.deepcopy(exceptions if event is series else []))
        for event in (single, all_day, focus, series)
    )


@functools.cache
def ews_seeds() -> tuple[bytes, ...]:
    """CalendarItem elements as the local EWS peer renders them for GetItem (AllProperties, our
    extended property): a single entry, an all-day one, and weekly / monthly series with deleted
    and modified occurrences."""
    from tests.peers import ews

    shape = ews._Shape(None)
    shape.names |= set(ews.ITEM_FIELDS.values())
    marker_key = ("4a3b7c2e-5d1f-4e8a-9b6c-0f2d8e7a1c55", "HelpdeskLinkId", "String")
    shape.extended.append(marker_key)
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    items = []
    single = ews.Item("item-1", "ck-1", MAILBOX, subject="Visit", body="<p>hi</p>", body_type="HTML", start=start)
    single.end, single.start_tz = start + timedelta(hours=1), "W. Europe Standard Time"
    single.location, single.sensitivity = "Room 1", "Private"
    items.append(single)
    whole_day = ews.Item("item-2", "ck-2", MAILBOX, subject="Away", start=start, is_all_day=True)
    whole_day.end, whole_day.free_busy = start + timedelta(days=1), "Free"
    items.append(whole_day)
    weekly = ews.Item("item-3", "ck-3", MAILBOX, subject="Stand-up", start=start, end=start + timedelta(minutes=30))
    weekly.start_tz = weekly.end_tz = "Pacific Standard Time"
    weekly.recurrence = ews.Recurrence(
        "WeeklyRecurrence",
        days_of_week=["Tuesday"],
        range="NumberedRecurrence",
        count=6,
        start_date=date(2026, 12, 1),
    )
    weekly.deleted = {start + timedelta(days=7)}
    weekly.modified = {
        start + timedelta(days=14): ews.Exception_(
            "occ-1", "ck-4", start + timedelta(days=15), start + timedelta(days=15, minutes=30), subject="Moved"
        )
    }
    weekly.extended[marker_key] = "helpdesk-abc"
    items.append(weekly)
    monthly = ews.Item("item-4", "ck-5", MAILBOX, subject="Patch day", start=start, end=start + timedelta(hours=2))
    monthly.recurrence = ews.Recurrence(
        "RelativeMonthlyRecurrence",
        days_of_week=["Tuesday"],
        day_of_week_index="Second",
        range="EndDateRecurrence",
        start_date=date(2026, 12, 1),
        end_date=date(2027, 6, 30),
    )
    items.append(monthly)
    return tuple(ET.tostring(ews._item_element(item, shape, full=True)) for item in items)


# --- mutations ------------------------------------------------------------------------------


def _paths(value, limit: int = 12) -> list[tuple]:
    """Every path (keys and indexes) into a JSON value, down to `limit` levels (deep nesting is a
    mutation of its own, not a place to mutate further)."""
    found, stack = [], [((), value)]
    while stack:
        path, item = stack.pop()
        found.append(path)
        if len(path) >= limit:
            continue
        if isinstance(item, dict):
            stack += [((*path, key), child) for key, child in reversed(list(item.items()))]
        elif isinstance(item, list):
            stack += [((*path, index), child) for index, child in reversed(list(enumerate(item)))]
    return found


def _parent(root, path):
    for step in path[:-1]:
        root = root[step]
    return root


# Keys worth planting where they are missing (Graph event resource, Google events resource).
JSON_KEYS = [
    "start",
    "end",
    "dateTime",
    "date",
    "timeZone",
    "originalStartTimeZone",
    "recurrence",
    "pattern",
    "range",
    "originalStart",
    "originalStartTime",
    "isAllDay",
    "subject",
    "summary",
    "body",
    "content",
    "contentType",
    "location",
    "reminders",
    "overrides",
    "minutes",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "sensitivity",
    "visibility",
    "showAs",
    "transparency",
    "eventType",
    "status",
    "type",
    "id",
    "singleValueExtendedProperties",
    "extendedProperties",
]


@st.composite
def mutated_json(draw, seed):
    """`seed` (a JSON value) with one to four mutations: a value dropped, replaced by a hostile
    value of any type, nested deep, a known key planted with a hostile value, a list emptied or
    repeated, a RRULE line rewritten."""
    data = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["drop", "replace", "replace", "deep", "plant", "repeat", "rrule", "type"]))
        if not path:
            if op in ("replace", "type"):
                data = draw(json_values)
            continue
        parent, step = _parent(data, path), path[-1]
        current = parent[step]
        if op == "drop":
            del parent[step]
        elif op == "replace":
            parent[step] = draw(json_values)
        elif op == "type":
            parent[step] = draw(st.sampled_from([[current], {"value": current}, str(current)[:100], 7, None, True]))
        elif op == "deep":
            parent[step] = nested(draw(st.sampled_from([30, 200])), current)
        elif op == "plant" and isinstance(current, dict):
            current[draw(st.sampled_from(JSON_KEYS))] = draw(json_values)
        elif op == "repeat" and isinstance(current, list):
            parent[step] = current * draw(st.sampled_from([0, 2, 50]))
        elif op == "rrule":
            parent[step] = [f"RRULE:{draw(rrules())}", f"EXDATE:{draw(ical_moments)}"]
    return data


_ICAL_LINES = st.one_of(
    rrules().map(lambda rule: f"RRULE:{rule}"),
    ical_moments.map(lambda v: f"EXDATE:{v}"),
    ical_moments.map(lambda v: f"RDATE:{v}"),
    st.tuples(zones, ical_moments).map(lambda p: f"DTSTART;TZID={p[0]}:{p[1]}"),
    st.tuples(zones, ical_moments).map(lambda p: f"DTEND;TZID={p[0]}:{p[1]}"),
    ical_moments.map(lambda v: f"DTSTART;VALUE=DATE:{v}"),
    ical_moments.map(lambda v: f"RECURRENCE-ID:{v}"),
    ical_moments.map(lambda v: f"RECURRENCE-ID;RANGE=THISANDFUTURE:{v}"),
    st.sampled_from(["P1D", "-P1D", "PT0S", "P99999999W", "PXD", "P1Y"]).map(lambda v: f"DURATION:{v}"),
    nasty_text.map(lambda v: "SUMMARY:" + v.replace("\n", " ")),
    nasty_text.map(lambda v: "DESCRIPTION:" + v.replace("\n", "\\n")),
    st.sampled_from(["PRIVATE", "CONFIDENTIAL", "X-OTHER", ""]).map(lambda v: f"CLASS:{v}"),
    st.sampled_from(["-PT15M", "PT-15M", "-P9999999D", "19700101T000000Z", "X"]).map(
        lambda v: f"BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:{v}\nEND:VALARM"
    ),
    st.sampled_from(
        [
            "BEGIN:VEVENT",
            "END:VEVENT",
            "END:VCALENDAR",
            "BEGIN:VTIMEZONE",
            "TZID:Mars/Base",
            "BEGIN:VTODO",
            "STATUS:CANCELLED",
            "TRANSP:TRANSPARENT",
            "UID:",
            "X-WR-TIMEZONE:Mars/Base",
            ":",
            "DTSTART",
            "BEGIN:VEVENT\n" * 30,
        ]
    ),
)


@st.composite
def mutated_ical(draw, seed: str) -> str:
    """`seed` with one to four of: a line dropped, repeated, moved, its value replaced by a hostile
    one, a hostile line inserted (rules, dates, zones, alarms, unbalanced BEGIN/END), the text cut."""
    lines = seed.replace("\r\n ", "").replace("\n ", "").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [draw(_ICAL_LINES)]
            continue
        index = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "move", "value", "value", "insert", "insert", "cut"]))
        if op == "drop":
            del lines[index]
        elif op == "repeat":
            lines.insert(index, lines[index])
        elif op == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(index))
        elif op == "value":
            name, _, _ = lines[index].partition(":")
            value = draw(st.one_of(ical_moments, rrules(), zones, nasty_text.map(lambda v: v.replace("\n", " "))))
            lines[index] = f"{name}:{value}"
        elif op == "insert":
            lines.insert(index, draw(_ICAL_LINES))
        elif op == "cut":
            lines = lines[:index]
    return "\r\n".join(lines) + "\r\n"


@st.composite
def generated_ical(draw) -> str:
    """A VCALENDAR made from hostile lines alone: one to three VEVENTs of random properties."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
    for number in range(draw(st.integers(1, 3))):
        lines += ["BEGIN:VEVENT", f"UID:fuzz-{number}", f"DTSTART:{draw(ical_moments)}"]
        lines += draw(st.lists(_ICAL_LINES, max_size=6))
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


@st.composite
def mutated_xml(draw, seed: bytes) -> bytes:
    """A CalendarItem element with one to four of: an element dropped, repeated, moved under another,
    its text or an attribute replaced by a hostile value (dates, zones, numbers, enums), deep nesting."""
    root = ET.fromstring(seed)
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter())
        element = draw(st.sampled_from(elements))
        parents = {child: parent for parent in root.iter() for child in parent}
        op = draw(st.sampled_from(["drop", "repeat", "move", "text", "text", "attribute", "deep"]))
        parent = parents.get(element)
        if op == "drop" and parent is not None:
            parent.remove(element)
        elif op == "repeat" and parent is not None:
            parent.append(copy.deepcopy(element))
        elif op == "move" and parent is not None:
            parent.remove(element)
            draw(st.sampled_from(list(root.iter()))).append(element)
        elif op == "text":
            element.text = _xml_safe(
                draw(
                    st.one_of(
                        xml_text,
                        iso_moments,
                        st.integers(-(2**40), 2**40).map(str),
                        st.sampled_from(
                            ["true", "false", "1", "maybe", "Private", "Free", "Tentative", "Last", "Fifth"]
                        ),
                        st.sampled_from(["Tuesday", "Weekday", "Day", "Moonday", "Monday Tuesday", ""]),
                    )
                )
            )
        elif op == "attribute":
            value = _xml_safe(draw(st.one_of(zones, xml_text)))
            element.set(draw(st.sampled_from(["Id", "Name", "BodyType", "ChangeKey"])), value)
        elif op == "deep":
            child = element
            for _ in range(draw(st.sampled_from([20, 300]))):
                child = ET.SubElement(child, element.tag)
    return ET.tostring(root)
