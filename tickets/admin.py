from django import forms
from django.contrib import admin

from agents.admin import TechnicianNamesInOneQuery
from calendars import services as calendar_services
from calendars.admin import KeepsImportedTechnicians
from calendars.models import Appointment, CalendarSettings
from helpdesk.durations import MinutesInAdmin, duration_text
from tickets import services
from tickets.models import Action, Request


class ActionInline(TechnicianNamesInOneQuery, MinutesInAdmin, admin.StackedInline):
    model = Action
    extra = 0
    fields = [("agent", "done_at", "time_taken"), "note", "add_to_calendar"]
    autocomplete_fields = ["agent"]

    def get_fields(self, request, obj=None):
        if CalendarSettings.load().show_add_to_calendar:
            return self.fields
        return self.fields[:-1]


class AppointmentInlineForm(KeepsImportedTechnicians, forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        self.check_technicians(cleaned)
        return cleaned


class AppointmentInline(TechnicianNamesInOneQuery, admin.TabularInline):
    """The request's "Appointments" tab: subject, start, end, technicians and note."""

    model = Appointment
    form = AppointmentInlineForm
    extra = 0
    fields = ["subject", "start", "end", "agents", "note", "source"]
    readonly_fields = ["source"]
    autocomplete_fields = ["agents"]
    show_change_link = True
    verbose_name_plural = "appointments"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(master__isnull=True).prefetch_related("agents")


@admin.register(Request)
class RequestAdmin(TechnicianNamesInOneQuery, MinutesInAdmin, admin.ModelAdmin):
    list_display = ["number", "summary", "customer", "site", "status", "planned_start", "estimate_text", "agent_names"]
    list_display_links = ["number", "summary"]
    list_filter = ["status", "assigned_agents", "assigned_agents__teams", ("planned_start", admin.DateFieldListFilter)]
    search_fields = ["=id", "summary", "customer", "site", "description"]
    date_hierarchy = "planned_start"
    autocomplete_fields = ["assigned_agents"]
    inlines = [ActionInline, AppointmentInline]
    fieldsets = [
        (None, {"fields": ["summary", "description", "status"]}),
        ("Customer", {"fields": ["customer", "site"]}),
        ("Planning", {"fields": ["assigned_agents", "planned_start", "estimate"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("assigned_agents__user")

    @admin.display(description="estimate", ordering="estimate")
    def estimate_text(self, obj: Request) -> str:
        return duration_text(obj.estimate)

    @admin.display(description="technicians")
    def agent_names(self, obj: Request) -> str:
        return ", ".join(agent.name for agent in obj.assigned_agents.all())

    def save_formset(self, request, form, formset, change):
        """Inline actions and appointments go through the services, so their calendar entries follow."""
        if formset.model is Action:
            for action in formset.save(commit=False):
                if action.pk is None:
                    services.log_action(
                        form.instance,
                        agent=action.agent,
                        done_at=action.done_at,
                        time_taken=action.time_taken,
                        note=action.note,
                        add_to_calendar=action.add_to_calendar,
                        by=request.user,
                    )
                else:
                    action.save()
                    calendar_services.sync_action_appointment(action, by=request.user)
            for action in formset.deleted_objects:
                services.delete_action(action, by=request.user)
        elif formset.model is Appointment:
            formset.save(commit=False)
            for inline_form in formset.forms:
                if inline_form in formset.deleted_forms or not inline_form.has_changed():
                    continue
                data = inline_form.cleaned_data
                fields = {name: data[name] for name in ("subject", "start", "end", "note")}
                if inline_form.instance.pk is None:
                    calendar_services.create_appointment(
                        agents=data["agents"], request=form.instance, by=request.user, **fields
                    )
                else:
                    calendar_services.update_appointment(
                        inline_form.instance, agents=data["agents"], by=request.user, **fields
                    )
            for appointment in formset.deleted_objects:
                calendar_services.delete_appointment(appointment, by=request.user)
        else:
            super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        calendar_services.sync_planned_appointment(form.instance, by=request.user)

    def delete_model(self, request, obj):
        services.delete_request(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_request(obj, by=request.user)


@admin.register(Action)
class ActionAdmin(TechnicianNamesInOneQuery, MinutesInAdmin, admin.ModelAdmin):
    list_display = ["request", "agent", "done_at", "time_taken_text", "add_to_calendar"]
    list_filter = ["add_to_calendar", "agent", ("done_at", admin.DateFieldListFilter)]
    search_fields = ["note", "request__summary", "=request__id"]
    date_hierarchy = "done_at"
    autocomplete_fields = ["request", "agent"]
    list_select_related = ["request", "agent__user"]

    @admin.display(description="time taken", ordering="time_taken")
    def time_taken_text(self, obj: Action) -> str:
        return duration_text(obj.time_taken)

    def save_model(self, request, obj, form, change):
        obj.save()
        calendar_services.sync_action_appointment(obj, by=request.user)

    def delete_model(self, request, obj):
        services.delete_action(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_action(obj, by=request.user)
