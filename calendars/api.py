"""Appointments over REST: what the calendar widget reads and writes, and what integrators use.

Writes go through calendars.services, so the rules of the pages hold here too; an imported
private entry comes out as busy time with "Data unavailable" and nothing else (S2.5).
"""

from datetime import timedelta

from django.db import models
from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from agents.models import Agent
from calendars import privacy, services
from calendars.api_availability import OVERLAP_RESPONSE, overlap_conflicts
from calendars.models import MAX_OTHER_ATTENDEES, Appointment, CalendarSettings
from calendars.selectors import calendar_appointments
from helpdesk import permissions
from helpdesk.api_common import Pages, parse_bool, parse_id, parse_ids, parse_moment, service_errors
from helpdesk.limits import SupportedDateTimeSerializerField
from tickets.models import Request

# The widget asks week by week; a year is plenty for any one call and keeps answers bounded.
MAX_WINDOW = timedelta(days=400)


def appointment_colour(appointment: Appointment, settings: CalendarSettings, today) -> str:
    """Today's planned requests stand out (S2.3); otherwise the first technician's colour."""
    if appointment.source == Appointment.Source.PLANNED and timezone.localdate(appointment.start) == today:
        return settings.planned_today_colour
    agents = list(appointment.agents.all())
    return agents[0].colour if agents else settings.default_colour


def _one_appointment():
    """Any single appointment, recurring masters included (to edit a whole series)."""
    return Appointment.objects.select_related("schedule").prefetch_related(
        Prefetch("agents", queryset=Agent.objects.select_related("user"))
    )


class AppointmentSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: SupportedDateTimeSerializerField,
    }
    agents = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Agent.objects.filter(is_active=True), allow_empty=False
    )
    other_attendees = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=MAX_OTHER_ATTENDEES
    )
    request = serializers.PrimaryKeyRelatedField(queryset=Request.objects.all(), required=False, allow_null=True)
    reminder_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=40320)
    is_recurring = serializers.SerializerMethodField()
    data_unavailable = serializers.SerializerMethodField(help_text="An imported private entry: only its time is shown.")
    colour = serializers.SerializerMethodField()
    can_edit = serializers.SerializerMethodField()
    confirm_overlap = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Save even if the time overlaps other busy entries (else 409 naming them).",
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "subject",
            "note",
            "location",
            "start",
            "end",
            "all_day",
            "start_date",
            "end_date",
            "agents",
            "other_attendees",
            "source",
            "request",
            "action",
            "private",
            "busy",
            "reminder_minutes",
            "master",
            "is_recurring",
            "is_cancelled",
            "data_unavailable",
            "colour",
            "can_edit",
            "sequence",
            "created_at",
            "updated_at",
            "confirm_overlap",
        ]
        read_only_fields = [
            "start_date",
            "end_date",
            "source",
            "action",
            "master",
            "is_cancelled",
            "sequence",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"subject": {"max_length": 255}, "note": {"max_length": 20000}}
        # The model's constraints concern planned entries and occurrences, which only services make.
        validators = []

    def _settings(self) -> CalendarSettings:
        # Loaded once per response, not once per entry.
        if "calendar_settings" not in self.context:
            self.context["calendar_settings"] = CalendarSettings.load()
        return self.context["calendar_settings"]

    def get_is_recurring(self, appointment: Appointment) -> bool:
        return appointment.master_id is not None

    def get_data_unavailable(self, appointment: Appointment) -> bool:
        return permissions.is_hidden(appointment)

    def get_colour(self, appointment: Appointment) -> str:
        return appointment_colour(appointment, self._settings(), self.context.setdefault("today", timezone.localdate()))

    def get_can_edit(self, appointment: Appointment) -> bool:
        return permissions.can_edit_appointment(self.context["request"].user, appointment)

    def to_representation(self, appointment: Appointment) -> dict:
        data = super().to_representation(appointment)
        if privacy.is_hidden(appointment):
            shown = privacy.shown(appointment)
            data.update(
                subject=shown["subject"],
                note=shown["note"],
                location=shown["location"],
                other_attendees=shown["other_attendees"],
                request=shown["request_id"],
            )
        return data

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class ReassignSerializer(serializers.Serializer):
    from_agent = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.all(), required=False, allow_null=True, help_text="Leave empty to add a technician."
    )
    to_agent = serializers.PrimaryKeyRelatedField(queryset=Agent.objects.filter(is_active=True))
    confirm_overlap = serializers.BooleanField(required=False, default=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, description="Entries ending after this moment."),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="Entries starting before this moment."),
            OpenApiParameter("agent", OpenApiTypes.INT, many=True, explode=True, description="On these technicians."),
            OpenApiParameter("team", OpenApiTypes.INT, description="On members of this team."),
            OpenApiParameter("source", OpenApiTypes.STR, enum=Appointment.Source.values),
            OpenApiParameter("request", OpenApiTypes.INT, description="Of this request."),
            OpenApiParameter("recurring", OpenApiTypes.BOOL, description="Only occurrences of recurring series."),
        ]
    ),
    create=extend_schema(responses={201: AppointmentSerializer, 409: OVERLAP_RESPONSE}),
    update=extend_schema(responses={200: AppointmentSerializer, 409: OVERLAP_RESPONSE}),
    partial_update=extend_schema(responses={200: AppointmentSerializer, 409: OVERLAP_RESPONSE}),
)
class AppointmentViewSet(viewsets.ModelViewSet):
    """Calendar entries. Recurring masters are not listed: their occurrences stand for them."""

    serializer_class = AppointmentSerializer
    pagination_class = Pages

    def get_queryset(self):
        if self.action != "list":
            return _one_appointment()
        params = self.request.query_params
        start = parse_moment(params["start"], "start") if params.get("start") else None
        end = parse_moment(params["end"], "end") if params.get("end") else None
        if start and end and end - start > MAX_WINDOW:
            raise serializers.ValidationError({"end": [f"Ask for at most {MAX_WINDOW.days} days at a time."]})
        source = params.get("source") or None
        if source and source not in Appointment.Source.values:
            choices = ", ".join(Appointment.Source.values)
            raise serializers.ValidationError({"source": [f"Choose one of: {choices}."]})
        return calendar_appointments(
            start,
            end,
            agents=parse_ids(params.getlist("agent"), "agent"),
            team=parse_id(params.get("team"), "team"),
            source=source,
            request=parse_id(params.get("request"), "request"),
            recurring_only=parse_bool(params.get("recurring")),
        )

    def perform_create(self, serializer: AppointmentSerializer) -> None:
        data = dict(serializer.validated_data)
        confirmed = data.pop("confirm_overlap", False)
        user = self.request.user
        if not permissions.can_create_appointment(user, agents=data["agents"], request=data.get("request")):
            raise PermissionDenied("You may create appointments only on your own calendar or on your requests.")
        with service_errors(), overlap_conflicts():
            serializer.instance = services.create_appointment(by=user, check_overlap=not confirmed, **data)

    def perform_update(self, serializer: AppointmentSerializer) -> None:
        appointment = serializer.instance
        self._check_edit(appointment)
        data = dict(serializer.validated_data)
        data.pop("request", None)  # an appointment stays with its request
        confirmed = data.pop("confirm_overlap", False)
        agents = data.pop("agents", None)
        if agents is not None and not permissions.can_change_agents(self.request.user, appointment, agents):
            raise PermissionDenied("You may not put this appointment on other technicians' calendars.")
        with service_errors(), overlap_conflicts():
            serializer.instance = services.update_appointment(
                appointment, by=self.request.user, agents=agents, check_overlap=not confirmed, **data
            )

    def perform_destroy(self, appointment: Appointment) -> None:
        if not permissions.can_delete_appointment(self.request.user, appointment):
            raise PermissionDenied("You may not delete this appointment.")
        with service_errors():
            services.delete_appointment(appointment, by=self.request.user)

    def _check_edit(self, appointment: Appointment) -> None:
        if not permissions.can_edit_appointment(self.request.user, appointment):
            raise PermissionDenied("You may not change this appointment.")

    @extend_schema(request=ReassignSerializer, responses={200: AppointmentSerializer, 409: OVERLAP_RESPONSE})
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        """Move the entry from one technician's calendar to another's (drag on the group calendar)."""
        appointment = self.get_object()
        self._check_edit(appointment)
        serializer = ReassignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        from_agent = serializer.validated_data.get("from_agent")
        to_agent = serializer.validated_data["to_agent"]
        agents = [agent for agent in appointment.agents.all() if from_agent is None or agent.pk != from_agent.pk]
        if not permissions.can_change_agents(request.user, appointment, [*agents, to_agent]):
            raise PermissionDenied("You may not put this appointment on other technicians' calendars.")
        with service_errors(), overlap_conflicts():
            appointment = services.reassign_appointment(
                appointment,
                from_agent=from_agent,
                to_agent=to_agent,
                by=request.user,
                check_overlap=not serializer.validated_data["confirm_overlap"],
            )
        appointment = _one_appointment().get(pk=appointment.pk)
        return Response(AppointmentSerializer(appointment, context=self.get_serializer_context()).data)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        return self._fresh(response, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        return self._fresh(response, status.HTTP_200_OK)

    def _fresh(self, response: Response, code: int) -> Response:
        """Answer with the stored appointment as the list shows it (colour, technicians)."""
        appointment = _one_appointment().filter(pk=response.data["id"]).first()
        if appointment is None:
            return response
        return Response(AppointmentSerializer(appointment, context=self.get_serializer_context()).data, status=code)
