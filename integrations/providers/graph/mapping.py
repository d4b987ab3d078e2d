"""Graph events <-> RemoteEvent: fields, times on Windows zones (through the zone tables shared with
the Exchange connector, providers/zones.py), our marker in a singleValueExtendedProperty.

Graph v1.0 "event resource type": start/end are dateTimeTimeZone values; we ask for them in UTC
(`Prefer: outlook.timezone="UTC"`) and put them back on the wall clock of originalStartTimeZone.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calendars.times import outgoing_span, rule_starts
from integrations.sync.normalise import normalise_text

from ..base import (
    OWN_PROPERTY_SET,
    ProviderError,
    RemoteEvent,
    UnreadableEntry,
    json_template,
    kept_properties,
    occurrence_texts_to_write,
    on_entry_zone,
    read_iso,
    reads_untrusted,
    refuse_extra_dates,
    refuse_own_zone,
    unknown_zone_note,
)
from ..ms_recurrence import MicrosoftPattern, pattern_for, range_parts, rrule_for
from ..zones import windows_zone_for, zone_for_name

# Our marker: a named string property in our own property set (the one the EWS connector uses, so an
# entry made over EWS is recognised over Graph). Graph's id form: "String {guid} Name <name>".
MARKER_PROPERTY_ID = f"String {{{OWN_PROPERTY_SET}}} Name HelpdeskLinkId"
EXPAND_MARKER = f"singleValueExtendedProperties($filter=id eq '{MARKER_PROPERTY_ID}')"


def expand_properties() -> str:
    """The $expand of every read of an event: our marker and the other tools' extended properties
    a split's new half keeps (`base.kept_properties`, SYNC_KEPT_EXTENDED_PROPERTIES). Graph returns
    an extended property only when asked for by its id ("Get singleValueLegacyExtendedProperty":
    $filter with eq on id, joined here by or), single- and multi-valued ones each in their own
    collection."""
    kept = kept_properties()
    single = [MARKER_PROPERTY_ID, *(prop.id for prop in kept if not prop.multi)]
    multi = [prop.id for prop in kept if prop.multi]

    def wanted(ids: list[str]) -> str:
        return " or ".join("id eq '{}'".format(i.replace("'", "''")) for i in ids)  # OData doubles a quote

    expand = f"singleValueExtendedProperties($filter={wanted(single)})"
    return f"{expand},multiValueExtendedProperties($filter={wanted(multi)})" if multi else expand


# transactionId is derived from our marker: a retried create sends the same one (Graph de-duplicates).
TRANSACTION_NAMESPACE = uuid.UUID("8d3c6a0e-9f0b-4c57-a1b2-2f6e3c1d7a90")
OWN_PREFIX = "helpdesk-"


def transaction_id(marker: str, replaces: str | None = None, calendar_id: str = "") -> str:
    """The create's transactionId (event resource: "avoid redundant POST operations in case of
    client retries to create the same event"): a UUID 5 of our marker, so every retry of one create
    sends the same one. A create that stands in for an entry deleted in Outlook (`replaces`, its
    id) is another create: its own id, so Graph can never answer it with the deleted entry. The
    calendar it goes to (`calendar_id`) is part of it too: the documents do not say the token is
    kept per calendar, so the entry re-created in another calendar of the same mailbox after a
    relink is never answered with the old calendar's entry of the same marker."""
    key = marker if not replaces else f"{marker}\n{replaces}"
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{key}\n@{calendar_id}" if calendar_id else key))


def _zone(name: str | None) -> str:
    """IANA zone for a Graph time zone name (Windows or IANA, `zones.zone_for_name`); UTC for none
    and for a name no table holds (a custom zone, "tzone://Microsoft/Custom")."""
    return zone_for_name(name) or "UTC"


def _parse(value: dict | None) -> datetime:
    """A dateTimeTimeZone asked for in UTC (7 fraction digits allowed) as an aware UTC datetime."""
    if not value or not value.get("dateTime"):
        raise UnreadableEntry("Microsoft 365 sent an event without start or end.")
    text = value["dateTime"].rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    moment = read_iso(text, "dateTime")
    zone = value.get("timeZone") or "UTC"
    tz = ZoneInfo(_zone(zone))
    return moment.replace(tzinfo=tz).astimezone(UTC)


def marker_of(data: dict) -> str | None:
    for prop in data.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == MARKER_PROPERTY_ID.lower():
            return prop.get("value") or None
    return None


@reads_untrusted("Microsoft 365")
def event_from_graph(data: dict) -> RemoteEvent:
    """A Graph event (JSON) as a RemoteEvent: times on the wall clock of originalStartTimeZone,
    all-day entries as dates with an exclusive end, an HTML body as text, `raw` the JSON as read."""
    zone = _zone(data.get("originalStartTimeZone"))
    named = zone_for_name(data.get("originalStartTimeZone")) is not None
    start, end = _parse(data.get("start")), _parse(data.get("end"))
    all_day = bool(data.get("isAllDay"))
    if all_day:
        tz = ZoneInfo(zone)
        start_value: datetime | date = start.astimezone(tz).date()
        end_value: datetime | date = max(end.astimezone(tz).date(), start_value + timedelta(days=1))
    else:
        start_value, end_value = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    body = data.get("body") or {}
    text = body.get("content") or ""
    text = normalise_text(text, is_html=True) if body.get("contentType", "").lower() == "html" else text
    event = RemoteEvent(
        start=start_value,
        end=end_value,
        subject=data.get("subject") or "",
        body=text,
        location=(data.get("location") or {}).get("displayName") or "",
        all_day=all_day,
        private=(data.get("sensitivity") or "normal").lower() in ("private", "confidential"),
        busy=(data.get("showAs") or "busy").lower() != "free",
        reminder_minutes=data.get("reminderMinutesBeforeStart") if data.get("isReminderOn") else None,
        time_zone=zone,
        zone_named=named and not all_day,  # else "UTC" or a day's zone: what `_zone` fell back to
        marker=marker_of(data),
        remote_id=data.get("id"),
        version=data.get("changeKey"),
        raw=json.dumps(data, sort_keys=True),
        declined=((data.get("responseStatus") or {}).get("response") or "").lower() == "declined",
    )
    # The times come in UTC (Prefer: outlook.timezone), so an unknown zone only loses the wall
    # clock a series repeats on and the day of an all-day entry: they are read in UTC, and said so.
    unknown = [
        str(name)
        for name in (data.get("originalStartTimeZone"), (data.get("start") or {}).get("timeZone"))
        if name and zone_for_name(name) is None
    ]
    if unknown:
        event.notes.append(unknown_zone_note(unknown[0], "as UTC"))
    return event.trimmed()


def _time(value: datetime | date, windows: str) -> dict:
    """One dateTimeTimeZone: `value` (a date, or an aware datetime already on the clock it is sent
    on: the zone named `windows`, or UTC) as its wall-clock time under that name."""
    if isinstance(value, datetime):
        return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC" if value.tzinfo is UTC else windows}
    return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": windows}


def time_values(event: RemoteEvent) -> dict[str, Any]:
    """start, end and isAllDay as Graph wants them: the wall clock of the event's zone under its
    Windows name (an all-day entry: midnight to midnight, end exclusive, per the event resource docs).

    A dateTimeTimeZone is a wall-clock time, so one in the repeated hour of an autumn change (the
    second 02:30) would name the first as well: such a value goes with timeZone "UTC", as
    `calendars.times.outgoing_span` writes it for CalDAV (both start and end of a single entry; a
    series keeps its start on the zone its pattern repeats on, only an end in that hour in UTC).
    ProviderError for a series on its own VTIMEZONE (`refuse_own_zone`)."""
    refuse_own_zone(event, "Microsoft 365")
    zone = event.time_zone or "UTC"
    windows = windows_zone_for(zone) if zone != "UTC" else "UTC"
    if windows == "UTC":
        zone = "UTC"
    start, end = event.start, event.end
    if event.all_day:
        start = start.date() if isinstance(start, datetime) else start
        end = end.date() if isinstance(end, datetime) else end
        end = max(end, start + timedelta(days=1))
    else:
        start, end = outgoing_span(start, end, ZoneInfo(zone), repeats=event.is_recurring)
    return {"start": _time(start, windows), "end": _time(end, windows), "isAllDay": event.all_day}


def event_values(event: RemoteEvent, *, own: bool) -> dict[str, Any]:
    """Every helpdesk-owned field as Graph JSON; the reminder only on our own entries. Never
    attendees (no invitations are ever sent). Raises ProviderError for a repeat rule Graph cannot hold."""
    values: dict[str, Any] = {
        "subject": event.subject,
        "body": {"contentType": "text", "content": event.body or ""},
        "location": {"displayName": event.location or ""},
        **time_values(event),
        "sensitivity": "private" if event.private else "normal",
        "showAs": "busy" if event.busy else "free",
    }
    if event.is_recurring:
        refuse_extra_dates(event, "Microsoft 365")
        values["recurrence"] = recurrence_for(event)
    if own:
        values["isReminderOn"] = event.reminder_minutes is not None
        if event.reminder_minutes is not None:
            values["reminderMinutesBeforeStart"] = event.reminder_minutes
    return values


def _same_times(event: RemoteEvent, base: RemoteEvent) -> bool:
    if event.all_day != base.all_day:
        return False
    if not event.is_recurring and not base.is_recurring and _instants(event) == _instants(base):
        # A single entry sent in UTC (the repeated hour) is read back on UTC: the same values to send.
        return time_values(event) == time_values(base)
    if (event.time_zone or "UTC") != (base.time_zone or "UTC"):
        return False
    return (event.start, event.end) == (base.start, base.end)


def _instants(event: RemoteEvent) -> tuple:
    """start and end compared as instants: PEP 495 makes an aware time in a repeated hour unequal
    to the same instant in another zone, so aware values are put on UTC first."""
    return tuple(v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo else v for v in (event.start, event.end))


def same_pattern(event: RemoteEvent, base: RemoteEvent) -> bool:
    """Both single, or both series whose rules Graph would hold the same."""
    if event.is_recurring != base.is_recurring:
        return False
    if not event.is_recurring:
        return True
    try:
        return recurrence_for(event) == recurrence_for(base)
    except ProviderError:
        return False


def changed_values(event: RemoteEvent, base: RemoteEvent, *, own: bool) -> dict[str, Any]:
    """Only the helpdesk-owned fields of `event` that differ from `base` (the entry as last read), as
    a PATCH body: categories, attendees, other extended properties and, on entries not ours, the
    reminder are never written."""
    event = on_entry_zone(event, base)  # a single entry stays on its own zone
    full = event_values(event, own=own)
    patch: dict[str, Any] = {}
    if (event.subject or "").strip() != (base.subject or "").strip():
        patch["subject"] = full["subject"]
    if normalise_text(event.body) != normalise_text(base.body):
        patch["body"] = full["body"]
    if (event.location or "").strip() != (base.location or "").strip():
        patch["location"] = full["location"]
    if not _same_times(event, base) or not same_pattern(event, base):
        patch.update(start=full["start"], end=full["end"], isAllDay=full["isAllDay"])
        if event.is_recurring:
            patch["recurrence"] = full["recurrence"]
        elif base.is_recurring:
            patch["recurrence"] = None
    if event.private != base.private:
        patch["sensitivity"] = full["sensitivity"]
    if event.busy != base.busy:
        patch["showAs"] = full["showAs"]
    if own and event.reminder_minutes != base.reminder_minutes:
        patch["isReminderOn"] = full["isReminderOn"]
        if "reminderMinutesBeforeStart" in full:
            patch["reminderMinutesBeforeStart"] = full["reminderMinutesBeforeStart"]
    return patch


def _carried(raw: str | None, event: RemoteEvent) -> dict[str, Any]:
    """What a create keeps of its template (`RemoteEvent.raw` on a create: the old half of a split
    series as last read): categories, importance, the extended properties the read held but our
    marker (Graph returns one only when asked for by its id: the read asks for those named in
    SYNC_KEPT_EXTENDED_PROPERTIES, `expand_properties`; others cannot be read, nor kept),
    sensitivity and showAs where they read as the helpdesk's own value ("confidential" as private,
    "tentative" as busy), and the user's reminder on an entry that was not ours (an update writes
    the reminder only on our own). Never attendees: a create with attendees sends invitations."""
    template = json_template(raw)
    carried = {name: template[name] for name in ("categories", "importance") if template.get(name)}
    single = [
        prop
        for prop in template.get("singleValueExtendedProperties") or ()
        if str(prop.get("id", "")).lower() != MARKER_PROPERTY_ID.lower()
    ]
    if single:
        carried["singleValueExtendedProperties"] = single
    if template.get("multiValueExtendedProperties"):
        carried["multiValueExtendedProperties"] = template["multiValueExtendedProperties"]
    sensitivity = (template.get("sensitivity") or "normal").lower()
    if (sensitivity in ("private", "confidential")) == event.private:
        carried["sensitivity"] = sensitivity
    show_as = (template.get("showAs") or "busy").lower()
    if (show_as != "free") == event.busy:
        carried["showAs"] = template.get("showAs") or "busy"
    if not marker_of(template) and "isReminderOn" in template:
        carried["isReminderOn"] = bool(template["isReminderOn"])
        if template.get("reminderMinutesBeforeStart") is not None:
            carried["reminderMinutesBeforeStart"] = template["reminderMinutesBeforeStart"]
    return carried


def create_body(event: RemoteEvent, calendar_id: str = "") -> dict[str, Any]:
    """The POST body of a new entry in the calendar `calendar_id`: our fields, our marker, a
    transactionId derived from them (`transaction_id`).

    With `event.raw` (the old half's event on the create of a split's new half), what the helpdesk
    does not model comes from it (`_carried`), as Outlook's own "this and following" keeps it on
    the new series; its id, iCalUId and changeKey are never sent. Raises ProviderError as
    `event_values`."""
    own = bool(event.marker and event.marker.startswith(OWN_PREFIX))
    body = event_values(event, own=own)
    carried = _carried(event.raw, event)
    body.update({name: value for name, value in carried.items() if name != "singleValueExtendedProperties"})
    if event.marker:
        body["transactionId"] = transaction_id(event.marker, event.replaces, calendar_id)
        body["singleValueExtendedProperties"] = [{"id": MARKER_PROPERTY_ID, "value": event.marker}]
    body["singleValueExtendedProperties"] = [
        *(carried.get("singleValueExtendedProperties") or ()),
        *(body.get("singleValueExtendedProperties") or ()),
    ]
    if not body["singleValueExtendedProperties"]:
        del body["singleValueExtendedProperties"]
    return body


# --- series: RRULE <-> patternedRecurrence (Graph "patternedRecurrence resource type") ----------------

WEEKDAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}
CODES = {name: code for code, name in WEEKDAYS.items()}
INDEXES = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
POSITIONS = {name: number for number, name in INDEXES.items()}


def _start_date(event: RemoteEvent) -> date:
    start = event.start
    if isinstance(start, datetime):
        return start.astimezone(ZoneInfo(event.time_zone or "UTC")).date()
    return start


def recurrence_for(event: RemoteEvent) -> dict[str, Any]:
    """The series' RRULE as a patternedRecurrence (through the translation EWS shares,
    ms_recurrence.pattern_for). Raises ProviderError for more than one rule or any rule no Microsoft
    pattern says exactly."""
    if len(event.rrules) != 1:
        raise ProviderError("Microsoft 365 holds one repeat rule per series.")
    first = _start_date(event)
    shape = pattern_for(event.rrules[0], first, system="Microsoft 365")
    pattern: dict[str, Any] = {
        "type": shape.kind,
        "interval": shape.interval,
        "firstDayOfWeek": WEEKDAYS[shape.first_day],
    }
    if shape.days:
        pattern["daysOfWeek"] = [WEEKDAYS[code] for code in shape.days]
    if shape.index is not None:
        pattern["index"] = INDEXES[shape.index]
    if shape.day_of_month is not None:
        pattern["dayOfMonth"] = shape.day_of_month
    if shape.month is not None:
        pattern["month"] = shape.month
    zone = windows_zone_for(event.time_zone) if (event.time_zone or "UTC") != "UTC" else "UTC"
    rng: dict[str, Any] = {"startDate": first.isoformat(), "recurrenceTimeZone": zone}
    if shape.count:
        rng.update(type="numbered", numberOfOccurrences=shape.count)
    elif shape.until:
        until = shape.until
        if until.endswith("Z"):
            moment = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            end = moment.astimezone(ZoneInfo(event.time_zone or "UTC")).date()
        else:
            end = datetime.strptime(until[:8], "%Y%m%d").date()
        rng.update(type="endDate", endDate=end.isoformat())
    else:
        rng["type"] = "noEnd"
    return {"pattern": pattern, "range": rng}


def rrule_from(recurrence: dict, event: RemoteEvent) -> str:
    """A patternedRecurrence as an RRULE value (no prefix), UNTIL as the end date's last moment in UTC."""
    pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    kind = pattern.get("type", "")
    if kind not in ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"):
        raise UnreadableEntry(f"Microsoft 365's {kind or 'unknown'} repeat pattern has no RRULE here.")
    names = pattern.get("daysOfWeek") or ()
    # Graph's dayOfWeek is the seven days only (no set like EWS's Weekday): dropping another name
    # would repeat on fewer days than Outlook shows.
    unknown = [str(name) for name in names if str(name).lower() not in CODES]
    if unknown:
        raise UnreadableEntry(f"Microsoft 365's repeat pattern names days it does not define: {', '.join(unknown)}.")
    days = tuple(CODES[name.lower()] for name in names)
    if kind == "weekly" and not days:
        raise UnreadableEntry("Microsoft 365's weekly repeat pattern names no weekday.")
    if kind.startswith("relative") and not days:
        raise UnreadableEntry(f"Microsoft 365's {kind} repeat pattern names no weekday.")
    shape = MicrosoftPattern(
        kind=kind,
        interval=int(pattern.get("interval") or 1),
        days=days,
        # Graph's default week start is sunday; RFC 5545's is MO, so any other is written as WKST.
        first_day=CODES.get((pattern.get("firstDayOfWeek") or "sunday").lower(), "SU"),
        index=POSITIONS.get((pattern.get("index") or "first").lower(), 1),
        day_of_month=pattern.get("dayOfMonth"),
        month=pattern.get("month"),
    )
    parts = rrule_for(shape)
    end = date.fromisoformat(rng["endDate"][:10]) if rng.get("type") == "endDate" and rng.get("endDate") else None
    numbered = rng.get("type") == "numbered"
    count = rng.get("numberOfOccurrences")
    parts += range_parts(numbered=numbered, count=count, end=end, all_day=event.all_day, zone=event.time_zone or "UTC")
    return ";".join(parts)


def original_starts(event: RemoteEvent, until: datetime) -> list[datetime]:
    """The UTC starts the series' rule gives before `until` (UTC), on the wall clock of its zone
    (`times.rule_starts`), at most 2,001 of them."""
    zone = ZoneInfo(event.time_zone or "UTC")
    if isinstance(event.start, datetime):
        starts = rule_starts(
            event.start.astimezone(zone), [event.rrules[0]], until=until, until_included=False, limit=2001
        )
        return [moment.astimezone(UTC) for moment in starts]
    # A date series walks from its first midnight on the series' wall clock, bounded there.
    first = datetime.combine(event.start, datetime.min.time())
    bound = until.astimezone(zone).replace(tzinfo=None)
    starts = rule_starts(first, [event.rrules[0]], until=bound, until_included=False, limit=2001)
    return [moment.replace(tzinfo=zone).astimezone(UTC) for moment in starts]


def _utc(value: datetime | date, zone: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, datetime.min.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def original_utc(value: str) -> datetime:
    """An occurrence's originalStart (Edm.DateTimeOffset, "2026-12-01T08:00:00Z") as aware UTC."""
    text = value.replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())[:6]
        offset = tail[len("".join(ch for ch in tail if ch.isdigit())) :]
        text = f"{head}.{digits}{offset}"
    return read_iso(text, "originalStart").astimezone(UTC)


@reads_untrusted("Microsoft 365")
def series_from(master: dict, instances: list[dict], window_start: datetime, window_end: datetime) -> RemoteEvent:
    """A series master and its instances in the window (Graph lists occurrences and exceptions,
    never cancelled ones) as one RemoteEvent: the pattern as an RRULE, occurrences the rule gives in
    the window but no instance shows as exdates, exceptions as overrides."""
    from ..base import RemoteOccurrence

    event = event_from_graph(master)
    event.rrules = [rrule_from(master.get("recurrence") or {}, event)]
    zone = ZoneInfo(event.time_zone or "UTC")
    seen: set[datetime] = set()
    for instance in instances:
        if not instance.get("originalStart"):
            continue
        original = original_utc(instance["originalStart"])
        seen.add(original)
        if instance.get("type") != "exception":
            continue
        detail = event_from_graph(instance)
        override = RemoteOccurrence(
            original_start=original.astimezone(zone) if not event.all_day else original.astimezone(zone).date(),
            start=detail.start,
            end=detail.end,
            subject=detail.subject if detail.subject != event.subject else None,
            location=detail.location if detail.location != event.location else None,
            body=detail.body if detail.body != event.body else None,
            private=detail.private and not event.private,  # an exception's own `sensitivity`
        )
        event.overrides.append(override)
    duration = _utc(event.end, event.time_zone) - _utc(event.start, event.time_zone)
    for original in original_starts(event, window_end):
        if original + duration <= window_start or original in seen:
            continue
        event.exdates.append(original.astimezone(zone).date() if event.all_day else original.astimezone(zone))
    return event.trimmed()


def override_values(override, event: RemoteEvent, have=None) -> dict[str, Any]:
    """PATCH body of one occurrence (its instance id) made an exception: its times, and only the text
    `occurrence_texts_to_write` names (its own text; `have`: the occurrence as last read). Outlook
    keeps any property PATCHed on an instance as the exception's own, so an occurrence PATCHed with
    the series' subject would no longer follow a rename of the series."""
    single = RemoteEvent(start=override.start, end=override.end, all_day=event.all_day, time_zone=event.time_zone)
    values = time_values(single)
    values.pop("isAllDay")
    texts = occurrence_texts_to_write(override, event, have)
    if "subject" in texts:
        values["subject"] = texts["subject"]
    if "location" in texts:
        values["location"] = {"displayName": texts["location"]}
    if "body" in texts:
        values["body"] = {"contentType": "text", "content": texts["body"]}
    return values
