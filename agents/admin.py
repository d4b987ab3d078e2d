from django import forms
from django.contrib import admin, messages
from django.db.models import Count

from agents import services
from agents.models import Agent, Team, Weekday


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


class AgentForm(forms.ModelForm):
    working_days = WeekdaysField(help_text="None ticked: the global default.")

    class Meta:
        model = Agent
        fields = [
            "user", "email", "is_active", "calendar_shown", "colour", "time_zone", "working_days",
            "working_hours_start", "working_hours_end", "holiday_country", "holiday_region", "sync_policy",
            "import_external",
        ]  # fmt: skip
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}

    def clean_working_days(self):
        return self.cleaned_data["working_days"] or None


class TeamMembershipInline(admin.TabularInline):
    model = Team.members.through
    extra = 0
    verbose_name = "team"
    verbose_name_plural = "teams"
    autocomplete_fields = ["team"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentForm
    list_display = ["name", "mailbox", "time_zone", "colour", "sync_policy", "import_external", "calendar_shown"]
    list_filter = ["sync_policy", "import_external", "calendar_shown", "is_active", "teams"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email", "email"]
    autocomplete_fields = ["user"]
    inlines = [TeamMembershipInline]
    actions = ["renew_feed_tokens", "revoke_feed_tokens"]
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
        ("Sync", {"fields": ["sync_policy", "import_external"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    @admin.action(description="Renew calendar subscription links (old links stop working)")
    def renew_feed_tokens(self, request, queryset) -> None:
        for agent in queryset:
            services.renew_feed_token(agent)
        self.message_user(
            request,
            f"Renewed the calendar link of {len(queryset)} technician(s); they find the new one on their page.",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke calendar subscription links")
    def revoke_feed_tokens(self, request, queryset) -> None:
        for agent in queryset:
            services.revoke_feed_token(agent)
        self.message_user(
            request, f"Switched off the calendar link of {len(queryset)} technician(s).", messages.SUCCESS
        )


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
