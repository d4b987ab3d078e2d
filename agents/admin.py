from django import forms
from django.contrib import admin, messages
from django.db.models import Count

from agents import services
from agents.models import Agent, CoordinatorFeed, Team, TeamMembership, Weekday, time_zone_names, validate_time_zone
from calendars.selectors import sync_policy_explained
from helpdesk.wall_clock_admin import WallClockTimesInAdmin


class TechnicianListFilter(admin.RelatedFieldListFilter):
    """A list filter over technicians (any field leading to an Agent, registered below for every
    admin): a technician is named by its user (Agent.__str__), so the choices are read with their
    users in one query, not one query per technician (Django's filter reads the Agents alone)."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        agents = Agent._default_manager.select_related("user")
        return [(agent.pk, str(agent)) for agent in (agents.order_by(*ordering) if ordering else agents)]


admin.FieldListFilter.register(
    lambda field: field.is_relation and field.related_model is Agent, TechnicianListFilter, take_priority=True
)


class TechnicianNamesInOneQuery:
    """ModelAdmin / InlineModelAdmin mixin: the technicians its form fields offer or show (a select
    of Agents, or the chosen ones of an autocomplete) are read with their users in the same query
    (Agent.__str__ is its user's name), not one query per technician."""

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if db_field.related_model is not Agent:
            return queryset
        return (queryset if queryset is not None else Agent._default_manager.using(db)).select_related("user")


class WeekdaysField(forms.TypedMultipleChoiceField):
    """Working days as checkboxes, stored as a list of weekday numbers."""

    def __init__(self, **kwargs) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.pop("max_length", None)
        super().__init__(
            choices=Weekday.choices, coerce=int, widget=forms.CheckboxSelectMultiple, required=False, **kwargs
        )

    def prepare_value(self, value):
        return value or []


class TimeZoneNameField(forms.ChoiceField):
    """A technician's zone, chosen from agents.models.time_zone_names(); anything else posted is
    refused with validate_time_zone's message. Cleans to the name (the model field reads it)."""

    def __init__(self, **kwargs) -> None:
        kwargs["choices"] = [(name, name.replace("_", " ")) for name in time_zone_names()]
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return str(getattr(value, "key", value) or "")

    def validate(self, value) -> None:
        if value not in self.empty_values:
            validate_time_zone(value)
        super().validate(value)


class AgentForm(forms.ModelForm):
    working_days = WeekdaysField(help_text="None ticked: the global default.")
    time_zone = TimeZoneNameField(initial="Europe/Amsterdam", help_text="IANA time zone, for example Europe/London.")

    class Meta:
        model = Agent
        fields = [
            "user", "email", "is_active", "calendar_shown", "colour", "time_zone", "working_days",
            "working_hours_start", "working_hours_end", "holiday_country", "holiday_region", "sync_policy",
            "import_external",
        ]  # fmt: skip
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}
        help_texts = {
            "working_hours_end": "Before the start for a night shift (22:00 to 06:00 ends at 06:00 the next day). "
            "Empty: the global default."
        }

    def clean_working_days(self):
        return self.cleaned_data["working_days"] or None


class TeamMembershipInline(admin.TabularInline):
    # The proxy of Team.members' table, for a row title that names the team (its __str__).
    model = TeamMembership
    extra = 0
    verbose_name = "team"
    verbose_name_plural = "teams"
    autocomplete_fields = ["team"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent__user", "team")


class FeedTokenActions:
    """Admin actions on whatever holds a phone-feed token (agents.services.FeedHolder): renew or
    revoke the link of the selected rows, and its state as a column. The token is stored only as
    a hash and is never shown here: its holder sees a renewed link once, on /me/."""

    holders = "technician(s)"
    actions = ["renew_feed_tokens", "revoke_feed_tokens"]

    @admin.display(description="subscription link")
    def feed_link_state(self, holder) -> str:
        if not services.feed_link_made(holder):
            return "not made yet"
        return "on" if services.feed_enabled(holder) else "revoked"

    @admin.action(description="Renew calendar subscription links (old links stop working)")
    def renew_feed_tokens(self, request, queryset) -> None:
        for holder in queryset:
            services.renew_feed_token(holder)
        self.message_user(
            request,
            f"Renewed the calendar link of {len(queryset)} {self.holders}; they find the new one on their page.",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke calendar subscription links")
    def revoke_feed_tokens(self, request, queryset) -> None:
        for holder in queryset:
            services.revoke_feed_token(holder)
        self.message_user(
            request, f"Switched off the calendar link of {len(queryset)} {self.holders}.", messages.SUCCESS
        )


@admin.register(Agent)
class AgentAdmin(WallClockTimesInAdmin, FeedTokenActions, admin.ModelAdmin):
    form = AgentForm
    list_display = [
        "name", "mailbox", "time_zone", "colour", "sync_policy", "import_external", "calendar_shown", "feed_link_state",
    ]  # fmt: skip
    list_filter = ["sync_policy", "import_external", "calendar_shown", "is_active", "teams"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email", "email"]
    autocomplete_fields = ["user"]
    inlines = [TeamMembershipInline]
    fieldsets = [
        (None, {"fields": ["user", "email", "is_active"]}),
        ("Calendar", {"fields": ["calendar_shown", "colour", "time_zone"]}),
        (
            "Working hours",
            {
                "fields": [
                    "working_days",
                    "working_hours_start",
                    "working_hours_end",
                    "holiday_country",
                    "holiday_region",
                ]
            },
        ),
        ("Sync", {"fields": ["sync_policy", "effective_sync_policy", "import_external"]}),
    ]
    readonly_fields = ["effective_sync_policy"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    @admin.display(description="Sync policy that applies")
    def effective_sync_policy(self, agent: Agent) -> str:
        if agent.pk is None:
            return "-"
        return sync_policy_explained(agent)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, team: Team) -> int:
        return team.member_total


@admin.register(CoordinatorFeed)
class CoordinatorFeedAdmin(FeedTokenActions, admin.ModelAdmin):
    """The team-feed links of coordinators without a technician profile: made by the coordinator
    on /me/, renewed or revoked here as a technician's link is on the technician's row."""

    holders = "coordinator(s)"
    list_display = ["user", "feed_link_state"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    fields = ["user", "feed_link_state"]
    readonly_fields = ["user", "feed_link_state"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request) -> bool:
        # Made on first use by the coordinator (agents.services.coordinator_feed_of).
        return False
