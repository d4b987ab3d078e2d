"""Forms of the calendar pages; they only check input, the services write."""

import copy
import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import recurrence as recurrence_lib
from django import forms
from django.utils import timezone
from timezone_field import TimeZoneFormField

from agents.models import Agent, time_zone_names, unknown_zone_message
from calendars.models import MAX_OTHER_ATTENDEES, Appointment, EditScope, SyncPolicy
from calendars.selectors import effective_sync_policy, schedule_zone
from calendars.series_words import rule_in_words
from calendars.times import zone_label
from helpdesk.limits import SupportedDateField, SupportedDateTimeField
from helpdesk.moments import end_before_start_text
from tickets.forms import DATETIME_WIDGET, ConfirmsOverlap, active_agents, confirm_overlap_field

_WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The form's repeat choices as RRULEs (RFC 5545 3.3.10) from the start on the series' clock.
_REPEATS: dict[str, Callable[[datetime], str]] = {
    "workdays": lambda start: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "weekly": lambda start: f"FREQ=WEEKLY;BYDAY={_WEEKDAY_CODES[start.weekday()]}",
    "fortnightly": lambda start: f"FREQ=WEEKLY;INTERVAL=2;BYDAY={_WEEKDAY_CODES[start.weekday()]}",
    "monthly": lambda start: f"FREQ=MONTHLY;BYMONTHDAY={start.day}",
    # The last day of every month, 28 to 31 (RFC 5545 3.3.10: a negative BYMONTHDAY counts from
    # the end); what "monthly on the 31st" usually means, which skips the shorter months.
    "monthly_last": lambda start: "FREQ=MONTHLY;BYMONTHDAY=-1",
}


def _last_second(day: date, zone) -> datetime:
    """UNTIL for a series that ends on `day` (included) on `zone`'s clock, in UTC as RFC 5545
    asks with a zoned start."""
    return (datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) - timedelta(seconds=1)).astimezone(UTC)


def _day_of(start: datetime | date) -> date:
    """The day a start falls on (on the reader's clock, as typed), or the day itself."""
    return timezone.localtime(start).date() if isinstance(start, datetime) else start


def _rule_line(rule) -> str:
    """One rule (text, or a django-recurrence Rule) as comparable RRULE text."""
    if isinstance(rule, str):
        rule = recurrence_lib.deserialize("RRULE:" + rule, include_dtstart=False).rrules[0]
    return recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[rule]))


class AttendeeAddressesField(forms.CharField):
    """Other attendees as a person types them (the pages' forms and the admin): e-mail addresses
    separated by commas, semicolons or new lines, each checked, at most MAX_OTHER_ATTENDEES; cleans
    to the list the model keeps (Appointment.other_attendees) and shows a list as that text."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 5000)
        kwargs.setdefault("label", "Other attendees")
        kwargs.setdefault("help_text", "E-mail addresses, separated by commas; recorded, never invited.")
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def clean(self, value) -> list[str]:
        text = super().clean(value)
        addresses = [part.strip() for part in re.split(r"[,;\n]", text or "") if part.strip()]
        if len(addresses) > MAX_OTHER_ATTENDEES:
            raise forms.ValidationError(f"Give at most {MAX_OTHER_ATTENDEES} addresses.")
        validator = forms.EmailField()
        for address in addresses:
            validator.clean(address)
        return addresses

    def has_changed(self, initial, data) -> bool:
        try:
            return self.clean(data) != list(initial or [])
        except forms.ValidationError:
            return True


class KnownZoneFormField(TimeZoneFormField):
    """A zone chosen from a list, whose refusal names the value given and its tz database
    spelling when only the case differs, not "Select a valid choice"."""

    def validate(self, value) -> None:
        try:
            super().validate(value)
        except forms.ValidationError as error:
            if error.code != "invalid_choice":
                raise
            raise forms.ValidationError(unknown_zone_message(value), code="invalid_choice") from None


class AppointmentForm(ConfirmsOverlap, forms.Form):
    ONE_EACH = "each"
    SHARED = "shared"

    subject = forms.CharField(max_length=255)
    start = SupportedDateTimeField(widget=DATETIME_WIDGET, required=False)
    end = SupportedDateTimeField(widget=DATETIME_WIDGET, required=False)
    all_day = forms.BooleanField(
        required=False,
        label="All day",
        help_text="A day off, a training day: give the first and last day below; Start and End are not used.",
    )
    first_day = SupportedDateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), label="First day"
    )
    last_day = SupportedDateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        label="Last day",
        help_text="Included. Empty: the first day only.",
    )
    agents = forms.ModelMultipleChoiceField(
        queryset=active_agents(), widget=forms.CheckboxSelectMultiple, label="Technicians"
    )
    entries = forms.ChoiceField(
        choices=[(ONE_EACH, "One calendar entry per technician"), (SHARED, "One entry, the others as attendees")],
        initial=ONE_EACH,
        widget=forms.RadioSelect,
        label="With several technicians",
        required=False,
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=20000)
    location = forms.CharField(max_length=255, required=False)
    other_attendees = AttendeeAddressesField()
    private = forms.BooleanField(required=False)
    reminder_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=40320,
        label="Reminder (minutes before)",
        help_text="Empty: the helpdesk's default reminder (an all-day entry's: minutes before its day begins).",
    )
    no_reminder = forms.BooleanField(
        required=False, label="No reminder", help_text="No reminder at all, not even the default."
    )
    repeat = forms.ChoiceField(
        choices=[
            ("", "Does not repeat"),
            ("workdays", "Every working day (Monday to Friday)"),
            ("weekly", "Every week, on the start's weekday"),
            ("fortnightly", "Every two weeks, on the start's weekday"),
            ("monthly", "Every month, on the start's day of the month"),
            ("monthly_last", "Every month, on its last day"),
        ],
        required=False,
        label="Repeat",
        help_text="Single occurrences can be moved or cancelled later.",
    )
    time_zone = KnownZoneFormField(
        required=False,
        # The names a technician's own zone takes (agents.models.time_zone_names): never this
        # server's "localtime" nor the tz database's "Factory", which no other calendar knows.
        choices=[(name, name.replace("_", " ")) for name in time_zone_names()],
        label="Series time zone",
        help_text=(
            "A repeating appointment stays at its time on this clock, for every technician on it, also "
            "in the weeks their own clocks change to or from summer time on other dates. Empty: your zone. "
            "An all-day series repeats on days, the same on every clock: no zone."
        ),
    )
    repeat_until = SupportedDateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),  # the value a date input reads
        label="Repeat until",
        help_text="The last day of the series (included). Empty: no end.",
    )
    confirm_overlap = confirm_overlap_field()

    PUSH_NOW = "push"
    KEEP_HERE = "keep"
    DECIDE_LATER = "later"

    KEEP_RULE = "keep"

    def __init__(
        self,
        *args,
        editing: bool = False,
        asking: Agent | None = None,
        series: Appointment | None = None,
        occurrence: bool = False,
        **kwargs,
    ):
        """`asking`: the technician filling in the form; under the Ask policy the form asks at
        once whether the new entry goes to their external calendar (S3.3). `series`: the master
        being edited (with its schedule); its Repeat and Repeat until change the whole series.
        Editing anything else (a single appointment, one occurrence) has no Repeat. `occurrence`:
        one occurrence of a series is edited: the form asks what the edit applies to (`scope`)."""
        super().__init__(*args, **kwargs)
        self.series = series
        # static/helpdesk.js shows Start and End, or First day and Last day, as All day asks;
        # without JS all four show and `clean` reads the ones the box asks for.
        self.fields["all_day"].widget.attrs["data-all-day"] = ""
        for name, shown_when in (("start", "timed"), ("end", "timed"), ("first_day", "days"), ("last_day", "days")):
            self.fields[name].widget.attrs["data-shown-when"] = shown_when
        # The creating user's clock, the one Start and End are read on (AgentTimeZoneMiddleware).
        self.fields["time_zone"].initial = timezone.get_current_timezone_name()
        if editing:
            del self.fields["entries"]
            if series is None or series.all_day:
                del self.fields["time_zone"]  # only a timed series has a clock of its own
            else:
                zone_field = self.fields["time_zone"]
                zone_field.help_text = (
                    "The clock the whole series repeats on, for every technician on it. Another zone keeps the "
                    "series' times on the new clock (09:00 stays 09:00, now there), unless Start changes too."
                )
                if series.schedule.zone_block:
                    # Its organiser's own zone, which no IANA zone matches: no choice names it. Empty keeps it.
                    own = zone_label(schedule_zone(series.schedule))
                    zone_field.help_text += f" Empty: its own zone, “{own}”, as its external calendar defines it."
                    zone_field.initial = None
                else:
                    zone_field.initial = str(schedule_zone(series.schedule))
            if series is None:
                # A single entry stays single; an occurrence follows its series' rule.
                del self.fields["repeat"], self.fields["repeat_until"]
            else:
                self._offer_series_repeat(series)
            if occurrence:
                self.fields["scope"] = forms.ChoiceField(
                    choices=EditScope.choices,
                    initial=EditScope.OCCURRENCE,
                    required=False,
                    widget=forms.RadioSelect,
                    label="Save the changes for",
                    help_text=(
                        "This and following: the series ends before this occurrence and a new series with the "
                        "changes starts at it; earlier occurrences stay as they are. All: the whole series, "
                        "earlier occurrences too."
                    ),
                )
        if not editing and asking is not None and effective_sync_policy(asking) == SyncPolicy.ASK:
            self.fields["external_calendar"] = forms.ChoiceField(
                choices=[
                    (self.PUSH_NOW, "Send it to my external calendar now"),
                    (self.KEEP_HERE, "Keep it in the helpdesk only"),
                    (self.DECIDE_LATER, "Decide later (it waits in my to-approve list)"),
                ],
                initial=self.PUSH_NOW,
                widget=forms.RadioSelect,
                label="My external calendar",
            )

    def _offer_series_repeat(self, series: Appointment) -> None:
        """Repeat and Repeat until of a series' edit form, set to its rule: one of the choices
        when the rule is one of them, else "as now" (a rule made elsewhere: admin, the API, an
        external calendar), which keeps the rule and changes only its end."""
        zone = schedule_zone(series.schedule)
        rules = series.schedule.recurrence.rrules
        repeat = self.fields["repeat"]
        choices = [choice for choice in repeat.choices if choice[0]]
        current = self.KEEP_RULE
        if len(rules) == 1:
            plain = copy.copy(rules[0])
            plain.until = None
            for value, _label in choices:
                if _rule_line(_REPEATS[value](series.start.astimezone(zone))) == _rule_line(plain):
                    current = value
        if current == self.KEEP_RULE:
            choices.insert(0, (self.KEEP_RULE, "As now: " + rule_in_words(series, reader_zone=zone)))
        repeat.choices = choices
        repeat.required = True
        repeat.label = "Repeat (the whole series)"
        repeat.help_text = (
            "On the series' wall clock. Days the new rule no longer gives go, with their own changes; "
            "days it still gives keep theirs."
        )
        self.initial.setdefault("repeat", current)
        until = rules[0].until if len(rules) == 1 else None
        self.shown_until: date | None = None
        if until is not None:
            until = until.astimezone(zone) if timezone.is_aware(until) else until
            # The last whole day UNTIL covers on the series' clock (RFC 5545 3.3.10: UNTIL bounds
            # the starts inclusively; the form writes the day's last second). An UNTIL at another
            # time (midnight UTC, as the API's examples write it) does not cover its own day, so
            # the day before is shown and saving unchanged adds no occurrence (review fault 3).
            self.shown_until = (until + timedelta(seconds=1)).date() - timedelta(days=1)
            self.initial.setdefault("repeat_until", self.shown_until)
        if len(rules) == 1 and rules[0].count:
            self.fields[
                "repeat_until"
            ].help_text = f"Now it ends after {rules[0].count} occurrences; a date here ends it on that day instead."

    def clean(self):
        data = super().clean()
        if data.get("no_reminder") and data.get("reminder_minutes") is not None:
            # Dropping either silently loses what the person typed (trial item 12).
            self.add_error(
                "reminder_minutes",
                'Either minutes or "No reminder", not both: empty the minutes or untick "No reminder".',
            )
        if data.get("all_day"):
            self._clean_days(data)
        else:
            for name in ("start", "end"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, "This field is required.")
            if data.get("start") and data.get("end") and data["end"] <= data["start"]:
                written = {name: self[name].data for name in ("start", "end")}
                read = (data["start"], data["end"])
                self.add_error("end", end_before_start_text(written, timezone.get_current_timezone(), read=read))
        if data.get("repeat_until") and not data.get("repeat"):
            self.add_error("repeat", 'Choose how the appointment repeats, or leave "Repeat until" empty.')
        elif data.get("repeat_until") and data.get("start") and data["repeat_until"] < _day_of(data["start"]):
            self.add_error("repeat_until", "The series must end on or after its first day.")
        return data

    def _clean_days(self, data: dict) -> None:
        """An all-day entry: First day and Last day (included, as people write it) become the
        start and end the services take, the end the day after the last (RFC 5545 3.6.1: DTEND
        is exclusive). Dates are the same days on every clock."""
        first, last = data.get("first_day"), data.get("last_day")
        if first is None:
            if "first_day" not in self.errors:
                self.add_error("first_day", "Give the first day of the all-day entry.")
            return
        last = last or first
        if last < first:
            self.add_error(
                "last_day",
                f"The last day must be on or after the first day: {last.isoformat()} is before {first.isoformat()}. "
                "Give a later last day or an earlier first day.",
            )
            return
        data["start"], data["end"] = first, last + timedelta(days=1)

    def recurrence_rule(self) -> str | None:
        """The RRULE (RFC 5545 3.3.10) of the chosen repeat, or None for a single appointment.

        The weekday and day of the month are the start's on the series' wall clock (`series_zone`),
        where it repeats; "Repeat until" ends it after that day on that clock (UNTIL in
        UTC, as RFC 5545 asks with a zoned start)."""
        repeat = self.cleaned_data.get("repeat")
        if not repeat or repeat == self.KEEP_RULE:
            return None
        zone = self.series_zone()
        start = self.cleaned_data["start"]
        # An all-day series' first day is its date; a timed one's, the start's day on the series' clock.
        rule = _REPEATS[repeat](start.astimezone(zone) if isinstance(start, datetime) else start)
        until: date | None = self.cleaned_data.get("repeat_until")
        if until:
            rule += f";UNTIL={_last_second(until, zone):%Y%m%dT%H%M%SZ}"
        return rule

    def series_zone(self) -> zoneinfo.ZoneInfo:
        """The zone the series repeats on: the one chosen, else an edited series' own, else the
        user's (the current zone)."""
        if self.cleaned_data.get("time_zone"):
            return self.cleaned_data["time_zone"]
        if self.series is not None:
            return schedule_zone(self.series.schedule)
        return zoneinfo.ZoneInfo(timezone.get_current_timezone_name())

    def series_rule(self) -> recurrence_lib.Recurrence | None:
        """The edited series' new rule (django-recurrence, its RDATEs kept), or None when Repeat
        and Repeat until leave it as it is. "As now" keeps the rule and sets its end: UNTIL at
        the last second of "Repeat until" on the series' clock (COUNT dropped: RFC 5545 3.3.10
        allows one of them), or no end when left empty on a rule that had an UNTIL."""
        current = self.series.schedule.recurrence
        until: date | None = self.cleaned_data.get("repeat_until")
        # "Repeat until" left on the day shown keeps the stored UNTIL as it is (whatever its time).
        kept_until = current.rrules[0].until if until is not None and until == self.shown_until else None
        text = self.recurrence_rule()
        if text is not None:
            rules = [recurrence_lib.deserialize("RRULE:" + text, include_dtstart=False).rrules[0]]
            if kept_until is not None:
                rules[0].until = kept_until
        elif len(current.rrules) != 1:
            return None  # several rules (made elsewhere): kept whole; their ends are changed in admin
        else:
            rule = copy.copy(current.rrules[0])
            if until:
                rule.until, rule.count = kept_until or _last_second(until, self.series_zone()), None
            elif rule.until is not None:
                rule.until = None
            rules = [rule]
        if [_rule_line(rule) for rule in rules] == [_rule_line(rule) for rule in current.rrules]:
            return None
        # The rule's other parts (EXRULE, RDATE) are the series' own: the form changes none of them.
        return recurrence_lib.Recurrence(
            rrules=rules, exrules=current.exrules, rdates=current.rdates, include_dtstart=False
        )

    def service_fields(self) -> dict:
        """The cleaned fields as `services.create_appointment` / `update_appointment` take them."""
        data = dict(self.cleaned_data)
        data.pop("entries", None)
        data.pop("external_calendar", None)
        data.pop("repeat", None)
        data.pop("repeat_until", None)
        data.pop("scope", None)  # `edit_scope`
        data.pop("first_day", None)
        data.pop("last_day", None)
        if "time_zone" in data:
            data["time_zone"] = self.series_zone()
        data["check_overlap"] = not data.pop("confirm_overlap", False)
        return data

    def edit_scope(self) -> str:
        """What an edit of an occurrence applies to (`EditScope`); "occurrence" when not asked."""
        return self.cleaned_data.get("scope") or EditScope.OCCURRENCE

    @staticmethod
    def created_message(made: list) -> str:
        """What the pages say once `made` (the appointments, or the series' masters) is saved."""
        if made and made[0].is_recurring_master:
            return f"{len(made)} recurring series created; move or cancel single occurrences on the calendar."
        return f"{len(made)} appointment(s) created."

    def push_choice(self) -> bool | None:
        """True: push now, False: keep here, None: no answer (not asked, or decide later)."""
        answer = self.cleaned_data.get("external_calendar")
        return {self.PUSH_NOW: True, self.KEEP_HERE: False}.get(answer)
