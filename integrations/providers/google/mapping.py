"""Google Calendar event resources (Calendar API v3) as RemoteEvents and back.

Field by field (developers.google.com/calendar/api/v3/reference/events):
- start/end: EventDateTime, `date` for all-day entries (end exclusive), else `dateTime` (RFC 3339)
  with the IANA `timeZone` a recurrence repeats on;
- summary, description, location; visibility "private"/"confidential" <-> private, "default"
  otherwise; transparency "transparent" <-> free, "opaque" <-> busy;
- reminders: `useDefault` or `overrides` [{method, minutes}]; a popup override is our reminder
  on entries we created, the user's own alarms elsewhere;
- recurrence: RFC 5545 lines (RRULE, EXDATE, RDATE) on the master; moved or cancelled occurrences
  are separate events with `recurringEventId` and `originalStartTime` (status "cancelled" for
  a cancelled one);
- our marker in `extendedProperties.private` (key MARKER_KEY), and the event id we choose on
  insert derived from it (base32hex, characters a-v and 0-9, 5 to 1024 long).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

from calendars import times

from ..base import (
    ProviderError,
    RemoteEvent,
    RemoteOccurrence,
    json_template,
    occurrence_texts_to_write,
    on_entry_zone,
    read_iso,
    reads_untrusted,
    refuse_own_zone,
    unknown_zone_note,
)
from ..zones import on_series_zone, series_zone_note, zone_for_name

MARKER_KEY = "helpdeskLinkId"

# Event types (Calendar API guide "Event types", events resource `eventType`). A working location
# or a birthday says where someone is or whose day it is, not that they are busy: never an
# appointment. Focus time and out of office are the technician's unavailability: imported as busy
# blocks whatever their transparency. Only "default" entries are ever written: Google restricts
# what a client may change on the others ("fromGmail" cannot even be created).
NOT_BUSY_TYPES = frozenset({"workingLocation", "birthday"})
BUSY_BLOCK_TYPES = {"focusTime": "Focus time", "outOfOffice": "Out of office"}
WRITABLE_TYPE = "default"


def event_type(resource: dict) -> str:
    """The resource's eventType; "default" when absent (events resource reference)."""
    return resource.get("eventType") or WRITABLE_TYPE


def is_not_busy_type(resource: dict) -> bool:
    """True for entries the helpdesk never imports (working locations, birthdays)."""
    return event_type(resource) in NOT_BUSY_TYPES


def is_read_only(resource: dict) -> bool:
    """True for entries of a special type, which the helpdesk never writes or deletes."""
    return event_type(resource) != WRITABLE_TYPE


def event_id_for(marker: str) -> str:
    """The event id we insert an entry of ours under: the marker in base32hex (RFC 4648 section 7),
    lower case without padding, which is the alphabet Google allows for client-chosen ids. The
    same marker always gives the same id, so a retried insert meets 409 instead of a second entry."""
    return base64.b32hexencode(marker.encode()).decode().lower().rstrip("=")


# --- times ------------------------------------------------------------------------------------


def parse_event_time(value: dict, zone: str) -> datetime | date:
    """An EventDateTime as a date (all-day) or an aware datetime on `zone`'s wall clock (the
    event's own timeZone first, when it is one zoneinfo knows)."""
    if value.get("date"):
        return read_iso(value["date"], "date", day=True)
    text = value["dateTime"]
    moment = read_iso(text.replace("Z", "+00:00") if isinstance(text, str) else text, "dateTime")
    tz = ZoneInfo(zone_for_name(value.get("timeZone")) or zone)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


def event_time(value: datetime | date, zone: str, *, all_day: bool) -> dict:
    """Our time as an EventDateTime; the other member set to null so a patch clears it. The
    timeZone is the tz database's canonical name (never a "backward" alias such as "US/Eastern")."""
    zone = times.canonical_zone_name(zone)
    if all_day:
        day = value.date() if isinstance(value, datetime) else value
        return {"date": day.isoformat(), "dateTime": None, "timeZone": None}
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(zone))
    return {"dateTime": value.astimezone(ZoneInfo(zone)).isoformat(), "timeZone": zone, "date": None}


def _utc(value: datetime | date) -> datetime | date:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def instance_id(master_id: str, original_start: datetime | date) -> str:
    """The id Google gives an occurrence of a series: "<master>_<UTC start, basic form>" for timed
    series, "<master>_<YYYYMMDD>" for all-day ones."""
    if isinstance(original_start, datetime):
        return f"{master_id}_{original_start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    return f"{master_id}_{original_start.strftime('%Y%m%d')}"


def _line_dates(line: str, zone: str, all_day: bool, unknown: list[str]) -> list[datetime | date]:
    """The dates of one EXDATE or RDATE line (RFC 5545 sections 3.8.5.1, 3.8.5.2): aware datetimes on
    `zone`'s wall clock for a timed series unless its TZID names another, dates for an all-day one.
    The TZID is read like the start's timeZone (`zones.zone_for_name`: IANA or Windows names); a name
    no table holds is appended to `unknown` and read on the series' zone (`zones.on_series_zone`).
    RDATE;VALUE=PERIOD is not read here (the caller keeps the line)."""
    name, _, values = line.partition(":")
    params = dict(part.split("=", 1) for part in name.split(";")[1:] if "=" in part)
    tzid = params.get("TZID")
    known = zone_for_name(tzid) if tzid else zone
    if known is None:
        unknown.append(tzid)

    def local(naive: datetime) -> datetime:
        return naive.replace(tzinfo=ZoneInfo(known)) if known else on_series_zone(naive, zone)

    found: list[datetime | date] = []
    for text in values.split(","):
        text = text.strip()
        if not text:
            continue
        if len(text) == 8 or params.get("VALUE") == "DATE":
            day = datetime.strptime(text[:8], "%Y%m%d").date()
            found.append(day if all_day else local(datetime(day.year, day.month, day.day)))
            continue
        moment = datetime.strptime(text.rstrip("Z"), "%Y%m%dT%H%M%S")
        moment = (moment.replace(tzinfo=UTC) if text.endswith("Z") else local(moment)).astimezone(ZoneInfo(zone))
        found.append(moment.date() if all_day else moment)
    return found


def _dates_lines(name: str, values: list[datetime | date], zone: str, all_day: bool, dtstart) -> list[str]:
    """The EXDATE or RDATE lines (`name`) for `values`: VALUE=DATE days for an all-day series, else
    local times with TZID=`zone` (RFC 5545 section 3.3.5 form 3), but a time that is the second of a
    repeated hour (and not DTSTART, `dtstart`) on a line of its own in UTC form
    (`times.outgoing_instance`): written on the wall clock it would be read as the first, an hour
    early. No line for no values."""
    if not values:
        return []
    if all_day:
        days = [(v.date() if isinstance(v, datetime) else v).strftime("%Y%m%d") for v in values]
        return [f"{name};VALUE=DATE:" + ",".join(days)]
    zone = times.canonical_zone_name(zone)  # never a "backward" alias as a TZID
    tz = ZoneInfo(zone)
    written = [
        times.outgoing_instance(
            v if isinstance(v, datetime) else datetime(v.year, v.month, v.day, tzinfo=tz), tz, dtstart=dtstart
        )
        for v in values
    ]
    local = [m.strftime("%Y%m%dT%H%M%S") for m in written if m.tzinfo is not UTC]
    exact = [m.strftime("%Y%m%dT%H%M%SZ") for m in written if m.tzinfo is UTC]
    lines = [f"{name};TZID={zone}:" + ",".join(local)] if local else []
    return lines + ([f"{name}:" + ",".join(exact)] if exact else [])


def _is_modelled(line: str) -> bool:
    """True for the `recurrence` lines the helpdesk reads and writes itself (RRULE, EXDATE and
    RDATE of dates or date-times); EXRULE, RDATE;VALUE=PERIOD and anything else are the user's."""
    name = line.partition(":")[0].upper()
    head = name.split(";")[0]
    return head in ("RRULE", "EXDATE") or (head == "RDATE" and "VALUE=PERIOD" not in name)


def _own_periods(line: str, zone: str, all_day: bool, *, since=None, before=None) -> str | None:
    """A user's `recurrence` line we do not model (`_is_modelled` False) as one half of a split
    series keeps it: an RDATE;VALUE=PERIOD line with only the periods starting at or after `since`
    and before `before` (None: no bound; RFC 5545 3.8.5.2: an RDATE is not bounded by DTSTART, COUNT
    or UNTIL, so a period left on both halves shows twice), None when no period is left; any other
    line (EXRULE: it only takes starts away, harmless on both halves) as it is. The bounds are on
    the series' footing: aware datetimes, dates for an all-day series."""
    name, _, values = line.partition(":")
    if name.split(";")[0].upper() != "RDATE":
        return line
    kept = []
    for value in values.split(","):
        if not value.strip():
            continue
        starts = _line_dates(f"{name}:{value.split('/')[0]}", zone, all_day, [])
        if starts and (since is None or starts[0] >= since) and (before is None or starts[0] < before):
            kept.append(value)
    return f"{name}:{','.join(kept)}" if kept else None


def _rule_cut(event: RemoteEvent, base: RemoteEvent) -> datetime | date | None:
    """Where `event`'s rules now end before `base`'s (the entry as last read) went on: the first
    start `base`'s rules give after `event`'s last one (the old half of a "this and following"
    split: the new half's first original start). None when `event`'s rules do not end (no COUNT or
    UNTIL), when `base`'s give nothing later, or when either cannot be walked (dateutil errors)."""
    bounded = ("COUNT=" in rule.upper() or "UNTIL=" in rule.upper() for rule in event.rrules)
    if not event.rrules or not base.rrules or not all(bounded):
        return None

    def first(value: RemoteEvent) -> datetime | date:
        start = value.start
        return start.astimezone(ZoneInfo(value.time_zone or "UTC")) if isinstance(start, datetime) else start

    far = date(9999, 1, 1) if event.all_day else datetime(9999, 1, 1, tzinfo=UTC)
    try:
        starts = times.rule_starts(first(event), event.rrules, until=far, limit=None)
        later = times.rule_starts(first(base), base.rrules, after=starts[-1], until=far, limit=1) if starts else []
    except (ValueError, TypeError, OverflowError, KeyError):
        return None
    return later[0] if later else None


# --- reading --------------------------------------------------------------------------------


def marker_of(resource: dict) -> str | None:
    return ((resource.get("extendedProperties") or {}).get("private") or {}).get(MARKER_KEY) or None


def popup_minutes(resource: dict) -> int | None:
    reminders = resource.get("reminders") or {}
    if reminders.get("useDefault", False):
        return None
    popups = [o["minutes"] for o in reminders.get("overrides") or () if o.get("method") == "popup"]
    return min(popups) if popups else None


@reads_untrusted("Google")
def event_from_resource(master: dict, exceptions: list[dict] = (), *, calendar_zone: str = "UTC") -> RemoteEvent:
    """An event resource (a single entry or a recurring master) and the exceptions of its series
    (events with recurringEventId = its id) as one RemoteEvent: EXDATE lines and cancelled
    exceptions become exdates, moved or edited exceptions overrides keyed by originalStartTime.
    `raw` is the master resource as JSON, so an update can tell what is ours.

    A timeZone zoneinfo does not know is replaced by the calendar's zone (UTC when that is unknown
    too), with a note: the dateTime values carry their offset (RFC 3339), so only the wall clock a
    series repeats on is a guess."""
    calendar_zone = zone_for_name(calendar_zone) or "UTC"
    start_zone = zone_for_name((master.get("start") or {}).get("timeZone"))
    zone = start_zone or calendar_zone
    named = [
        value.get("timeZone")
        for resource in (master, *exceptions)
        for value in (resource.get("start") or {}, resource.get("end") or {})
        if value.get("timeZone")
    ]
    unknown = next((name for name in named if zone_for_name(name) is None), None)
    all_day = bool((master.get("start") or {}).get("date"))
    block = BUSY_BLOCK_TYPES.get(event_type(master))
    subject = master.get("summary") or block or ""
    body = master.get("description") or ""
    location = master.get("location") or ""
    event = RemoteEvent(
        start=parse_event_time(master["start"], zone),
        end=parse_event_time(master["end"], zone),
        subject=subject,
        body=body,
        location=location,
        all_day=all_day,
        private=master.get("visibility") in ("private", "confidential"),
        busy=bool(block) or master.get("transparency", "opaque") != "transparent",
        reminder_minutes=popup_minutes(master),
        time_zone=zone,
        zone_named=start_zone is not None and not all_day,  # else the calendar's zone or UTC: a fallback
        marker=marker_of(master),
        remote_id=master.get("id"),
        version=master.get("etag"),
        raw=json.dumps(master, sort_keys=True),
        declined=any(
            attendee.get("self") and attendee.get("responseStatus") == "declined"
            for attendee in master.get("attendees") or ()
        ),
    )
    for line in master.get("recurrence") or ():
        upper = line.upper()
        if upper.startswith("RRULE:"):
            event.rrules.append(line[6:])
        elif upper.startswith("EXDATE"):
            unknown_tzids: list[str] = []
            event.exdates.extend(_line_dates(line, zone, all_day, unknown_tzids))
            # One line's unknown TZID costs that line's wall clock, never the series.
            event.notes += [series_zone_note(tzid, zone) for tzid in unknown_tzids]
        elif _is_modelled(line):  # RDATE: extra starts of the series
            unknown_tzids = []
            event.rdates.extend(_line_dates(line, zone, all_day, unknown_tzids))
            event.notes += [series_zone_note(tzid, zone) for tzid in unknown_tzids]
    if event.rrules:
        seen = {_utc(value) for value in event.exdates}
        for exception in sorted(exceptions, key=lambda e: json.dumps(e.get("originalStartTime"), sort_keys=True)):
            original = parse_event_time(exception["originalStartTime"], zone)
            if exception.get("status") == "cancelled":
                if not occurs_on(event, original) and _utc(original) not in {_utc(d) for d in event.rdates}:
                    continue  # names no occurrence (left by a move of the series): cancels nothing, RFC 5545 3.8.5.1
                if _utc(original) not in seen:
                    event.exdates.append(original)
                    seen.add(_utc(original))
                continue
            override = RemoteOccurrence(
                original_start=original,
                start=parse_event_time(exception["start"], zone),
                end=parse_event_time(exception["end"], zone),
            )
            if (exception.get("summary") or "") != subject:
                override.subject = exception.get("summary") or ""
            if (exception.get("description") or "") != body:
                override.body = exception.get("description") or ""
            if (exception.get("location") or "") != location:
                override.location = exception.get("location") or ""
            # An exception's own `visibility` (Events resource): private to that occurrence alone.
            override.private = not event.private and exception.get("visibility") in ("private", "confidential")
            if (override.start, override.end, override.subject, override.body, override.location, override.private) == (
                original,
                _end_of(original, event),
                None,
                None,
                None,
                False,
            ):
                continue  # an exception that is the occurrence as the rule gives it
            event.overrides.append(override)
    if unknown is not None:
        reading = "as UTC" if calendar_zone == "UTC" else f"on the calendar's zone {calendar_zone}"
        event.notes.append(unknown_zone_note(unknown, reading))
    return event.trimmed()


def _end_of(original: datetime | date, event: RemoteEvent) -> datetime | date:
    return original + (event.end - event.start)


# --- writing --------------------------------------------------------------------------------


def owned_fields(event: RemoteEvent) -> dict[str, Any]:
    """The helpdesk-owned members of an event resource for `event` (reminders excepted). ProviderError
    for an unknown zone or a series on its own VTIMEZONE (`refuse_own_zone`)."""
    refuse_own_zone(event, "Google Calendar")
    zone = event.time_zone or "UTC"
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError) as error:
        raise ProviderError(f"Unknown time zone {zone!r} on the entry.") from error
    fields: dict[str, Any] = {
        "summary": event.subject or "",
        "description": event.body or "",
        "location": event.location or "",
        "start": event_time(event.start, zone, all_day=event.all_day),
        "end": event_time(event.end, zone, all_day=event.all_day),
        "visibility": "private" if event.private else "default",
        "transparency": "opaque" if event.busy else "transparent",
    }
    if event.is_recurring:
        lines = [f"RRULE:{rule}" for rule in event.rrules]
        lines += _dates_lines("EXDATE", event.exdates, zone, event.all_day, event.start)
        lines += _dates_lines("RDATE", event.rdates, zone, event.all_day, event.start)
        fields["recurrence"] = lines
    else:
        fields["recurrence"] = None
    return fields


def reminders_for(minutes: int | None, current: dict | None = None) -> dict:
    """Our reminder as the `reminders` member, keeping the user's non-popup overrides (e-mail)."""
    kept = [o for o in ((current or {}).get("reminders") or {}).get("overrides") or () if o.get("method") != "popup"]
    popups = [] if minutes is None else [{"method": "popup", "minutes": int(minutes)}]
    return {"useDefault": False, "overrides": kept + popups}


# Members of a template resource that name, version or date that entry, or that Google sets itself
# (events resource: read-only or output-only), and its status and type: never copied to a new entry.
# conferenceData is written only with conferenceDataVersion=1, which an insert of ours does not send.
NOT_CARRIED = frozenset(
    {
        "kind",
        "etag",
        "id",
        "iCalUID",
        "recurringEventId",
        "originalStartTime",
        "sequence",
        "created",
        "updated",
        "htmlLink",
        "creator",
        "organizer",
        "hangoutLink",
        "conferenceData",
        "status",
        "eventType",
        "attendeesOmitted",
        "privateCopy",
        "locked",
    }
)


def _template(raw: str | None) -> dict:
    """The resource a create starts from (`RemoteEvent.raw` on a create: the entry of the series a
    "this and following" split ended, as last read), without what names that entry; {} for none."""
    return {name: value for name, value in json_template(raw).items() if name not in NOT_CARRIED}


def insert_body(event: RemoteEvent) -> dict:
    """The whole resource for events.insert of an entry of ours, under its derived id.

    With `event.raw` (the old half's master resource on the create of a split's new half), the body
    starts from that resource: its extendedProperties (private and shared: booking tools keep their
    ids there), colorId, attendees, source, the user's recurrence lines we do not model (EXRULE,
    period RDATEs) and its reminders stay, as Google's own "this and following" copies them; its id,
    iCalUID, etag, sequence and status are left out (`NOT_CARRIED`), our marker goes in anew and the
    helpdesk's fields (texts, times, recurrence) are written over. The reminder: ours (with the
    user's e-mail reminders) when the old half was ours, else the user's as it was, as an update
    writes it only on our own entries. Raises ProviderError as `owned_fields`."""
    template = _template(event.raw)
    owned = owned_fields(event)
    body = {**template, **{k: v for k, v in owned.items() if v is not None}}
    if owned["recurrence"] is None:
        body.pop("recurrence", None)
    else:
        # The new half of a split keeps only the user's periods from its own start on (the old
        # half keeps the earlier ones: `patch_body`).
        user = [line for line in template.get("recurrence") or () if not _is_modelled(line)]
        zone = event.time_zone or "UTC"
        kept = [own for line in user if (own := _own_periods(line, zone, event.all_day, since=event.start))]
        body["recurrence"] = [*owned["recurrence"], *kept]
    if (template.get("visibility") in ("private", "confidential")) == event.private and template.get("visibility"):
        body["visibility"] = template["visibility"]  # "public" or "confidential" where they read as ours
    body["start"] = {k: v for k, v in body["start"].items() if v is not None}
    body["end"] = {k: v for k, v in body["end"].items() if v is not None}
    if event.marker:
        body["id"] = event_id_for(event.marker)
        properties = template.get("extendedProperties") or {}
        body["extendedProperties"] = {
            **properties,
            "private": {**(properties.get("private") or {}), MARKER_KEY: event.marker},
        }
        if "reminders" not in template or marker_of(template):
            body["reminders"] = reminders_for(event.reminder_minutes, template)
    return body


def _comparable(fields: dict[str, Any], name: str):
    value = fields.get(name)
    if name in ("start", "end") and value:
        if value.get("date"):
            return ("date", value["date"])
        return ("dateTime", datetime.fromisoformat(value["dateTime"]).astimezone(UTC), value.get("timeZone"))
    if name in ("summary", "description", "location"):
        return (value or "").strip()
    return value


def patch_body(event: RemoteEvent, base: RemoteEvent, *, ours: bool, current: dict | None = None) -> dict:
    """The members of an events.patch writing only the helpdesk-owned fields of `event` that differ
    from `base` (the entry as last read); everything else stays as Google holds it. The reminder
    is written only on our own entries (`ours`), keeping the user's e-mail reminders."""
    event = on_entry_zone(event, base)  # a single entry stays on its own timeZone
    wanted, before = owned_fields(event), owned_fields(base)
    changes = {name: value for name, value in wanted.items() if _comparable(wanted, name) != _comparable(before, name)}
    if "recurrence" in changes and event.is_recurring:
        # Google replaces the whole list: keep the user's lines we do not model (EXRULE, periods).
        # A rule now ending earlier (the old half of a split) keeps only the periods before the cut.
        cut, zone = _rule_cut(event, base), event.time_zone or "UTC"
        user = [line for line in (current or {}).get("recurrence") or () if not _is_modelled(line)]
        kept = [own for line in user if (own := _own_periods(line, zone, event.all_day, before=cut))]
        changes["recurrence"] = [*changes["recurrence"], *kept]
        # The pattern repeats on the start's wall clock: send the times with it.
        changes.setdefault("start", wanted["start"])
        changes.setdefault("end", wanted["end"])
    if ours and event.reminder_minutes != base.reminder_minutes:
        changes["reminders"] = reminders_for(event.reminder_minutes, current)
    return changes


def occurrence_patch(override: RemoteOccurrence, event: RemoteEvent, have: RemoteOccurrence | None = None) -> dict:
    """An events.patch of one occurrence (by its instance id) moving or editing it: its times, and
    only the text `occurrence_texts_to_write` names (`have`: the exception as Google holds it now,
    its texts read against the series as just written), so the patch never pins the series' text
    on the occurrence."""
    zone = event.time_zone or "UTC"
    body: dict[str, Any] = {
        "start": event_time(override.start, zone, all_day=event.all_day),
        "end": event_time(override.end, zone, all_day=event.all_day),
    }
    texts = occurrence_texts_to_write(override, event, have)
    for name, member in (("subject", "summary"), ("body", "description"), ("location", "location")):
        if name in texts:
            body[member] = texts[name]
    return body


def restore_patch(event: RemoteEvent, original: datetime | date) -> dict:
    """An events.patch bringing one instance back to the occurrence the series' rule gives at
    `original`: status "confirmed" (un-cancels it), the original start, the series' length and
    the master's texts (Calendar API guide "Recurring events": instances are modified or
    restored through their own instance event)."""
    zone = event.time_zone or "UTC"
    return {
        "status": "confirmed",
        "start": event_time(original, zone, all_day=event.all_day),
        "end": event_time(_end_of(original, event), zone, all_day=event.all_day),
        "summary": event.subject or "",
        "description": event.body or "",
        "location": event.location or "",
    }


def same_override(remote: RemoteOccurrence | None, wanted: RemoteOccurrence, event: RemoteEvent) -> bool:
    """True when the exception as Google holds it (`remote`) already shows what `wanted` holds: the
    same times (UTC) and no text to write (`occurrence_texts_to_write`)."""
    if remote is None:
        return False
    return (_utc(remote.start), _utc(remote.end)) == (_utc(wanted.start), _utc(wanted.end)) and not (
        occurrence_texts_to_write(wanted, event, remote)
    )


def occurs_on(event: RemoteEvent, original: datetime | date) -> bool:
    """True when the series' rule gives an occurrence starting at `original` (dateutil, RFC 5545)."""
    if not event.rrules:
        return False
    start = event.start
    if isinstance(start, datetime):
        zone = ZoneInfo(event.time_zone or "UTC")
        first = start.astimezone(zone).replace(tzinfo=None)
        target = original.astimezone(zone).replace(tzinfo=None) if isinstance(original, datetime) else None
    else:
        first = datetime(start.year, start.month, start.day)
        target = datetime(original.year, original.month, original.day) if not isinstance(original, datetime) else None
    if target is None:
        return False
    rules = rrule.rrulestr("\n".join(f"RRULE:{r}" for r in event.rrules), dtstart=first, forceset=True, ignoretz=True)
    found = rules.after(target - timedelta(seconds=1), inc=True)
    return found == target
