import contextlib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from agents.admin import TechnicianNamesInOneQuery
from calendars import ownership, services
from calendars.forms import AttendeeAddressesField
from calendars.models import Appointment, CalendarSettings, Schedule
from calendars.rule_parts import rules_kept_as_read, written_rule_problem
from calendars.series_words import dropped_exceptions_text
from helpdesk.durations import MinutesInAdmin
from helpdesk.wall_clock_admin import WallClockTimesInAdmin


@admin.register(CalendarSettings)
class CalendarSettingsAdmin(WallClockTimesInAdmin, MinutesInAdmin, admin.ModelAdmin):
    """One row of settings: the list goes straight to it."""

    fieldsets = [
        ("Calendar", {"fields": ["calendar_enabled", "default_estimate", "show_add_to_calendar", "email_technicians"]}),
        ("Double bookings", {"fields": ["warn_overlaps"]}),
        (
            "Display",
            {
                "fields": [
                    "default_colour",
                    "planned_today_colour",
                    "working_days",
                    "working_hours_start",
                    "working_hours_end",
                ]
            },
        ),
        (
            "Sync",
            {
                "fields": [
                    "sync_policy",
                    "conflict_rule",
                    "import_days_past",
                    "import_days_future",
                    "reminder_minutes",
                    "all_day_reminder_minutes",
                    "sync_log_days",
                ]
            },
        ),
        ("Subscription feed", {"fields": ["feed_days_past", "feed_days_future"]}),
        ("Calendar format", {"fields": ["subject_template", "body_template"]}),
    ]

    def get_form(self, request, obj=None, **kwargs):
        from agents.admin import WeekdaysField

        form = super().get_form(request, obj, **kwargs)
        form.base_fields["working_days"] = WeekdaysField()
        return form

    def has_add_permission(self, request) -> bool:
        return not CalendarSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        settings = CalendarSettings.load()
        return HttpResponseRedirect(reverse("admin:calendars_calendarsettings_change", args=[settings.pk]))


class KeepsImportedTechnicians:
    """For an appointment's admin model form: an imported entry keeps its technicians
    (calendars.ownership), said next to the field instead of a 500 when the service refuses."""

    def check_technicians(self, cleaned: dict) -> None:
        if self.instance.pk and cleaned.get("agents") is not None:
            try:
                ownership.check_technicians(self.instance, cleaned["agents"])
            except forms.ValidationError as error:
                self.add_error(None, error)


class AppointmentForm(KeepsImportedTechnicians, forms.ModelForm):
    # Typed as on the pages (addresses separated by commas), not as the JSON the model keeps.
    other_attendees = AttendeeAddressesField()
    rule = forms.CharField(
        required=False,
        label="Recurrence rule",
        help_text="Makes this a recurring master, for example FREQ=WEEKLY;BYDAY=MO,WE. Empty: no recurrence.",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    class Meta:
        model = Appointment
        fields = [
            "subject", "start", "end", "all_day", "agents", "other_attendees", "request",
            "note", "location", "private", "busy", "reminder_minutes", "no_reminder",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        schedule = getattr(self.instance, "schedule", None) if self.instance.pk else None
        if schedule is not None:
            self.initial["rule"] = "\n".join(str(rule_text) for rule_text in _rule_lines(schedule))
        if self.instance.pk and self.instance.is_occurrence:
            del self.fields["rule"]

    def clean(self):
        cleaned = super().clean()
        rule = (cleaned.get("rule") or "").strip()
        cleaned["rule"] = rule
        self.check_technicians(cleaned)
        # A rule written here is held to RFC 5545's MUST NOTs; the series' own (an import's) is kept.
        problem = written_rule_problem(rule) if rule and rule != self.initial.get("rule") else None
        if problem:
            raise ValidationError({"rule": problem})
        if rule and cleaned.get("start"):
            agents = list(cleaned.get("agents") or [])
            # The series' own rule, unchanged, is read as it was stored (an import's may be out of range).
            kept = rules_kept_as_read() if rule == self.initial.get("rule") else contextlib.nullcontext()
            with kept:
                services.check_rule(rule, start=cleaned["start"], zone=agents[0].zone if agents else None)
        return cleaned


def _rule_lines(schedule: Schedule) -> list[str]:
    import recurrence

    return [line for line in recurrence.serialize(schedule.recurrence).splitlines() if line]


class ExceptionsAndNextOccurrences(BaseInlineFormSet):
    """A series' occurrences as its page lists them: those changed or cancelled on their own, and
    the next `OccurrenceInline.shown_ahead` to come, by original start. A daily series has a year
    of rows (`services.kept_span`): drawn all, its page took seconds."""

    shown_ahead = 20

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            rows = self.queryset  # the series' occurrences (BaseInlineFormSet)
            ahead = rows.filter(original_start__gte=timezone.now()).order_by("original_start")
            next_ones = list(ahead.values_list("pk", flat=True)[: self.shown_ahead])
            self._queryset = rows.filter(Q(is_modified=True) | Q(is_cancelled=True) | Q(pk__in=next_ones)).order_by(
                "original_start"
            )
        return self._queryset


class OccurrenceInline(admin.TabularInline):
    model = Appointment
    fk_name = "master"
    formset = ExceptionsAndNextOccurrences
    extra = 0
    fields = ["original_start", "start", "end", "is_modified", "is_cancelled"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    verbose_name_plural = "occurrences"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_formset(self, request, obj=None, **kwargs):
        if obj is not None and obj.is_recurring_master:
            # This instance is the request's own (ModelAdmin.get_inline_instances): the heading says
            # which occurrences are listed and links to all of them.
            every = reverse("admin:calendars_appointment_changelist") + f"?master__id__exact={obj.pk}"
            self.verbose_name_plural = format_html(
                'occurrences changed or cancelled on their own, and the next {} (<a href="{}">all {}</a>)',
                ExceptionsAndNextOccurrences.shown_ahead,
                every,
                obj.occurrences.count(),
            )
        return super().get_formset(request, obj, **kwargs)


@admin.register(Appointment)
class AppointmentAdmin(TechnicianNamesInOneQuery, admin.ModelAdmin):
    form = AppointmentForm
    list_display = ["subject", "start", "end", "source", "agent_names", "request", "private", "kind"]
    list_filter = [
        "source",
        "private",
        "is_cancelled",
        "agents",
        "agents__teams",
        ("schedule", admin.EmptyFieldListFilter),
    ]
    search_fields = ["subject", "note", "location", "request__summary", "=request__id"]
    date_hierarchy = "start"
    autocomplete_fields = ["agents", "request"]
    list_select_related = ["request", "schedule"]
    readonly_fields = [
        "source",
        "part",
        "master",
        "original_start",
        "is_modified",
        "is_cancelled",
        "sequence",
        "created_by",
    ]
    inlines = [OccurrenceInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("agents__user")

    def get_fields(self, request, obj=None):
        # An occurrence follows its series' rule and has no rule field of its own (the form drops
        # it); the page must not ask for it either.
        fields = super().get_fields(request, obj)
        if obj is not None and obj.is_occurrence:
            fields = [name for name in fields if name != "rule"]
        return fields

    @admin.display(description="technicians")
    def agent_names(self, obj: Appointment) -> str:
        return ", ".join(agent.name for agent in obj.agents.all())

    @admin.display(description="recurrence")
    def kind(self, obj: Appointment) -> str:
        if obj.is_recurring_master:
            return "series"
        if obj.master_id:
            return "cancelled occurrence" if obj.is_cancelled else "occurrence"
        return ""

    def save_model(self, request, obj, form, change):
        """Saving goes through the services, so the calendar rules and sync hold in admin too."""
        data = dict(form.cleaned_data)
        agents = data.pop("agents")
        rule = data.pop("rule", "")
        request_obj = data.pop("request", None)
        if change:
            fields = {name: data[name] for name in services.EDITABLE_FIELDS if name in data}
            # The admin form has set its values on `obj` already: the service must see what they were,
            # or a series' new start does not move its occurrences and exceptions (trial fault 1).
            stored = Appointment.objects.filter(pk=obj.pk).values(*services.EDITABLE_FIELDS).get()
            for name, value in stored.items():
                setattr(obj, name, value)
            changed_rule = rule if rule and rule != form.initial.get("rule") else None
            if changed_rule is not None and not obj.is_recurring_master:
                saved = services.update_appointment(obj, agents=agents, by=request.user, **fields)
                services.make_recurring(saved, rule=changed_rule, by=request.user)
            else:
                # The one path of the pages and the API: a new day moves the rule's days, and the
                # field's EXDATEs (the whole set of cancelled starts, shown at the start before this
                # save) move with the series as its other exceptions do.
                saved = services.edit_appointment(
                    obj, agents=agents, by=request.user, recurrence=changed_rule, cancelled_as_given=True, **fields
                )
                if saved.dropped_exceptions:
                    messages.warning(request, dropped_exceptions_text(saved.dropped_exceptions))
        elif rule:
            saved = services.create_recurring_appointment(
                rule=rule, agents=agents, request=request_obj, by=request.user, **data
            )
        else:
            saved = services.create_appointment(agents=agents, request=request_obj, by=request.user, **data)
        # The admin goes on with `obj` (log entry, redirect): make it the saved appointment.
        obj.__dict__.update(saved.__dict__)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # occurrences are read-only here; agents were set by the service
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        services.delete_appointment(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_appointment(obj, by=request.user)
