"""Graph events <-> RemoteEvent: fields, times on Windows zones (through the shared zone tables of
the Exchange mapping), our marker in a singleValueExtendedProperty.

Graph v1.0 "event resource type": start/end are dateTimeTimeZone values; we ask for them in UTC
(`Prefer: outlook.timezone="UTC"`) and put them back on the wall clock of originalStartTimeZone.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.sync.normalise import normalise_text

from ..base import ProviderError, RemoteEvent
from ..exchange.mapping import iana_zone_for, windows_zone_for

# Our marker: a named string property in our own property set (the one the EWS connector uses, so an
# entry made over EWS is recognised over Graph). Graph's id form: "String {guid} Name <name>".
MARKER_PROPERTY_ID = "String {4a3b7c2e-5d1f-4e8a-9b6c-0f2d8e7a1c55} Name HelpdeskLinkId"
EXPAND_MARKER = f"singleValueExtendedProperties($filter=id eq '{MARKER_PROPERTY_ID}')"
# transactionId is derived from our marker: a retried create sends the same one (Graph de-duplicates).
TRANSACTION_NAMESPACE = uuid.UUID("8d3c6a0e-9f0b-4c57-a1b2-2f6e3c1d7a90")
OWN_PREFIX = "helpdesk-"


def transaction_id(marker: str) -> str:
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, marker))


def _zone(name: str | None) -> str:
    """IANA zone for a Graph time zone name (Windows or IANA); UTC when unknown."""
    if not name or name in ("UTC", "tzone://Microsoft/Utc"):
        return "UTC"
    iana = iana_zone_for(name)
    if iana != "UTC":
        return iana
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"


def _parse(value: dict | None) -> datetime:
    """A dateTimeTimeZone asked for in UTC (7 fraction digits allowed) as an aware UTC datetime."""
    if not value or not value.get("dateTime"):
        raise ProviderError("Microsoft 365 sent an event without start or end.")
    text = value["dateTime"].rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    moment = datetime.fromisoformat(text)
    zone = value.get("timeZone") or "UTC"
    tz = ZoneInfo(_zone(zone))
    return moment.replace(tzinfo=tz).astimezone(UTC)


def marker_of(data: dict) -> str | None:
    for prop in data.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == MARKER_PROPERTY_ID.lower():
            return prop.get("value") or None
    return None


def event_from_graph(data: dict) -> RemoteEvent:
    """A Graph event (JSON) as a RemoteEvent: times on the wall clock of originalStartTimeZone,
    all-day entries as dates with an exclusive end, an HTML body as text, `raw` the JSON as read."""
    zone = _zone(data.get("originalStartTimeZone"))
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
    return RemoteEvent(
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
        marker=marker_of(data),
        remote_id=data.get("id"),
        version=data.get("changeKey"),
        raw=json.dumps(data, sort_keys=True),
    ).trimmed()


def _time(value: datetime | date, zone: str, windows: str) -> dict:
    if isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(zone)) if zone != "UTC" else value.astimezone(UTC)
        return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": windows}
    return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": windows}


def time_values(event: RemoteEvent) -> dict[str, Any]:
    """start, end and isAllDay as Graph wants them: the wall clock of the event's zone under its
    Windows name (an all-day entry: midnight to midnight, end exclusive, per the event resource docs)."""
    zone = event.time_zone or "UTC"
    windows = windows_zone_for(zone) if zone != "UTC" else "UTC"
    if windows == "UTC":
        zone = "UTC"
    start, end = event.start, event.end
    if event.all_day:
        start = start.date() if isinstance(start, datetime) else start
        end = end.date() if isinstance(end, datetime) else end
        end = max(end, start + timedelta(days=1))
    return {"start": _time(start, zone, windows), "end": _time(end, zone, windows), "isAllDay": event.all_day}


def event_values(event: RemoteEvent, *, own: bool) -> dict[str, Any]:
    """Every helpdesk-owned field as Graph JSON; the reminder only on our own entries. Never
    attendees (no invitations are ever sent). Raises ProviderError for a series: not yet written
    over Graph."""
    if event.is_recurring:
        raise ProviderError("Recurring series are not written to Microsoft 365 yet; the series stays in the helpdesk.")
    values: dict[str, Any] = {
        "subject": event.subject,
        "body": {"contentType": "text", "content": event.body or ""},
        "location": {"displayName": event.location or ""},
        **time_values(event),
        "sensitivity": "private" if event.private else "normal",
        "showAs": "busy" if event.busy else "free",
    }
    if own:
        values["isReminderOn"] = event.reminder_minutes is not None
        if event.reminder_minutes is not None:
            values["reminderMinutesBeforeStart"] = event.reminder_minutes
    return values


def _same_times(event: RemoteEvent, base: RemoteEvent) -> bool:
    if event.all_day != base.all_day or (event.time_zone or "UTC") != (base.time_zone or "UTC"):
        return False
    return (event.start, event.end) == (base.start, base.end)


def changed_values(event: RemoteEvent, base: RemoteEvent, *, own: bool) -> dict[str, Any]:
    """Only the helpdesk-owned fields of `event` that differ from `base` (the entry as last read), as
    a PATCH body: categories, attendees, other extended properties and, on entries not ours, the
    reminder are never written."""
    full = event_values(event, own=own)
    patch: dict[str, Any] = {}
    if (event.subject or "").strip() != (base.subject or "").strip():
        patch["subject"] = full["subject"]
    if normalise_text(event.body) != normalise_text(base.body):
        patch["body"] = full["body"]
    if (event.location or "").strip() != (base.location or "").strip():
        patch["location"] = full["location"]
    if not _same_times(event, base):
        patch.update(start=full["start"], end=full["end"], isAllDay=full["isAllDay"])
    if event.private != base.private:
        patch["sensitivity"] = full["sensitivity"]
    if event.busy != base.busy:
        patch["showAs"] = full["showAs"]
    if own and event.reminder_minutes != base.reminder_minutes:
        patch["isReminderOn"] = full["isReminderOn"]
        if "reminderMinutesBeforeStart" in full:
            patch["reminderMinutesBeforeStart"] = full["reminderMinutesBeforeStart"]
    return patch


def create_body(event: RemoteEvent) -> dict[str, Any]:
    """The POST body of a new entry: our fields, our marker, a transactionId derived from it."""
    own = bool(event.marker and event.marker.startswith(OWN_PREFIX))
    body = event_values(event, own=own)
    if event.marker:
        body["transactionId"] = transaction_id(event.marker)
        body["singleValueExtendedProperties"] = [{"id": MARKER_PROPERTY_ID, "value": event.marker}]
    return body
