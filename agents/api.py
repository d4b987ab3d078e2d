"""Technicians and teams, read-only: the resources of the group calendar."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, viewsets

from agents.models import Agent, Team
from calendars.models import CalendarSettings
from calendars.selectors import calendar_agents, working_hours
from helpdesk.api_common import IdFilter, IdsFilter, KnownFields, KnownQueryParameters, ParameterFilterSet


class AgentSerializer(KnownFields, serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(source="mailbox", read_only=True)
    time_zone = serializers.CharField(read_only=True)
    teams = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    working_days = serializers.SerializerMethodField(help_text="Weekday numbers, 0 = Monday (with the global default).")
    working_hours_start = serializers.SerializerMethodField(help_text="HH:MM on the technician's own clock.")
    working_hours_end = serializers.SerializerMethodField(
        help_text="HH:MM on the technician's own clock; at or before the start: on the next day (a night shift)."
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "username",
            "name",
            "email",
            "colour",
            "time_zone",
            "working_days",
            "working_hours_start",
            "working_hours_end",
            "holiday_country",
            "holiday_region",
            "calendar_shown",
            "is_active",
            "teams",
        ]

    def _hours(self, agent: Agent):
        if "calendar_settings" not in self.context:
            self.context["calendar_settings"] = CalendarSettings.load()
        return working_hours(agent, self.context["calendar_settings"])

    def get_working_days(self, agent: Agent) -> list[int]:
        return list(self._hours(agent).days)

    def get_working_hours_start(self, agent: Agent) -> str:
        return self._hours(agent).start.strftime("%H:%M")

    def get_working_hours_end(self, agent: Agent) -> str:
        return self._hours(agent).end.strftime("%H:%M")


class TeamSerializer(KnownFields, serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "members"]


class AgentFilter(ParameterFilterSet):
    """The list's query parameters; calendars.selectors.calendar_agents applies them."""

    team = IdFilter(label="team", help_text="Only members of this team.")
    id = IdsFilter(label="id", help_text="Only these technicians (repeat the parameter).")

    class Meta:
        model = Agent
        fields: list[str] = []

    def select(self, queryset, *, team, id):
        return calendar_agents(ids=id, team=team, base=queryset)


class AgentViewSet(KnownQueryParameters, viewsets.ReadOnlyModelViewSet):
    """Active technicians with their colour and effective working hours."""

    serializer_class = AgentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AgentFilter

    def get_queryset(self):
        return calendar_agents() if self.action != "list" else Agent.objects.all()

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset


class TeamViewSet(KnownQueryParameters, viewsets.ReadOnlyModelViewSet):
    """Teams with their members' ids."""

    serializer_class = TeamSerializer
    queryset = Team.objects.prefetch_related("members")
