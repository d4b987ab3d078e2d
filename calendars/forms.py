"""Forms of the calendar pages; they only check input, the services write."""

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
    confirm_overlap = confirm_overlap_field()

    PUSH_NOW = "push"
    KEEP_HERE = "keep"
    DECIDE_LATER = "later"

    def __init__(self, *args, editing: bool = False, asking: Agent | None = None, **kwargs):
        """`asking`: the technician filling in the form; under the Ask policy the form asks at
        once whether the new entry goes to their external calendar (S3.3)."""
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["entries"]
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
        return data

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("entries", None)
        data.pop("external_calendar", None)
        data["check_overlap"] = not data.pop("confirm_overlap", False)
        return data

    def push_choice(self) -> bool | None:
        """True: push now, False: keep here, None: no answer (not asked, or decide later)."""
        answer = self.cleaned_data.get("external_calendar")
        return {self.PUSH_NOW: True, self.KEEP_HERE: False}.get(answer)
