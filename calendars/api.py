"""Appointments over REST: what the calendar widget reads and writes, and what integrators use.

Writes go through calendars.services, so the rules of the pages hold here too; an imported
private entry comes out as busy time with "Data unavailable" and nothing else (S2.5).
"""

from datetime import date, datetime, time, timedelta

from django import forms
from django.db import models
from django.db.models import Prefetch
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from timezone_field.rest_framework import TimeZoneSerializerField

from agents.models import Agent, unknown_zone_message
from calendars import ownership, privacy, services, times
from calendars.api_availability import (
    OVERLAP_RESPONSE,
    ConfirmOverlapInBody,
    default_period,
    overlap_answers,
    overlap_conflicts,
)
from calendars.formatting import entry_title, title_prefix
from calendars.models import MAX_OTHER_ATTENDEES, Appointment, CalendarSettings, EditScope
from calendars.rule_parts import written_rule_problem
from calendars.selectors import (
    calendar_appointments,
    calendar_rows,
    request_agent_ids,
    schedule_zone,
    series_exceptions,
    unknown_choices,
)
from calendars.series_words import rule_text, skipped_months
from calendars.times import zone_label
from helpdesk import permissions
from helpdesk.api_common import (
    FlagFilter,
    IdFilter,
    IdsFilter,
    KnownFields,
    KnownQueryParameters,
    MomentFilter,
    NamedChoiceField,
    Pages,
    ParameterFilterSet,
    choice_filter,
    service_errors,
)
from helpdesk.limits import SupportedDateSerializerField, SupportedDateTimeSerializerField
from helpdesk.moments import end_before_start_text
from integrations.selectors import ExternalCalendarState, entry_states, external_calendar_states
from tickets.models import Request

# The widget asks week by week; a year is plenty for any one call and keeps answers bounded.
MAX_WINDOW = timedelta(days=400)
# The widget's one answer without pages: a month view with its leading and trailing weeks.
CALENDAR_WINDOW = timedelta(days=62)


def appointment_colour(appointment: Appointment, settings: CalendarSettings, today) -> str:
    """Today's planned requests stand out (S2.3); otherwise the first technician's colour."""
    if appointment.source == Appointment.Source.PLANNED and timezone.localdate(appointment.start) == today:
        return settings.planned_today_colour
    agents = list(appointment.agents.all())
    return agents[0].colour if agents else settings.default_colour


def _one_appointment():
    """Any single appointment, recurring masters included (to edit a whole series)."""
    return Appointment.objects.select_related("schedule", "request", "action").prefetch_related(
        Prefetch("agents", queryset=Agent.objects.select_related("user")), "request__assigned_agents"
    )


def _moment_text(value, zone) -> str | None:
    """A stored moment as DRF's DateTimeField writes it: ISO 8601 in the current zone, Z for UTC."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class _MomentTexts(dict):
    """`_moment_text` in one zone, each moment written once: a week's entries share few start
    and end times (the hour, the half hour), so the group calendar converts each once."""

    def __init__(self, zone) -> None:
        super().__init__()
        self.zone = zone

    def __missing__(self, value) -> str | None:
        text = self[value] = _moment_text(value, self.zone)
        return text


def _all_day_moments(first: date, after: date, zone=None) -> tuple[str, str]:
    """An all-day entry's `start` and `end` as the API writes them: the midnights of its first day
    and of the day after its last on the reader's clock (`zone`, default the current one). RFC 5545
    3.3.4: a DATE is a calendar day, the same day on every clock; written as the stored instants
    (the technician's midnights), a reader on another clock read the day before or a noon (trial).
    `start_date`/`end_date` are the days themselves."""
    zone = zone or timezone.get_current_timezone()
    return _moment_text(times.midnight(first, zone), zone), _moment_text(times.midnight(after, zone), zone)


def _sync_target(appointment_id: int, master_id: int | None) -> int:
    """The appointment whose sync links stand for this one: a series syncs as its master."""
    return master_id or appointment_id


def calendar_items(user, start, end, **filters) -> list[dict]:
    """The items of `AppointmentSerializer` for every entry in a window, made from plain values
    (calendars.selectors.calendar_rows) in a fixed number of queries: the calendar widget's one
    answer. Times are in the current zone (the technician's, set by AgentTimeZoneMiddleware).
    `filters` are calendar_rows' (agents, team, source, request, recurring_only)."""
    read = calendar_rows(start, end, **filters)
    settings = CalendarSettings.load()
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    can_edit = permissions.appointment_row_edit_check(user)
    can_reassign = permissions.appointment_row_edit_check(user, permissions.Verb.REASSIGN)
    assigned = {}
    if can_edit.needs_request_agents or can_reassign.needs_request_agents:
        assigned = request_agent_ids({row["request_id"] for row in read.rows if row["request_id"]})
    hidden_source, planned, work = Appointment.Source.EXTERNAL, Appointment.Source.PLANNED, Appointment.Source.ACTION
    moment = _MomentTexts(zone)
    external = external_calendar_states(read.sync_targets) if read.rows else {}
    # Per-row work done once where it can be (issue 14, 300 technicians x a week): the permission
    # answers when they do not depend on the row, and the title's prefix per source.
    edit_all, reassign_all = can_edit.every_shown_row, can_reassign.every_shown_row
    prefixes = {source: title_prefix(source) for source in Appointment.Source.values}
    colours, default_colour = read.colours, settings.default_colour
    items = []
    append = items.append
    for row in read.rows:
        agent_ids = row["agent_ids"]
        source = row["source"]
        hidden = row["private"] and source == hidden_source
        if source == planned and row["start"].astimezone(zone).date() == today:
            colour = settings.planned_today_colour
        else:
            colour = colours[agent_ids[0]] if agent_ids else default_colour
        start_date, end_date = row["start_date"], row["end_date"]
        if row["all_day"] and start_date and end_date:
            start_text, end_text = _all_day_moments(start_date, end_date, zone)
        else:
            start_text, end_text = moment[row["start"]], moment[row["end"]]
        if edit_all and reassign_all:
            editable = reassign = not hidden
        else:
            target = {
                "hidden": hidden,
                "agent_ids": frozenset(agent_ids),
                "request_agent_ids": assigned.get(row["request_id"]),
                # An entry of logged work is judged as its Action (helpdesk.permissions).
                "work_agent_id": row["action__agent_id"] if source == work else None,
            }
            editable = not hidden if edit_all else can_edit(**target)
            reassign = editable and (not hidden if reassign_all else can_reassign(**target))
        master_id = row["master_id"]
        sync_target = _sync_target(row["id"], master_id)
        append(
            {
                "id": row["id"],
                "subject": permissions.DATA_UNAVAILABLE if hidden else row["subject"],
                "title": permissions.DATA_UNAVAILABLE if hidden else prefixes.get(source, "") + row["subject"],
                "note": "" if hidden else row["note"],
                "location": "" if hidden else row["location"],
                "start": start_text,
                "end": end_text,
                "all_day": row["all_day"],
                "start_date": start_date.isoformat() if start_date else None,
                "end_date": end_date.isoformat() if end_date else None,
                "agents": agent_ids,
                "other_attendees": [] if hidden else row["other_attendees"],
                "source": source,
                "request": None if hidden else row["request_id"],
                "part": row["part"],
                "action": row["action_id"],
                "private": row["private"],
                "busy": row["busy"],
                "reminder_minutes": row["reminder_minutes"],
                "no_reminder": row["no_reminder"],
                "master": master_id,
                "is_recurring": master_id is not None,
                "is_cancelled": row["is_cancelled"],
                "data_unavailable": hidden,
                "colour": colour,
                "can_edit": editable,
                "can_reassign": reassign and not ownership.keeps_technicians(source),
                # Most entries have no link: no lines to pick (entry_states would give none).
                "external_calendars": entry_states(
                    external, target=sync_target, agent_ids=agent_ids, cancelled=row["is_cancelled"], entry=row["id"]
                )
                if sync_target in external or row["id"] in external
                else [],
                "sequence": row["sequence"],
                "created_at": _moment_text(row["created_at"], zone),
                "updated_at": _moment_text(row["updated_at"], zone),
                # No masters here (their occurrences stand for them): no rule, no exceptions.
                "recurrence": None,
                "time_zone": None,
                "cancelled_starts": None,
                "moved_occurrences": None,
                "dropped_exceptions": None,
                "rule_warnings": None,
            }
        )
    return items


class SeriesRuleField(serializers.CharField):
    """`recurrence`: written as RRULE text, read from the appointment itself (a master's rule,
    calendars.series_words.rule_text; null for anything else)."""

    def get_attribute(self, instance: Appointment) -> Appointment:
        return instance

    def to_representation(self, appointment: Appointment) -> str | None:
        if not Appointment.schedule.is_cached(appointment):
            return None  # lists hold no masters and load no schedules
        return rule_text(appointment)

    def to_internal_value(self, data) -> str:
        """The rule as written; refused (400 on this field) when it combines parts RFC 5545 3.3.10
        forbids with its FREQ (calendars.rule_parts.written_rule_problem), unless it is the
        series' own rule sent back (a PUT of what was read: an imported rule is kept as given)."""
        text = super().to_internal_value(data)
        instance = getattr(self.parent, "instance", None)
        own = instance is not None and instance.is_recurring_master and rule_text(instance) == text
        problem = None if own else written_rule_problem(text)
        if problem:
            raise serializers.ValidationError(problem)
        return text


@extend_schema_field({"type": "string", "nullable": True, "example": "Europe/Amsterdam"})
class SeriesZoneField(TimeZoneSerializerField):
    """`time_zone`: written as an IANA name on create, read from the appointment itself (a timed
    master's schedule zone; null for anything else, as `recurrence`, and for an all-day master,
    whose days are the same on every clock: RFC 5545 3.3.4 DATE values carry no zone)."""

    def get_attribute(self, instance: Appointment) -> Appointment:
        return instance

    def to_representation(self, appointment: Appointment) -> str | None:
        if not (Appointment.schedule.is_cached(appointment) and appointment.is_recurring_master):
            return None  # lists hold no masters and load no schedules
        if appointment.all_day:
            return None  # trial F9: its stored zone (its technician's midnights) is no clock it repeats on
        return zone_label(schedule_zone(appointment.schedule))

    def to_internal_value(self, data) -> object:
        # A series on its organiser's own VTIMEZONE (no IANA zone matches it) reads as that block's
        # name; a PUT of what was read gives it back: kept, as no zone given (null).
        instance = getattr(self.parent, "instance", None)
        own = isinstance(instance, Appointment) and instance.is_recurring_master and instance.schedule.zone_block
        if own and data == zone_label(schedule_zone(instance.schedule)):
            return None
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:  # name the value given, and its spelling if only the case differs
            raise serializers.ValidationError(unknown_zone_message(data)) from None


class RuleWarningSerializer(serializers.Serializer):
    """One thing a valid rule does that its writer may not expect (`AppointmentSerializer.rule_warnings`)."""

    code = serializers.ChoiceField(choices=["skipped_months"])
    message = serializers.CharField()
    months = serializers.ListField(
        child=serializers.CharField(),
        help_text="The months of the series' first year without an occurrence on the rule's day, as YYYY-MM.",
    )
    suggested_recurrence = serializers.CharField(
        allow_null=True,
        help_text="The rule on the last day of every month (BYMONTHDAY=-1), when that is likely what was meant.",
    )


class MovedOccurrenceSerializer(serializers.Serializer):
    """One occurrence moved on its own (the schema of `moved_occurrences`)."""

    id = serializers.IntegerField(allow_null=True)
    original_start = serializers.DateTimeField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class ExternalCalendarStateSerializer(serializers.Serializer):
    """One technician's external calendar and this appointment (integrations.selectors)."""

    agent = serializers.IntegerField(help_text="The technician's id.")
    calendar = serializers.CharField(help_text="The name of the connection of that technician's calendar.")
    state = serializers.ChoiceField(
        choices=ExternalCalendarState.choices,
        help_text="`waiting`: policy Ask, the technician has not answered yet; `declined`: they keep it off "
        "their calendar; `paused`: their calendar's sync is paused, it is sent when resumed; `sending`: "
        "approved or changed, the push is on its way; `failing`: its sync fails "
        "and is retried; `on_calendar`: on their calendar as the helpdesk has it.",
    )
    label = serializers.CharField(help_text="The state in words, as the pages show it.")


class AppointmentListSerializer(serializers.ListSerializer):
    """Reads the external calendar states of a whole page in one query, not one per entry."""

    def to_representation(self, data):
        appointments = list(data.all() if isinstance(data, models.manager.BaseManager) else data)
        self.context["external_calendars"] = external_calendar_states(
            _sync_target(a.pk, a.master_id) for a in appointments
        )
        return super().to_representation(appointments)


class DateOrDateTimeField(SupportedDateTimeSerializerField):
    """An appointment's start or end: a date and time in ISO 8601, or a date alone ("2026-03-02",
    its midnight) for an all-day entry. Read by calendars.times.parse_moment, the pages' reading
    too: it keeps the clock it was written on (its offset, else the caller's), so an all-day
    entry's day is the date as written, never re-read on another clock (review fault 4)."""

    def to_internal_value(self, value) -> datetime:
        if isinstance(value, date):  # a datetime too: read as its text would be
            value = value.isoformat()
        if not isinstance(value, str):
            raise serializers.ValidationError(
                f"Give a date and time as ISO 8601 text, for example {times.EXAMPLE_MOMENT}+01:00."
            )
        try:
            return times.parse_moment(value, timezone.get_current_timezone())
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class AppointmentSerializer(KnownFields, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateOrDateTimeField,
        models.DateField: SupportedDateSerializerField,
    }
    agents = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Agent.objects.filter(is_active=True), allow_empty=False
    )
    other_attendees = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=MAX_OTHER_ATTENDEES
    )
    request = serializers.PrimaryKeyRelatedField(queryset=Request.objects.all(), required=False, allow_null=True)
    reminder_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=40320)
    is_recurring = serializers.SerializerMethodField(
        help_text="Part of a recurring series: one of its occurrences (`master` set), or, read on its own, "
        "the series' master."
    )
    title = serializers.SerializerMethodField(
        help_text='What calendars show: the subject, with "Work logged: " before an action\'s (the work done, '
        'told apart from the planned request of the same subject); "Data unavailable" for a hidden entry.'
    )
    data_unavailable = serializers.SerializerMethodField(help_text="An imported private entry: only its time is shown.")
    colour = serializers.SerializerMethodField()
    can_edit = serializers.SerializerMethodField()
    can_reassign = serializers.SerializerMethodField(
        help_text="May the user give it to other technicians? Never for an imported entry, which stays with its "
        "technician (PATCH of its agents: 400)."
    )
    external_calendars = serializers.SerializerMethodField(
        help_text="Per technician with a connected external calendar: does the appointment wait for their "
        "approval (policy Ask), did they decline it, or is it on their calendar? Technicians not listed have "
        "no connected calendar or policy Never. An occurrence answers for its series, which syncs as one entry."
    )
    confirm_overlap = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text=(
            "A JSON body field, not a query parameter: save even if the time overlaps other busy entries "
            "or leaves a technician's working hours (else 409 naming them)."
        ),
    )
    recurrence = SeriesRuleField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=1000,
        help_text=(
            "A series' rule: an RRULE (RFC 5545 3.3.10, e.g. FREQ=WEEKLY;BYDAY=MO;UNTIL=20270701T000000Z). On "
            "create it makes the appointment the master of a series repeating on the wall clock of `time_zone`; "
            "the answer is the master, its occurrences are listed as entries with `master` set. Read "
            "on a series' master (null on anything else), in the form POST and PATCH take. PATCH on a master "
            "changes the rule of the whole series: occurrences cancelled or moved on their own that the new "
            "rule still gives keep their state, those it no longer gives go."
        ),
    )
    time_zone = SeriesZoneField(
        required=False,
        allow_null=True,
        help_text=(
            "A series' clock (IANA name): it repeats at the start's time on this zone's wall clock, for every "
            "technician on it (one meeting, one moment, also in the weeks their clocks change to or from summer "
            "time apart). Given on create with `recurrence`; default: your own zone, the one `start` without an "
            "offset is read on. Not for an all-day series (days are the same on every clock): null on one. Read "
            "on a timed series' master (null on anything else). PATCH on a master with another zone moves the "
            "series to that clock keeping its wall-clock times (09:00 stays 09:00, on the new clock) unless "
            "`start` is given too; its cancelled and moved occurrences and its UNTIL move with it (see "
            "`dropped_exceptions`)."
        ),
    )
    from_agent = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.all(),
        write_only=True,
        required=False,
        allow_null=True,
        help_text="PATCH or PUT, with `to_agent`: a move from this technician's calendar (a drag from their column "
        "on the group calendar), as the reassign action makes it: they are swapped for `to_agent`, the others kept. "
        "400 on `to_agent` when that technician is already on it (the move would only take this one off).",
    )
    to_agent = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.filter(is_active=True),
        write_only=True,
        required=False,
        help_text="PATCH or PUT: the technician the entry moves to (see `from_agent`; without it, they join). "
        "Not with `agents`.",
    )
    stop_repeating = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text=(
            "PATCH on a series' master: true ends the series now, as Outlook's \"end the series\": its rule gets "
            "UNTIL at the last start before now (COUNT dropped), its past occurrences stay, its later ones go. "
            "Not with `recurrence`; 400 on a series that has not begun (delete it instead)."
        ),
    )
    scope = NamedChoiceField(
        choices=EditScope.choices,
        write_only=True,
        required=False,
        default=EditScope.OCCURRENCE,
        help_text=(
            "PATCH or PUT on an occurrence of a series: what the edit applies to. `occurrence` (default): this one "
            "alone. `following`: this and the later ones: the series ends before it (its rule gets UNTIL, RFC 5545 "
            "3.3.10) and a new series with the edit starts at it, taking the later cancelled and moved occurrences; "
            "the answer is the new series' master. `all`: the whole series, a change of time as the same shift of "
            "every occurrence; the answer is the master. 400 on anything but an occurrence."
        ),
    )
    cancelled_starts = serializers.SerializerMethodField(
        help_text="On a series' master: the original starts of its occurrences cancelled on their own (RFC 5545 "
        "EXDATE), in start order; null on anything else."
    )
    dropped_exceptions = serializers.SerializerMethodField(
        help_text="The answer to a PATCH that moved a series' master (a new start): the original starts of the "
        "occurrences cancelled or moved on their own that could not move with the series, because its rule gives "
        "no occurrence at their shifted time (a new weekday under BYDAY, say); they are dropped (RFC 5545 3.8.5.1, "
        "3.8.4.4). Every other exception moves with the series by the same wall-clock shift. Empty when none was "
        "dropped; null in any other answer."
    )
    rule_warnings = serializers.SerializerMethodField(
        help_text="The answer to a POST or PATCH that gave `recurrence`: what the (valid, saved) rule does that its "
        "writer may not expect. `skipped_months`: a monthly rule on the 29th, 30th or 31st has no occurrence in "
        "the months without that day (RFC 5545 3.3.10 ignores such days), named for the series' first year, "
        "with the last-day-of-the-month rule (BYMONTHDAY=-1) suggested where likely meant. Empty when none; "
        "null in any other answer."
    )
    moved_occurrences = serializers.SerializerMethodField(
        help_text="On a series' master: its occurrences moved on their own, in original start order, each with "
        "`original_start` (the start the rule gives it), `start`, `end` and `id` (null while not made yet, "
        "more than a year ahead); null on anything else."
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "subject",
            "title",
            "note",
            "location",
            "start",
            "end",
            "all_day",
            "start_date",
            "end_date",
            "agents",
            "other_attendees",
            "source",
            "request",
            "part",
            "action",
            "private",
            "busy",
            "reminder_minutes",
            "no_reminder",
            "master",
            "is_recurring",
            "is_cancelled",
            "data_unavailable",
            "colour",
            "can_edit",
            "can_reassign",
            "external_calendars",
            "sequence",
            "created_at",
            "updated_at",
            "confirm_overlap",
            "recurrence",
            "time_zone",
            "stop_repeating",
            "from_agent",
            "to_agent",
            "scope",
            "cancelled_starts",
            "moved_occurrences",
            "dropped_exceptions",
            "rule_warnings",
        ]
        read_only_fields = [
            "source",
            "part",
            "action",
            "master",
            "is_cancelled",
            "sequence",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "subject": {"max_length": 255},
            "note": {"max_length": 20000},
            # An all-day entry may be given by its days alone (validate asks for them otherwise).
            "start": {
                "required": False,
                "help_text": "ISO 8601 date and time. All-day entries (`all_day` true): the midnight of `start_date` "
                "on your clock, so its date is the entry's first day on every clock (RFC 5545 3.3.4: a DATE is a "
                "day, not an instant); written, a date (2026-12-21) or a date and time, whose date as written is "
                "taken. Read `start_date`/`end_date` for the days.",
            },
            "end": {
                "required": False,
                "help_text": "ISO 8601 date and time. All-day entries: the midnight of `end_date` (the day after the "
                "last, RFC 5545 3.6.1) on your clock; written as `start`.",
            },
            "start_date": {
                "help_text": "All-day entries: the first day (a date, the same on every clock). Written with "
                "`all_day` true, it and `end_date` are the entry's days, and `start`/`end` are not needed (if "
                "given, the days win). Null on other entries; 400 if given for one."
            },
            "end_date": {
                "help_text": "All-day entries: the day after the last (exclusive, as in RFC 5545 3.6.1: a one-day "
                "entry on 21 Dec has end_date 22 Dec). Written as read; omitted with `start_date`: one day."
            },
        }
        # The model's constraints concern planned entries and occurrences, which only services make.
        validators = []
        list_serializer_class = AppointmentListSerializer

    def _settings(self) -> CalendarSettings:
        # Loaded once per response, not once per entry.
        if "calendar_settings" not in self.context:
            self.context["calendar_settings"] = CalendarSettings.load()
        return self.context["calendar_settings"]

    def get_is_recurring(self, appointment: Appointment) -> bool:
        # A series' master too (as a single appointment is read, with its schedule): the answer to
        # the POST that made a series said false. Lists hold no masters and load no schedules.
        if appointment.master_id is not None:
            return True
        return Appointment.schedule.is_cached(appointment) and appointment.is_recurring_master

    def _exceptions(self, appointment: Appointment):
        """The master's exceptions (calendars.selectors.series_exceptions), read once for both
        fields; None for anything else (lists hold no masters and load no schedules)."""
        if not (Appointment.schedule.is_cached(appointment) and appointment.is_recurring_master):
            return None
        cache = self.context.setdefault("series_exceptions", {})
        if appointment.pk not in cache:
            cache[appointment.pk] = series_exceptions(appointment)
        return cache[appointment.pk]

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField(), allow_null=True))
    def get_cancelled_starts(self, appointment: Appointment) -> list[str] | None:
        found = self._exceptions(appointment)
        if found is None:
            return None
        zone = timezone.get_current_timezone()
        return [_moment_text(moment, zone) for moment in found.cancelled]

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField(), allow_null=True))
    def get_dropped_exceptions(self, appointment: Appointment) -> list[str] | None:
        dropped = self.context.get("dropped_exceptions", {}).get(appointment.pk)
        if dropped is None:
            return None
        zone = timezone.get_current_timezone()
        return [_moment_text(moment, zone) for moment in dropped]

    @extend_schema_field(RuleWarningSerializer(many=True, allow_null=True))
    def get_rule_warnings(self, appointment: Appointment) -> list[dict] | None:
        """The warnings about the rule given in this request (a series made or its rule changed; the
        view names them in the context's "rule_given", a set of appointment ids), as
        RuleWarningSerializer dicts: one "skipped_months" warning per monthly rule that skips months
        in the series' first year (`series_words.skipped_months`, RFC 5545 3.3.10: a BYMONTHDAY a
        month lacks gives no occurrence), with the months as "YYYY-MM" on the series' wall clock and
        the same rule on each month's last day (RRULE text without "RRULE:") or None. [] when the
        rule skips nothing or the appointment is no series' master; None when no rule was given here."""
        if appointment.pk not in self.context.get("rule_given", ()):
            return None
        return [
            {
                "code": "skipped_months",
                "message": skipped.text(on_page=False),
                "months": [f"{month:%Y-%m}" for month in skipped.months],
                "suggested_recurrence": skipped.suggested_rule,
            }
            for skipped in skipped_months(appointment)
        ]

    @extend_schema_field(MovedOccurrenceSerializer(many=True, allow_null=True))
    def get_moved_occurrences(self, appointment: Appointment) -> list[dict] | None:
        found = self._exceptions(appointment)
        if found is None:
            return None
        zone = timezone.get_current_timezone()
        return [
            {
                "id": moved.id,
                "original_start": _moment_text(moved.original_start, zone),
                "start": _moment_text(moved.start, zone),
                "end": _moment_text(moved.end, zone),
            }
            for moved in found.moved
        ]

    def get_title(self, appointment: Appointment) -> str:
        if permissions.is_hidden(appointment):
            return permissions.DATA_UNAVAILABLE
        return entry_title(appointment.source, appointment.subject)

    def get_data_unavailable(self, appointment: Appointment) -> bool:
        return permissions.is_hidden(appointment)

    def get_colour(self, appointment: Appointment) -> str:
        return appointment_colour(appointment, self._settings(), self.context.setdefault("today", timezone.localdate()))

    def get_can_edit(self, appointment: Appointment) -> bool:
        return permissions.can_edit_appointment(self.context["request"].user, appointment)

    def get_can_reassign(self, appointment: Appointment) -> bool:
        return permissions.can_reassign_appointment(self.context["request"].user, appointment)

    @extend_schema_field(ExternalCalendarStateSerializer(many=True))
    def get_external_calendars(self, appointment: Appointment) -> list[dict]:
        target = _sync_target(appointment.pk, appointment.master_id)
        states = self.context.get("external_calendars")
        if states is None:  # one appointment read on its own
            states = external_calendar_states([target])
        agent_ids = [agent.pk for agent in appointment.agents.all()]
        return entry_states(
            states, target=target, agent_ids=agent_ids, cancelled=appointment.is_cancelled, entry=appointment.pk
        )

    def to_representation(self, appointment: Appointment) -> dict:
        data = super().to_representation(appointment)
        if appointment.all_day and appointment.start_date and appointment.end_date:
            data["start"], data["end"] = _all_day_moments(appointment.start_date, appointment.end_date)
        if privacy.is_hidden(appointment):
            shown = privacy.shown(appointment)
            data.update(
                subject=shown["subject"],
                note=shown["note"],
                location=shown["location"],
                other_attendees=shown["other_attendees"],
                request=shown["request_id"],
            )
        return data

    def validate(self, attrs: dict) -> dict:
        days = self._days(attrs)
        if days is not None:
            attrs["start"], attrs["end"] = days  # days, passed to the services as dates (the days win)
        elif self.instance is None:
            missing = {name: ["This field is required."] for name in ("start", "end") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        if attrs.get("no_reminder") and attrs.get("reminder_minutes") is not None:
            # Dropping either silently loses what was sent (trial item 12).
            raise serializers.ValidationError(
                {"reminder_minutes": ["Either reminder_minutes or no_reminder true, not both: send one of them."]}
            )
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            written = {name: getattr(self, "initial_data", {}).get(name) for name in ("start", "end")}
            problem = end_before_start_text(written, timezone.get_current_timezone(), read=(start, end))
            raise serializers.ValidationError({"end": [problem]})
        if self.instance is not None and "request" in attrs and attrs["request"] != self.instance.request:
            # Its request decides whose calendars and pushes it belongs to; a new entry is made there.
            raise serializers.ValidationError(
                {"request": ["An appointment stays with its request: create a new appointment on the other request."]}
            )
        if days is None and attrs.get("all_day", getattr(self.instance, "all_day", False)):
            # All-day: the days as written (RFC 5545 DATE values are the same days everywhere),
            # passed to the services as dates, never re-read on another clock (review fault 4).
            for name in ("start", "end"):
                if name in attrs:
                    attrs[name] = _day_as_written(attrs[name], exclusive_end=name == "end")
        if attrs.get("recurrence", "") is None:
            del attrs["recurrence"]  # null, as read back on anything but a master: no rule given
        if "time_zone" in attrs:
            self._check_time_zone(attrs)
        scope = attrs.get("scope", EditScope.OCCURRENCE)
        if scope != EditScope.OCCURRENCE and not (self.instance is not None and self.instance.is_occurrence):
            raise serializers.ValidationError(
                {"scope": ["Only an edit of an occurrence of a series applies to its following ones or to all."]}
            )
        if ("from_agent" in attrs or "to_agent" in attrs) and (self.instance is None or "agents" in attrs):
            problem = "A move names where from and where to: on an existing entry, without `agents`."
            raise serializers.ValidationError({name: [problem] for name in ("from_agent", "to_agent") if name in attrs})
        if "from_agent" in attrs and "to_agent" not in attrs:
            raise serializers.ValidationError({"to_agent": ["Name the technician the entry moves to."]})
        if attrs.get("stop_repeating") and self.instance is None:
            raise serializers.ValidationError(
                {"stop_repeating": ["Only a series' master stops repeating (PATCH it on the series)."]}
            )
        return attrs

    def _days(self, attrs: dict) -> tuple[date, date] | None:
        """An all-day entry's (first day, day after the last) from `start_date` and `end_date`
        (taken out of `attrs`), or None when neither is given. On anything but an all-day entry
        they are refused (400 naming them), never dropped (trial fault 8); null is "not given"."""
        given = {name: attrs.pop(name) for name in ("start_date", "end_date") if name in attrs}
        given = {name: value for name, value in given.items() if value is not None}
        if not given:
            return None
        if not attrs.get("all_day", getattr(self.instance, "all_day", False)):
            problem = "Days are for all-day entries: send `all_day` true with them, or give `start` and `end`."
            raise serializers.ValidationError({name: [problem] for name in given})
        first = given.get("start_date", getattr(self.instance, "start_date", None))
        if first is None:
            raise serializers.ValidationError({"start_date": ["Give the first day with `end_date`."]})
        after = given.get("end_date")
        if after is None:
            kept = getattr(self.instance, "start_date", None), getattr(self.instance, "end_date", None)
            # A new first day alone: one day, or on an entry the same number of days as it had.
            after = first + (kept[1] - kept[0] if all(kept) and "end_date" not in given else timedelta(days=1))
        if after <= first:
            raise serializers.ValidationError(
                {"end_date": ["`end_date` is the day after the last (RFC 5545 3.6.1): give a day after `start_date`."]}
            )
        return first, after

    def _check_time_zone(self, attrs: dict) -> None:
        """A zone is a new series' (with `recurrence`), or a timed master's (its own: a PUT of what
        was read; another: its new clock, `services.edit_appointment`); null is "none given".
        Anything else is refused, never dropped."""
        zone = attrs["time_zone"]
        if zone is None:
            del attrs["time_zone"]
            return
        if self.instance is None:
            if not (attrs.get("recurrence") or "").strip():
                raise serializers.ValidationError(
                    {"time_zone": ["A time zone is the clock a series repeats on: give it with `recurrence`."]}
                )
            if attrs.get("all_day"):
                raise serializers.ValidationError(
                    {"time_zone": ["An all-day series repeats on days, the same on every clock: leave out time_zone."]}
                )
            return
        if not self.instance.is_recurring_master:
            raise serializers.ValidationError(
                {"time_zone": ["Only a series has a time zone: give it with `recurrence` when creating one."]}
            )
        if zone_label(schedule_zone(self.instance.schedule)) == str(zone):
            del attrs["time_zone"]  # its own (a PUT of what was read)
        elif attrs.get("all_day", self.instance.all_day):
            raise serializers.ValidationError(
                {"time_zone": ["An all-day series repeats on days, the same on every clock: leave out time_zone."]}
            )


def _day_as_written(moment: datetime, *, exclusive_end: bool) -> date:
    """The day an all-day `start` or `end` names on the writer's own clock: `moment` as
    DateOrDateTimeField read it (on the clock it was written on); an `end` after that day's
    midnight covers the day, as DTEND is exclusive (RFC 5545 3.6.1)."""
    day = moment.date()
    if exclusive_end and moment.time() != time.min:
        day += timedelta(days=1)
    return day


def _work_log_refusal(appointment: Appointment) -> str:
    """The 403 text for an entry of logged work ("" for any other entry)."""
    if appointment.source != Appointment.Source.ACTION:
        return ""
    return (
        "This entry is logged work: only the technician who did the work or a coordinator may "
        "change or remove it (it changes the work log)."
    )


def _reassign_refusal(appointment: Appointment) -> str:
    if appointment.source == Appointment.Source.ACTION:
        return (
            "This entry is logged work: it stays with the technician who did the work; only a "
            "coordinator may give it to another."
        )
    return "You may not put this appointment on other technicians' calendars."


class ReassignSerializer(KnownFields, serializers.Serializer):
    from_agent = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.all(), required=False, allow_null=True, help_text="Leave empty to add a technician."
    )
    to_agent = serializers.PrimaryKeyRelatedField(queryset=Agent.objects.filter(is_active=True))
    confirm_overlap = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "A JSON body field, not a query parameter: reassign even onto busy time or outside the new "
            "technician's working hours (else 409 naming it)."
        ),
    )


class WindowForm(forms.Form):
    """The parameters' form: a window of at most MAX_WINDOW whose end is after its start (a
    reversed one is a 400 on `end`, as a body's reversed times are, not an empty answer)."""

    max_window = MAX_WINDOW

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            written = {name: self.data.get(name) for name in ("start", "end")}
            self.add_error("end", end_before_start_text(written, timezone.get_current_timezone(), read=(start, end)))
        elif start and end and end - start > self.max_window:
            self.add_error("end", f"Ask for at most {self.max_window.days} days at a time.")
        for name, problem in unknown_choices(agent_ids=data.get("agent"), team=data.get("team")).items():
            self.add_error(name, problem)
        return data


class AppointmentFilter(ParameterFilterSet):
    """The list's query parameters; calendars.selectors.calendar_appointments applies them."""

    start = MomentFilter(label="start", help_text="Entries ending after this moment (a date: its midnight).")
    end = MomentFilter(label="end", help_text="Entries starting before this moment.")
    agent = IdsFilter(label="agent", help_text="On these technicians (repeat the parameter).")
    team = IdFilter(label="team", help_text="On members of this team.")
    source = choice_filter(Appointment.Source.choices, help_text="Of this source.")
    request = IdFilter(label="request", help_text="Of this request.")
    recurring = FlagFilter(label="recurring", help_text="Only occurrences of recurring series.")

    class Meta:
        model = Appointment
        fields: list[str] = []
        form = WindowForm

    def select(self, queryset, *, start, end, agent, team, source, request, recurring):
        return calendar_appointments(
            start,
            end,
            agents=agent,
            team=team,
            source=source or None,
            request=request,
            recurring_only=recurring,
            base=queryset,
        )


class CalendarWindowForm(WindowForm):
    """A window of at most CALENDAR_WINDOW; neither end given: today and the next six days on
    the caller's clock (api_availability.default_period); one end alone is refused."""

    max_window = CALENDAR_WINDOW

    def clean(self) -> dict:
        data = self.cleaned_data
        given = {name for name in ("start", "end") if data.get(name) or name in self.errors}
        if not given:
            data["start"], data["end"] = default_period()
        else:
            for name in sorted({"start", "end"} - given):
                self.add_error(name, f"Give {name}: the calendar shows a window (or give neither: this week).")
        return super().clean()


class CalendarFilter(AppointmentFilter):
    """The calendar widget's parameters: a window of at most CALENDAR_WINDOW (by default the
    seven days from today: today and the next six)."""

    start = MomentFilter(
        label="start",
        help_text="Entries ending after this moment. Neither start nor end: from today's midnight on your "
        "clock, seven days.",
    )
    end = MomentFilter(label="end", help_text="Entries starting before this moment.")

    class Meta(AppointmentFilter.Meta):
        form = CalendarWindowForm


@overlap_answers(AppointmentSerializer)
class AppointmentViewSet(KnownQueryParameters, ConfirmOverlapInBody, viewsets.ModelViewSet):
    """Calendar entries. Recurring masters are not listed: their occurrences stand for them."""

    serializer_class = AppointmentSerializer
    pagination_class = Pages
    filter_backends = [DjangoFilterBackend]

    def get_filterset_class(self):
        return CalendarFilter if self.action == "calendar" else AppointmentFilter

    # DjangoFilterBackend asks the view for its FilterSet by this name.
    @property
    def filterset_class(self):
        return self.get_filterset_class()

    def get_queryset(self):
        if self.action in ("list", "calendar"):
            return Appointment.objects.all()
        return _one_appointment()

    def filter_queryset(self, queryset):
        # The parameters are the list's; a single appointment (a master too) is found by id alone.
        if self.action not in ("list", "calendar"):
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(responses=AppointmentSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def calendar(self, request, format=None):
        """Everything the calendar widget shows in a window (at most CALENDAR_WINDOW), in one
        answer without pages: the same items as the list, read as plain values."""
        filterset = CalendarFilter(request.query_params, queryset=Appointment.objects.all(), request=request)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        values = filterset.form.cleaned_data
        items = calendar_items(
            request.user,
            values["start"],
            values["end"],
            agents=values["agent"],
            team=values["team"],
            source=values["source"] or None,
            request=values["request"],
            recurring_only=values["recurring"],
        )
        return Response(items)

    def perform_create(self, serializer: AppointmentSerializer) -> None:
        data = dict(serializer.validated_data)
        confirmed = data.pop("confirm_overlap", False)
        data.pop("stop_repeating", None)  # refused on create (validate)
        data.pop("scope", None)  # only "occurrence" on create (validate)
        user = self.request.user
        if not permissions.can_create_appointment(user, agents=data["agents"], request=data.get("request")):
            raise PermissionDenied("You may create appointments only on your own calendar or on your requests.")
        rule = data.pop("recurrence", "").strip()
        # A series repeats on one clock for all its technicians: the one given, else the caller's
        # (the zone `start` without an offset was read on), never the first technician's (fault 9).
        zone = data.pop("time_zone", None) or timezone.get_current_timezone()
        if rule and not data.get("all_day"):  # an all-day series: its technician's days (services)
            data["time_zone"] = zone
        # The rule is checked once, by the service (services.check_rule); its faults are this field's.
        with service_errors({"rule": "recurrence"}), overlap_conflicts():
            if rule:
                serializer.instance = services.create_recurring_appointment(
                    rule=rule, by=user, check_overlap=not confirmed, **data
                )
                self.rule_given = {serializer.instance.pk}
            else:
                serializer.instance = services.create_appointment(by=user, check_overlap=not confirmed, **data)

    def perform_update(self, serializer: AppointmentSerializer) -> None:
        """Save a PATCH or PUT through `services.edit_appointment`, as the edit page does: the
        fields, then (on a series' master) a new `recurrence` or `stop_repeating`, in one
        transaction: a 409 or 400 of either keeps nothing."""
        appointment = serializer.instance
        self._check_edit(appointment)
        data = dict(serializer.validated_data)
        data.pop("request", None)  # the same request (validate refuses another)
        confirmed = data.pop("confirm_overlap", False)
        agents = data.pop("agents", None)
        if "to_agent" in data:  # a move between technicians: the service's one rule (agents_after_move)
            move = {"from_agent": data.pop("from_agent", None), "to_agent": data.pop("to_agent")}
            with service_errors():
                agents = services.agents_after_move(appointment, **move)
        if agents is not None and not permissions.can_change_agents(self.request.user, appointment, agents):
            raise PermissionDenied(_reassign_refusal(appointment))
        scope = data.pop("scope", EditScope.OCCURRENCE)
        with service_errors(), overlap_conflicts():
            if scope != EditScope.OCCURRENCE:  # validate: on an occurrence, which has no rule to change or stop
                data.pop("stop_repeating", None)
                if data.pop("recurrence", None) is not None:
                    raise serializers.ValidationError({"recurrence": ["An occurrence follows its series' rule."]})
                serializer.instance = services.edit_occurrences(
                    appointment, scope=scope, by=self.request.user, agents=agents, check_overlap=not confirmed, **data
                )
                return
            rule = data.pop("recurrence", None)
            appointment = services.edit_appointment(
                appointment,
                by=self.request.user,
                agents=agents,
                recurrence=rule,
                stop=data.pop("stop_repeating", False),
                check_overlap=not confirmed,
                time_zone=data.pop("time_zone", None),
                **data,
            )
            serializer.instance = appointment
        if rule is not None and appointment.is_recurring_master:
            self.rule_given = {appointment.pk}
        if appointment.is_recurring_master and ("start" in data or "time_zone" in serializer.validated_data):
            self.dropped_exceptions = {appointment.pk: appointment.dropped_exceptions}

    def get_serializer_context(self) -> dict:
        # A series' move answers which exceptions it dropped (`AppointmentSerializer.dropped_exceptions`),
        # a rule given what it skips (`AppointmentSerializer.rule_warnings`).
        return {
            **super().get_serializer_context(),
            "dropped_exceptions": getattr(self, "dropped_exceptions", {}),
            "rule_given": getattr(self, "rule_given", set()),
        }

    @extend_schema(
        description="Delete an appointment. On a series' master (its id, `master` of its occurrences) this deletes "
        "the whole series with every occurrence. On an occurrence it cancels that one day only (an EXDATE, "
        "RFC 5545 3.8.5.1); the rest of the series stays. The operation takes no parameters but `format`: "
        "`?scope=all` answers 400 (delete the master to delete the series)."
    )
    def destroy(self, request, *args, **kwargs):
        """As ModelViewSet's; here for its schema description (what deleting a master deletes)."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, appointment: Appointment) -> None:
        if not permissions.can_delete_appointment(self.request.user, appointment):
            raise PermissionDenied(_work_log_refusal(appointment) or "You may not delete this appointment.")
        with service_errors():
            services.delete_appointment(appointment, by=self.request.user)

    def _check_edit(self, appointment: Appointment) -> None:
        if not permissions.can_edit_appointment(self.request.user, appointment):
            raise PermissionDenied(_work_log_refusal(appointment) or "You may not change this appointment.")

    @extend_schema(request=ReassignSerializer, responses={200: AppointmentSerializer, 409: OVERLAP_RESPONSE})
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None, format=None):
        """Move the entry from one technician's calendar to another's (drag on the group calendar)."""
        appointment = self.get_object()
        self._check_edit(appointment)
        serializer = ReassignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        from_agent = serializer.validated_data.get("from_agent")
        to_agent = serializer.validated_data["to_agent"]
        with service_errors():
            agents = services.agents_after_move(appointment, from_agent=from_agent, to_agent=to_agent)
        if not permissions.can_change_agents(request.user, appointment, agents):
            raise PermissionDenied(_reassign_refusal(appointment))
        with service_errors(), overlap_conflicts():
            appointment = services.reassign_appointment(
                appointment,
                from_agent=from_agent,
                to_agent=to_agent,
                by=request.user,
                check_overlap=not serializer.validated_data["confirm_overlap"],
            )
        appointment = _one_appointment().get(pk=appointment.pk)
        return Response(AppointmentSerializer(appointment, context=self.get_serializer_context()).data)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        return self._fresh(response, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        return self._fresh(response, status.HTTP_200_OK)

    def _fresh(self, response: Response, code: int) -> Response:
        """Answer with the stored appointment as the list shows it (colour, technicians)."""
        appointment = _one_appointment().filter(pk=response.data["id"]).first()
        if appointment is None:
            return response
        return Response(AppointmentSerializer(appointment, context=self.get_serializer_context()).data, status=code)
