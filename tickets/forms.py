"""Forms of the request pages; they only check input, the services write."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils import timezone

from agents.models import Agent, Team
from calendars.availability import MAX_BUFFER, MAX_NOTICE
from calendars.conflict_words import SAVE_ANYWAY, ConflictQuestion, conflict_question
from calendars.times import midnight
from helpdesk.durations import MinutesField
from helpdesk.limits import SupportedDateField, SupportedDateTimeField, is_supported, range_message
from tickets.models import Request

Saved = TypeVar("Saved")

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def active_agents():
    return Agent.objects.filter(is_active=True).select_related("user")


def _left_out(what: str) -> dict[str, str]:
    message = f"There is no {what} “%(value)s”: this filter was left out, the others apply."
    return {"invalid_choice": message, "invalid_pk_value": message}


class RequestFilterForm(forms.Form):
    """The request list's filters. A bad value fails only its own field: the view applies the
    fields that are valid (`cleaned_data` holds just those) and the page names the bad one."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        error_messages={"max_length": "Search for at most 200 characters: the search was left out."},
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Request.Status.choices], required=False, error_messages=_left_out("status")
    )
    agent = forms.ModelChoiceField(
        queryset=active_agents(), required=False, empty_label="Any technician", error_messages=_left_out("technician")
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="Any team", error_messages=_left_out("team")
    )


class TeamMembersField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Team) -> str:
        return f"Anyone of {obj.name}"


def _whole_number_field(label: str, unit: str, most: int, *, empty: str) -> forms.IntegerField:
    """An optional whole number from 0 to `most` (empty: 0), every refusal saying so. Shown empty
    with `empty` as its placeholder, what leaving it empty does: a "0" put in the box read as a
    choice made (no notice at all) where the search starts at the next whole hour."""
    message = f"Give the {label.lower()} as a whole number of {unit} from 0 to {most}."
    return forms.IntegerField(
        label=f"{label} ({unit})",
        required=False,
        min_value=0,
        max_value=most,
        widget=forms.NumberInput(attrs={"placeholder": empty}),
        error_messages={"invalid": message, "min_value": message, "max_value": message},
    )


class FindSlotForm(forms.Form):
    """ "Find a slot" on the request page (issue 15): who, and the options of
    calendars.availability a coordinator sets. Cleaned: team (Team or None), buffer and notice
    (timedelta, 0 when left empty), after (the chosen day's midnight on the user's clock, aware,
    or the hidden `later_than` instant when later, or None: search from now)."""

    team = TeamMembersField(
        queryset=Team.objects.all(), required=False, label="Who", empty_label="The assigned technicians, together"
    )
    buffer = _whole_number_field("Travel before and after", "minutes", MAX_BUFFER // timedelta(minutes=1), empty="none")
    notice = _whole_number_field("Minimum notice", "hours", MAX_NOTICE // timedelta(hours=1), empty="next whole hour")
    after = SupportedDateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    # "Later slots": the first start after the proposals shown (an aware ISO 8601 instant), so the
    # rest of their last day is searched too, not only the days after it.
    later_than = SupportedDateTimeField(required=False, widget=forms.HiddenInput)

    def clean_after(self) -> datetime | None:
        """The day's first moment on the user's wall clock (None when empty): the search starts
        there when that is later than the first whole hour after the notice."""
        day = self.cleaned_data["after"]
        if day is None:
            return None
        moment = midnight(day, timezone.get_current_timezone())
        if not is_supported(moment):
            raise forms.ValidationError(range_message())
        return moment

    def clean(self) -> dict:
        """`after` becomes the later of the chosen day's midnight and `later_than`."""
        cleaned = super().clean()
        later = cleaned.get("later_than")
        if later is not None and is_supported(later) and (cleaned.get("after") is None or later > cleaned["after"]):
            cleaned["after"] = later
        return cleaned

    def clean_buffer(self) -> timedelta:
        return timedelta(minutes=self.cleaned_data["buffer"] or 0)

    def clean_notice(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["notice"] or 0)


def confirm_overlap_field() -> forms.BooleanField:
    """The tick box of a form whose save may be refused for a double booking (issue 15): hidden
    until it is (see ConfirmsOverlap)."""
    return forms.BooleanField(required=False, widget=forms.HiddenInput, label=SAVE_ANYWAY)


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's objection next to the field it is about (above the form when the form
    has no such field)."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


class ConfirmsOverlap:
    """For a form with a `confirm_overlap_field()` named confirm_overlap. A refused save shows
    the one question (calendars/_conflict_question.html, calendars.conflict_words) above the
    form's fields, wherever the form is drawn."""

    conflict: ConflictQuestion | None = None

    def render(self, template_name=None, context=None, renderer=None):
        fields = super().render(template_name, context, renderer)
        # Django draws each label and field group through Form.render too (template_name_label,
        # the field's template): the question goes above the whole form only, once.
        whole = (None, self.template_name, self.template_name_div, self.template_name_p)
        if self.conflict is None or template_name not in (*whole, self.template_name_table, self.template_name_ul):
            return fields
        return render_to_string("calendars/_conflict_question.html", {"conflict": self.conflict}) + fields

    def save_with(self, save: Callable[[], Saved]) -> Saved | None:
        """Run `save` (a service call writing what this form holds) and return what it returns;
        or None, the refusal shown on the form: a calendars.services.OverlapWarning names the
        overlaps and offers the tick box, any other ValidationError stands by its field."""
        from calendars.services import OverlapWarning

        try:
            return save()
        except OverlapWarning as error:
            self.ask_to_confirm_overlap(error)
        except ValidationError as error:
            add_errors(self, error)
        return None

    def check_overlap(self) -> bool:
        """Whether the save should refuse a double booking (the box is not ticked); takes the
        box out of cleaned_data, which the services do not know."""
        return not self.cleaned_data.pop("confirm_overlap", False)

    def ask_to_confirm_overlap(self, error) -> None:
        """A save refused for a double booking: name the overlaps and offer the tick box."""
        self.fields["confirm_overlap"].widget = forms.CheckboxInput()
        self.conflict = conflict_question(error, timezone.get_current_timezone())


class RequestForm(ConfirmsOverlap, forms.Form):
    summary = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=50000)
    customer = forms.CharField(max_length=200, required=False)
    site = forms.CharField(max_length=200, required=False)
    status = forms.ChoiceField(choices=Request.Status.choices, initial=Request.Status.NEW)
    assigned_agents = forms.ModelMultipleChoiceField(
        queryset=active_agents(), required=False, widget=forms.CheckboxSelectMultiple, label="Assigned technicians"
    )
    planned_start = SupportedDateTimeField(widget=DATETIME_WIDGET, required=False, label="Planned start")
    estimate = MinutesField(required=False, label="Estimate (minutes)", help_text="Empty: the default estimate.")
    confirm_overlap = confirm_overlap_field()

    @classmethod
    def for_request(cls, request: Request, **kwargs) -> "RequestForm":
        initial = {name: getattr(request, name) for name in ("summary", "description", "customer", "site", "status")}
        initial.update(
            assigned_agents=list(request.assigned_agents.all()),
            planned_start=request.planned_start,
            estimate=request.estimate,
        )
        return cls(initial=initial, **kwargs)


class ActionForm(forms.Form):
    agent = forms.ModelChoiceField(queryset=active_agents(), label="Technician")
    done_at = SupportedDateTimeField(widget=DATETIME_WIDGET, label="Started")
    time_taken = MinutesField(allow_zero=True, label="Time taken (minutes)", initial=0)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=50000)
    add_to_calendar = forms.BooleanField(required=False, label="Add to calendar")

    def __init__(self, *args, show_add_to_calendar: bool = True, agent: Agent | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not show_add_to_calendar:
            del self.fields["add_to_calendar"]
        if agent is not None:
            # A technician logs their own work.
            self.fields["agent"].queryset = Agent.objects.filter(pk=agent.pk)
            self.fields["agent"].initial = agent
        if agent is not None or self.initial.get("agent") is not None:
            # The field is required: with a technician already chosen a blank "---------" is only
            # a wrong choice to skip (trial 14).
            self.fields["agent"].empty_label = None

    def clean(self):
        data = super().clean()
        if data.get("add_to_calendar") and not data.get("time_taken"):
            self.add_error("time_taken", "To add this action to the calendar, give the time taken.")
        return data
