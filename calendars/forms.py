"""Forms of the calendar pages; they only check input, the services write."""

from django import forms

from calendars.models import MAX_OTHER_ATTENDEES
from tickets.forms import DATETIME_WIDGET, active_agents


class AppointmentForm(forms.Form):
    ONE_EACH = "each"
    SHARED = "shared"

    subject = forms.CharField(max_length=255)
    start = forms.DateTimeField(widget=DATETIME_WIDGET)
    end = forms.DateTimeField(widget=DATETIME_WIDGET)
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

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["entries"]

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
        return data
