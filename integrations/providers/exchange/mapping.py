"""Exchange calendar items <-> RemoteEvent: fields, time zones (Windows <-> IANA) and recurrence
(RRULE <-> EWS patterns, MS-OXWSCDATA RecurrenceType), with our link id in an extended property."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchangelib import (
    CalendarItem,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
)
from exchangelib import errors as ews_errors
from exchangelib.fields import WEEKDAY_NAMES, WEEKDAYS, WeekdaysField
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from calendars.times import rule_starts
from integrations.sync.normalise import normalise_text

from ..base import (
    OWN_PROPERTY_SET,
    KeptPropertiesRefused,
    KeptProperty,
    ProviderError,
    RemoteEvent,
    RemoteOccurrence,
    UnreadableEntry,
    json_template,
    kept_properties,
    occurrence_texts_to_write,
    own_text_key,
    reads_untrusted,
    refuse_extra_dates,
    refuse_own_zone,
    unknown_zone_note,
)
from ..ms_recurrence import MicrosoftPattern, pattern_for, range_parts, rrule_for
from ..zones import iana_zone_for, windows_zone_for  # noqa: F401 (read here by exchange/__init__ and tests)

EWS_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # exchangelib numbers them 1..7 from Monday
WEEK_NUMBERS = {1: 1, 2: 2, 3: 3, 4: 4, -1: 5}  # RRULE position -> exchangelib week_number (5 = Last)


class HelpdeskLinkId(ExtendedProperty):
    """Our link id on every entry we create: how a retried create finds the first one, and how a
    pull recognises our own entries (a named property in our own property set)."""

    property_set_id = OWN_PROPERTY_SET
    property_name = "HelpdeskLinkId"
    property_type = "String"


MARKER_FIELD = "helpdesk_link_id"
if MARKER_FIELD not in {f.name for f in CalendarItem.FIELDS}:
    CalendarItem.register(MARKER_FIELD, HelpdeskLinkId)

ITEM_FIELDS = (
    "subject",
    "body",
    "location",
    "start",
    "end",
    "is_all_day",
    "sensitivity",
    "legacy_free_busy_status",
    "reminder_is_set",
    "reminder_minutes_before_start",
    "_start_timezone",
    "_end_timezone",
    "recurrence",
    "modified_occurrences",
    "deleted_occurrences",
    "type",
    "my_response_type",  # "Decline": the mailbox declined it (RemoteEvent.declined)
    "categories",  # not the helpdesk's: kept as `raw`, for the new half of a split (item_values)
    MARKER_FIELD,
)


# CalendarItem's fields are process-global: two threads' first reads (a threads or gevent pool) must not
# both register one field (exchangelib refuses the second).
_REGISTER_LOCK = threading.Lock()


def kept_fields() -> list[tuple[str, KeptProperty]]:
    """The CalendarItem fields of the other tools' extended properties a split's new half keeps
    (`base.kept_properties`, SYNC_KEPT_EXTENDED_PROPERTIES; EWS returns an extended property only
    when asked for by its t:ExtendedFieldURI), each built and registered on CalendarItem, once per
    process under a lock, the first time it is named: [(field name, property)]. Raises
    KeptPropertiesRefused (ImproperlyConfigured and ProviderError) as `kept_properties`, and for a
    value exchangelib refuses (its message, naming the value)."""
    fields = [("kept_" + hashlib.sha256(prop.id.lower().encode()).hexdigest()[:16], prop) for prop in kept_properties()]
    with _REGISTER_LOCK:
        registered = {f.name for f in CalendarItem.FIELDS}
        for name, prop in fields:
            if name in registered:
                continue
            attrs: dict[str, Any] = {"property_type": prop.type}
            if prop.tag is not None:
                attrs["property_tag"] = prop.tag
            else:
                attrs["property_set_id"] = prop.property_set
                attrs["property_name" if prop.name else "property_id"] = prop.name or prop.number
            try:
                CalendarItem.register(name, type("KeptProperty", (ExtendedProperty,), attrs))
            except (ValueError, TypeError) as error:  # exchangelib's InvalidEnumValue is a ValueError
                raise KeptPropertiesRefused(
                    f"SYNC_KEPT_EXTENDED_PROPERTIES: {prop.id!r} is refused by Exchange's client: {error}"
                ) from error
            registered.add(name)
    return fields


def item_fields() -> tuple[str, ...]:
    """The fields every read of an item asks for: ITEM_FIELDS and the kept extended properties."""
    return (*ITEM_FIELDS, *(name for name, _ in kept_fields()))


OCCURRENCE_FIELDS = ("subject", "body", "location", "start", "end", "original_start", "is_all_day", "_start_timezone")


# --- time zones: Exchange names Windows zones, the helpdesk IANA ones (providers/zones.py) ----------


def ews_zone(iana: str) -> EWSTimeZone:
    """The EWSTimeZone for an IANA zone; UTC for a zone Exchange has no Windows id for."""
    try:
        return EWSTimeZone(iana)
    except (ews_errors.UnknownTimeZone, ZoneInfoNotFoundError, ValueError):
        # A zone with no Windows counterpart: Exchange cannot hold it, so the wall clock goes in UTC.
        return EWSTimeZone("UTC")


# --- mapping: RemoteEvent <-> CalendarItem ---------------------------------------------------------


def from_ews(value: datetime, zone: str) -> datetime:
    """An aware stdlib datetime on the zone's wall clock."""
    utc = value.astimezone(EWSTimeZone("UTC"))
    plain = datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, tzinfo=UTC)
    return plain.astimezone(ZoneInfo(zone))


def _ews_date(value: date) -> EWSDate:
    return EWSDate(value.year, value.month, value.day)


def _to_ews(value: datetime, tz: EWSTimeZone) -> EWSDateTime:
    """`value` (aware) on `tz`'s clock as exchangelib sends it (xs:dateTime with its offset).

    Through UTC: EWSDateTime.from_datetime keeps the wall clock but drops PEP 495's `fold`, so the
    second 02:30 of an autumn night (fold=1) would go out as the first (+02:00, an hour early)."""
    return EWSDateTime.from_datetime(value.astimezone(UTC)).astimezone(tz)


def plain_text(body: Any) -> str:
    """Body as plain text: Outlook writes HTML, the helpdesk keeps text."""
    if not body:
        return ""
    if type(body).__name__ == "HTMLBody":
        return normalise_text(str(body), is_html=True)
    return str(body)


def occurrence_from(occ: Any, event: RemoteEvent) -> RemoteOccurrence:
    """A ModifiedOccurrences entry (t:OccurrenceInfoType: times only) of `event`'s series, on the
    series' wall clock; days for an all-day series."""
    zone = event.time_zone
    override = RemoteOccurrence(
        original_start=from_ews(occ.original_start, zone), start=from_ews(occ.start, zone), end=from_ews(occ.end, zone)
    )
    if event.all_day:
        override.original_start = override.original_start.date()
        override.start, override.end = override.start.date(), override.end.date()
    return override


@reads_untrusted("Exchange")
def event_from_item(item: CalendarItem, *, unknown_zone: str | None = None) -> RemoteEvent:
    """A CalendarItem (single or RecurringMaster, fetched with ITEM_FIELDS) as a RemoteEvent: times
    on the wall clock of its StartTimeZone, all-day ends made exclusive, the HTML body as text, the
    pattern as an RRULE with DeletedOccurrences as exdates and ModifiedOccurrences as overrides.

    `unknown_zone`: the StartTimeZone Id exchangelib could not map ("" when not known), for an item
    it left without a zone. EWS sends the times in UTC, so they stay exact; only the wall clock a
    series repeats on is read as UTC, which the entry's notes say."""
    start_tz = item._start_timezone
    zone = start_tz.key if start_tz is not None else "UTC"
    for name in ("start", "end"):
        if getattr(item, name) is None:
            # exchangelib answers None for an xs:dateTime it cannot read (hour 25), keeping no text.
            raise UnreadableEntry(f"its {name.title()} is missing or not a date or time that exists")
    if item.is_all_day:
        # exchangelib gives all-day entries as dates with an inclusive end; ours is exclusive.
        start, end = _as_date(item.start), _as_date(item.end)
        start = date(start.year, start.month, start.day)
        end = date(end.year, end.month, end.day) + timedelta(days=1)
    else:
        start, end = from_ews(item.start, zone), from_ews(item.end, zone)
    event = RemoteEvent(
        start=start,
        end=end,
        subject=item.subject or "",
        body=plain_text(item.body),
        location=item.location or "",
        all_day=bool(item.is_all_day),
        private=item.sensitivity in ("Private", "Confidential"),
        busy=item.legacy_free_busy_status != "Free",
        reminder_minutes=item.reminder_minutes_before_start if item.reminder_is_set else None,
        time_zone=zone,
        zone_named=start_tz is not None and not item.is_all_day,  # else "UTC": no zone read
        marker=getattr(item, MARKER_FIELD, None) or None,
        remote_id=item.id,
        version=item.changekey,
        declined=getattr(item, "my_response_type", None) == "Decline",
        raw=kept_values(item),
    )
    if item.recurrence is not None:
        event.rrules = [_rrule_from_recurrence(item.recurrence, event)]
        for deleted in item.deleted_occurrences or ():
            original = from_ews(deleted.start, zone)
            event.exdates.append(original.date() if event.all_day else original)
        event.overrides = [occurrence_from(occ, event) for occ in item.modified_occurrences or ()]
    if unknown_zone is not None and start_tz is None and not item.is_all_day:
        event.notes.append(unknown_zone_note(unknown_zone or "(not named)", "as UTC"))
    return event.trimmed()


def kept_values(item: CalendarItem) -> str | None:
    """What the item holds that the helpdesk does not model and a create can carry, as `raw` (JSON:
    {"categories": [...], "extended": {property id: value}}: Outlook's colour categories,
    MS-OXWSCORE item:Categories, and the other tools' extended properties named in
    SYNC_KEPT_EXTENDED_PROPERTIES, `kept_fields`, by Graph's id form, values as `_to_json`
    writes them); None when it holds none. Other extended properties are not read: EWS returns
    one only when asked for by its property set and name (t:ExtendedFieldURI)."""
    kept: dict[str, Any] = {}
    categories = [str(name) for name in getattr(item, "categories", None) or ()]
    if categories:
        kept["categories"] = categories
    extended = {}
    for name, prop in kept_fields():
        value = getattr(item, name, None)
        try:
            if value is not None:
                extended[prop.id] = _to_json(value)
        except (ValueError, TypeError, OverflowError):
            continue  # a value in a form not foreseen: not kept, and the entry is still read
    if extended:
        kept["extended"] = extended
    return json.dumps(kept) if kept else None


def _to_json(value: Any) -> Any:
    """An extended property's value (exchangelib's Python type: str, int, bool, Decimal, bytes,
    EWSDateTime, or a list of one of them) as JSON: bytes in base64, a time in ISO 8601 UTC, a
    Decimal as its text (`_from_json` reads them back by the property's type)."""
    if isinstance(value, list | tuple):
        return [_to_json(one) for one in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.astimezone(EWSTimeZone("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_json(prop: KeptProperty, value: Any) -> Any:
    """A value `_to_json` wrote, back as exchangelib wants it for `prop`'s type. ValueError or
    TypeError for one that is not."""
    base = prop.type[: -len("Array")] if prop.multi else prop.type
    if prop.multi:
        if not isinstance(value, list):
            raise TypeError("a multi-valued property keeps a list")
        return [_from_json(dataclasses.replace(prop, type=base), one) for one in value]
    if base == "Binary":
        return base64.b64decode(str(value), validate=True)
    if base == "SystemTime":
        moment = datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ")
        return EWSDateTime(*moment.timetuple()[:6], tzinfo=EWSTimeZone("UTC"))
    if base in ("Double", "Float", "ApplicationTime"):
        return Decimal(str(value))
    if base == "Boolean":
        if not isinstance(value, bool):
            raise TypeError("not a boolean")
        return value
    if base in ("Integer", "Long", "Short", "Currency"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("not a whole number")
        return value
    return str(value)


def item_values(event: RemoteEvent) -> dict[str, Any]:
    """exchangelib field values (ITEM_FIELDS names) for an event: the inverse of event_from_item.
    On a create from a template (`event.raw`: the old half of a split series as last read,
    `kept_values`), its categories and the other tools' extended properties too (never our marker:
    the new half's own), as Outlook's own "this and following" keeps them on the new series.
    Raises ProviderError for a repeat rule Exchange cannot hold, or extra dates (RDATE)."""
    refuse_extra_dates(event, "Exchange")
    refuse_own_zone(event, "Exchange")
    tz = ews_zone(event.time_zone)
    if event.all_day:
        start = _as_date(event.start)
        end = max(_as_date(event.end) - timedelta(days=1), start)  # exchangelib adds the day back
        start_value: Any = EWSDate(start.year, start.month, start.day)
        end_value: Any = EWSDate(end.year, end.month, end.day)
    else:
        start_value, end_value = _to_ews(event.start, tz), _to_ews(event.end, tz)
    values = {
        "subject": event.subject or None,
        "body": event.body or None,
        "location": event.location or None,
        "start": start_value,
        "end": end_value,
        "is_all_day": event.all_day,
        "sensitivity": "Private" if event.private else "Normal",
        "legacy_free_busy_status": "Busy" if event.busy else "Free",
        "reminder_is_set": event.reminder_minutes is not None,
        "reminder_minutes_before_start": event.reminder_minutes or 0,
        "_start_timezone": tz,
        "_end_timezone": tz,
        "recurrence": _recurrence_for(event, tz) if event.is_recurring else None,
        MARKER_FIELD: event.marker,
    }
    template = json_template(event.raw)
    categories = template.get("categories")
    if categories and isinstance(categories, list):
        values["categories"] = [str(name) for name in categories]
    extended = template.get("extended")
    for name, prop in kept_fields() if isinstance(extended, dict) else ():
        if prop.id in extended:
            try:
                values[name] = _from_json(prop, extended[prop.id])
            except (ValueError, TypeError):
                continue  # a value kept in another form (the property's type renamed since): left out
    return values


# What an update may write, grouped as they change together (exchangelib field names). Categories,
# attendees, other extended properties and, on entries not ours, the reminder are never written.
TIME_FIELDS = ("start", "end", "is_all_day", "_start_timezone", "_end_timezone")
REMINDER_FIELDS = ("reminder_is_set", "reminder_minutes_before_start")


def changed_fields(event: RemoteEvent, base: RemoteEvent) -> list[str]:
    """The helpdesk-owned fields of `event` that differ from `base` (the entry as last read), as
    exchangelib field names for UpdateItem's SetItemField / DeleteItemField (MS-OXWSCORE).

    Covers subject, body, location, the times (start, end, all-day, and the Windows zone they
    are on), sensitivity (private) and LegacyFreeBusyStatus (busy); the reminder and the
    recurrence are the caller's to decide. Text is compared without outer whitespace, and the
    body as the plain text Outlook's HTML reads as, so an entry whose text the helpdesk did not
    change keeps its own formatting.
    """
    fields = []
    for name in ("subject", "body", "location"):
        if (getattr(event, name) or "").strip() != (getattr(base, name) or "").strip():
            fields.append(name)
    if not _same_times(event, base):
        fields.extend(TIME_FIELDS)
    if event.private != base.private:
        fields.append("sensitivity")
    if event.busy != base.busy:
        fields.append("legacy_free_busy_status")
    return fields


def same_series(event: RemoteEvent, base: RemoteEvent) -> bool:
    """True when both are series with the same pattern (as Exchange holds it), the same cancelled
    occurrences and the same moved ones (times in UTC, subject, place, text): nothing about the
    recurrence needs writing. False for single entries, and when either pattern cannot be held."""
    if not (event.is_recurring and base.is_recurring):
        return False
    try:
        if normalised_rules(event) != normalised_rules(base):
            return False
    except ProviderError:
        return False

    def moved(side: RemoteEvent) -> set[tuple]:
        key = _utc_key
        return {
            (key(o.original_start, side), key(o.start, side), key(o.end, side), *own_text_key(o, side))
            for o in side.overrides
        }

    return set(as_utc_keys(event.exdates, event)) == set(as_utc_keys(base.exdates, base)) and moved(event) == moved(
        base
    )


def _same_times(event: RemoteEvent, base: RemoteEvent) -> bool:
    if event.all_day != base.all_day or windows_zone_for(event.time_zone) != windows_zone_for(base.time_zone):
        return False
    if event.all_day:
        return (_as_date(event.start), _as_date(event.end)) == (_as_date(base.start), _as_date(base.end))
    return (_utc_key(event.start, event), _utc_key(event.end, event)) == (
        _utc_key(base.start, base),
        _utc_key(base.end, base),
    )


def occurrence_values(
    override: RemoteOccurrence, event: RemoteEvent, have: RemoteOccurrence | None = None
) -> dict[str, Any]:
    """Field values that move or edit one occurrence of the event's series (OCCURRENCE_FIELDS names),
    for UpdateItem's SetItemField on its OccurrenceItemId: its times, and only the text that
    `occurrence_texts_to_write` names (its own text; `have`: the occurrence as last read), so an
    occurrence without text of its own keeps following the series' (MS-OXOCAL 2.2.1.44.2)."""
    tz = ews_zone(event.time_zone)
    if event.all_day:
        start, end = _as_date(override.start), max(_as_date(override.end) - timedelta(days=1), _as_date(override.start))
        values: dict[str, Any] = {"start": _ews_date(start), "end": _ews_date(end)}
    else:
        values = {"start": _to_ews(override.start, tz), "end": _to_ews(override.end, tz)}
    values.update(occurrence_texts_to_write(override, event, have))
    return values


def same_override(
    remote: RemoteOccurrence | None, wanted: RemoteOccurrence, event: RemoteEvent, have: RemoteOccurrence | None = None
) -> bool:
    """True when the occurrence as Exchange holds it (`remote`: its times; `have`: its text as last
    read) already is as wanted: times in UTC, and no text to write (`occurrence_texts_to_write`)."""
    if remote is None:
        return False
    if _utc_key(remote.start, event) != _utc_key(wanted.start, event):
        return False
    return _utc_key(remote.end, event) == _utc_key(wanted.end, event) and not occurrence_texts_to_write(
        wanted, event, have
    )


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _utc_key(value: datetime | date, event: RemoteEvent) -> datetime:
    """Comparable form of a start: dates are midnight on the event's wall clock."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(_zone_name(event)))
    return value.astimezone(UTC)


def as_utc_keys(values: Iterable[datetime | date], event: RemoteEvent) -> list[datetime]:
    """Starts as comparable UTC datetimes (dates as midnight on the event's wall clock)."""
    return [_utc_key(value, event) for value in values]


def _zone_name(event: RemoteEvent) -> str:
    return ews_zone(event.time_zone).key


# --- recurrence: RRULE <-> EWS patterns ------------------------------------------------------------


def _weekday_number(code: str) -> int:
    return EWS_WEEKDAYS.index(code) + 1


# exchangelib's weekday numbers for a relative pattern on several days (EWS DayOfWeekType: Day,
# Weekday, WeekendDay); one day is its number 1..7 from Monday.
EWS_DAY_SETS = {
    tuple(EWS_WEEKDAYS): 8,
    tuple(EWS_WEEKDAYS[:5]): 9,
    tuple(EWS_WEEKDAYS[5:]): 10,
}


# EWS DayOfWeekType's sets by name ("Day", "Weekday", "WeekendDay") -> the days 1..7 each stands for.
EWS_DAY_SET_DAYS = {
    WEEKDAYS[number - 1]: tuple(_weekday_number(code) for code in codes) for codes, number in EWS_DAY_SETS.items()
}


class WeeklyDaysField(WeekdaysField):
    """A weekly pattern's DaysOfWeek as the EWS reference defines it ("DaysOfWeek": a list of
    DayOfWeekType): the seven day names, and the sets `Day` (every day), `Weekday` (Monday to
    Friday) and `WeekendDay` (Saturday and Sunday), which Outlook writes too. exchangelib 5.6
    enumerates only the seven names here, so it read a set as no days and the series was lost as
    unreadable (trial fault). Read: the days 1..7 (from Monday), sorted; written: day names only
    (the seven-name enum), never a set."""

    def from_xml(self, elem, account):
        text = self._get_val_from_elem(elem)
        if text is None:
            return super().from_xml(elem, account)
        days: set[int] = set()
        for name in text.split():
            if name in EWS_DAY_SET_DAYS:
                days.update(EWS_DAY_SET_DAYS[name])
            elif name in WEEKDAY_NAMES:
                days.add(WEEKDAY_NAMES.index(name) + 1)
            else:
                return super().from_xml(elem, account)  # exchangelib's warning, and no days: unreadable
        return sorted(days)


def _read_weekly_day_sets() -> None:
    """Give exchangelib's WeeklyPattern the DaysOfWeek field that reads the EWS day sets, through
    its own field registry (EWSElement.remove_field / add_field); once per process."""
    field = WeeklyPattern.get_field_by_fieldname("weekdays")
    if isinstance(field, WeeklyDaysField):
        return
    ours = WeeklyDaysField(field_uri="DaysOfWeek", enum=WEEKDAY_NAMES, is_required=True)
    ours.name = field.name
    WeeklyPattern.remove_field(field)
    WeeklyPattern.add_field(ours, insert_after="interval")


_read_weekly_day_sets()


def _relative_day(shape: MicrosoftPattern, rule: str) -> tuple[int, int]:
    """(exchangelib weekday, week_number) of a relative pattern."""
    days = tuple(sorted(shape.days, key=EWS_WEEKDAYS.index))
    if len(days) == 1:
        weekday = _weekday_number(days[0])
    elif days in EWS_DAY_SETS:
        weekday = EWS_DAY_SETS[days]
    else:
        raise ProviderError(
            f"Exchange cannot hold the repeat rule {rule!r}: a relative pattern is on one weekday, "
            "every day, weekdays or weekend days."
        )
    return weekday, WEEK_NUMBERS[shape.index]


def _recurrence_for(event: RemoteEvent, tz: EWSTimeZone) -> Recurrence:
    if len(event.rrules) != 1:
        raise ProviderError("Exchange holds one repeat rule per series; this series has several.")
    rule = event.rrules[0]
    start = event.start if event.all_day else event.start.astimezone(tz)
    start_day = _as_date(start)
    shape = pattern_for(rule, start_day, system="Exchange")
    interval = shape.interval
    if shape.kind == "daily":
        pattern: Any = DailyPattern(interval=interval)
    elif shape.kind == "weekly":
        pattern = WeeklyPattern(
            interval=interval,
            weekdays=[_weekday_number(day) for day in shape.days],
            first_day_of_week=_weekday_number(shape.first_day),
        )
    elif shape.kind == "relativeMonthly":
        weekday, week_number = _relative_day(shape, rule)
        pattern = RelativeMonthlyPattern(interval=interval, weekday=weekday, week_number=week_number)
    elif shape.kind == "absoluteMonthly":
        pattern = AbsoluteMonthlyPattern(interval=interval, day_of_month=shape.day_of_month)
    elif interval != 1:  # exchangelib's yearly patterns repeat every year
        raise ProviderError(f"Exchange cannot hold the repeat rule {rule!r}: a yearly pattern repeats every year.")
    elif shape.kind == "relativeYearly":
        weekday, week_number = _relative_day(shape, rule)
        pattern = RelativeYearlyPattern(weekday=weekday, week_number=week_number, month=shape.month)
    else:
        pattern = AbsoluteYearlyPattern(day_of_month=shape.day_of_month, month=shape.month)
    first = _ews_date(start_day)
    if shape.count:
        return Recurrence(pattern=pattern, boundary=NumberedPattern(start=first, number=shape.count))
    if shape.until:
        until = _until(shape.until, tz)
        return Recurrence(pattern=pattern, boundary=EndDatePattern(start=first, end=_ews_date(until)))
    return Recurrence(pattern=pattern, boundary=NoEndPattern(start=first))


def _until(value: str, tz: EWSTimeZone) -> date:
    if "T" in value:
        moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
        if value.endswith("Z"):
            return moment.replace(tzinfo=UTC).astimezone(tz).date()
        return moment.date()
    return datetime.strptime(value, "%Y%m%d").date()


def _pattern_of(recurrence: Recurrence) -> MicrosoftPattern:
    """exchangelib's pattern (MS-OXWSCDATA RecurrenceType) as the shared MicrosoftPattern, which
    `ms_recurrence.rrule_for` writes as an RRULE for Exchange and Microsoft 365 alike."""
    pattern = recurrence.pattern
    positions = {number: position for position, number in WEEK_NUMBERS.items()}
    sets = {number: days for days, number in EWS_DAY_SETS.items()}

    def day_code(number: int) -> str:
        if not 1 <= number <= 7:
            raise UnreadableEntry(f"Exchange's weekday {number} has no RRULE here.")
        return EWS_WEEKDAYS[number - 1]

    def relative(kind: str, interval: int, month: int | None = None) -> MicrosoftPattern:
        # Day, Weekday, WeekendDay (EWS DayOfWeekType): the week_number-th of those days.
        days = sets.get(pattern.weekday) or (day_code(pattern.weekday),)
        if pattern.week_number not in positions:
            raise UnreadableEntry(f"Exchange's week number {pattern.week_number} has no RRULE here.")
        return MicrosoftPattern(
            kind=kind, interval=interval, days=days, index=positions[pattern.week_number], month=month
        )

    if isinstance(pattern, DailyPattern):
        return MicrosoftPattern(kind="daily", interval=pattern.interval)
    if isinstance(pattern, WeeklyPattern):
        return MicrosoftPattern(
            kind="weekly",
            interval=pattern.interval,
            days=tuple(day_code(day) for day in sorted(pattern.weekdays)),
            first_day=day_code(pattern.first_day_of_week or 1),
        )
    if isinstance(pattern, RelativeMonthlyPattern):
        return relative("relativeMonthly", pattern.interval)
    if isinstance(pattern, AbsoluteMonthlyPattern):
        return MicrosoftPattern(kind="absoluteMonthly", interval=pattern.interval, day_of_month=pattern.day_of_month)
    if isinstance(pattern, RelativeYearlyPattern):  # exchangelib's yearly patterns repeat every year
        return relative("relativeYearly", 1, pattern.month)
    if isinstance(pattern, AbsoluteYearlyPattern):
        return MicrosoftPattern(
            kind="absoluteYearly", interval=1, day_of_month=pattern.day_of_month, month=pattern.month
        )
    raise UnreadableEntry(f"Exchange's {type(pattern).__name__} has no RRULE here.")


def _rrule_from_recurrence(recurrence: Recurrence, event: RemoteEvent) -> str:
    """The RRULE value (no prefix) of an Exchange recurrence: the pattern through the translation
    Microsoft 365 shares (`ms_recurrence.rrule_for`), the range as `ms_recurrence.range_parts`."""
    parts = rrule_for(_pattern_of(recurrence))
    boundary, count, end = recurrence.boundary, None, None
    if isinstance(boundary, NumberedPattern):
        count = boundary.number
    elif isinstance(boundary, EndDatePattern):
        end = boundary.end
        if isinstance(end, datetime):
            # exchangelib reads the xs:date as that day's midnight on the series' clock, as an instant.
            end = end.astimezone(ZoneInfo(_zone_name(event))).date()
    numbered = isinstance(boundary, NumberedPattern)
    zone = _zone_name(event)
    return ";".join(parts + range_parts(numbered=numbered, count=count, end=end, all_day=event.all_day, zone=zone))


def normalised_rules(event: RemoteEvent) -> list[str]:
    """Our rule as Exchange will give it back, to tell whether the remote pattern changed."""
    return [_rrule_from_recurrence(_recurrence_for(event, ews_zone(event.time_zone)), event)]


def original_starts(event: RemoteEvent) -> dict[datetime, int]:
    """UTC original start -> 1-based InstanceIndex, as Exchange counts the occurrences of the series
    (from its first, `times.rule_starts` on the series' wall clock), up to its latest cancelled or
    moved occurrence."""
    zone = ZoneInfo(_zone_name(event))
    rules = [normalised_rules(event)[0]]
    wanted = set(as_utc_keys(event.exdates, event)) | set(
        as_utc_keys([o.original_start for o in event.overrides], event)
    )
    latest = max(wanted, default=None)
    if latest is None:
        return {}
    if event.all_day:
        # From the first midnight on the series' wall clock, bounded there (`as_utc_keys`' keys).
        first = datetime.combine(_as_date(event.start), datetime.min.time())
        bound = latest.astimezone(zone).replace(tzinfo=None)
        naive = rule_starts(first, rules, until=bound, limit=None)
        starts = [moment.replace(tzinfo=zone).astimezone(UTC) for moment in naive]
    else:
        moments = rule_starts(event.start.astimezone(zone), rules, until=latest, limit=None)
        starts = [moment.astimezone(UTC) for moment in moments]
    return {start: index for index, start in enumerate(starts, start=1)}
