"""Forms of the calendar pages; they only check input, the services write."""

from datetime import UTC, date, datetime, time, timedelta

from django import forms

from agents.models import Agent
from calendars.models import MAX_OTHER_ATTENDEES, SyncPolicy
from calendars.selectors import effective_sync_policy
from helpdesk.limits import SupportedDateTimeField
from tickets.forms import DATETIME_WIDGET, ConfirmsOverlap, active_agents, confirm_overlap_field


class AppointmentForm(ConfirmsOverlap, forms.Form):
    ONE_EACH = "each"
    SHARED = "shared"

    subject = forms.CharField(max_length=255)
    start = SupportedDateTimeField(widget=DATETIME_WIDGET)
    end = SupportedDateTimeField(widget=DATETIME_WIDGET)
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
    other_attendees = forms.CharField(
        required=False,
        max_length=5000,
        label="Other attendees",
        help_text="E-mail addresses, separated by commas; recorded, never invited.",
    )
    private = forms.BooleanField(required=False)
    repeat = forms.ChoiceField(
        choices=[
            ("", "Does not repeat"),
            ("workdays", "Every working day (Monday to Friday)"),
            ("weekly", "Every week, on the start's weekday"),
            ("fortnightly", "Every two weeks, on the start's weekday"),
            ("monthly", "Every month, on the start's day of the month"),
        ],
        required=False,
        label="Repeat",
        help_text="On the first technician's wall clock; single occurrences can be moved or cancelled later.",
    )
    repeat_until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Repeat until",
        help_text="The last day of the series (included). Empty: no end.",
    )
    confirm_overlap = confirm_overlap_field()

    PUSH_NOW = "push"
    KEEP_HERE = "keep"
    DECIDE_LATER = "later"

    def __init__(self, *args, editing: bool = False, asking: Agent | None = None, **kwargs):
        """`asking`: the technician filling in the form; under the Ask policy the form asks at
        once whether the new entry goes to their external calendar (S3.3)."""
        super().__init__(*args, **kwargs)
        if editing:
            # A series is made here; its rule is changed in admin.
            for name in ("entries", "repeat", "repeat_until"):
                del self.fields[name]
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

    def clean_other_attendees(self) -> list[str]:
        addresses = [part.strip() for part in self.cleaned_data["other_attendees"].split(",") if part.strip()]
        if len(addresses) > MAX_OTHER_ATTENDEES:
            raise forms.ValidationError(f"Give at most {MAX_OTHER_ATTENDEES} addresses.")
        validator = forms.EmailField()
        for address in addresses:
            validator.clean(address)
        return addresses

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The end must be after the start.")
        if data.get("repeat_until") and not data.get("repeat"):
            self.add_error("repeat", 'Choose how the appointment repeats, or leave "Repeat until" empty.')
        elif data.get("repeat_until") and data.get("start") and data["repeat_until"] < data["start"].date():
            self.add_error("repeat_until", "The series must end on or after its first day.")
        return data

    def recurrence_rule(self) -> str | None:
        """The RRULE (RFC 5545 3.3.10) of the chosen repeat, or None for a single appointment.

        The weekday and day of the month are the start's on the first technician's wall clock,
        where the series repeats; "Repeat until" ends it after that day on that clock (UNTIL in
        UTC, as RFC 5545 asks with a zoned start)."""
        repeat = self.cleaned_data.get("repeat")
        if not repeat:
            return None
        agents = list(self.cleaned_data["agents"])
        zone = agents[0].zone
        start = self.cleaned_data["start"].astimezone(zone)
        weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[start.weekday()]
        rule = {
            "workdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "weekly": f"FREQ=WEEKLY;BYDAY={weekday}",
            "fortnightly": f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday}",
            "monthly": f"FREQ=MONTHLY;BYMONTHDAY={start.day}",
        }[repeat]
        until: date | None = self.cleaned_data.get("repeat_until")
        if until:
            last = datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone) - timedelta(seconds=1)
            rule += f";UNTIL={last.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        return rule

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("entries", None)
        data.pop("external_calendar", None)
        data.pop("repeat", None)
        data.pop("repeat_until", None)
        data["check_overlap"] = not data.pop("confirm_overlap", False)
        return data

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
