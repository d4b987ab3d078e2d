"""Dispatch over REST (issue 15): free slots (`/api/availability/`) and the 409 answer of a write
that would double-book.

Reads go through calendars.availability (itself through the selectors); the answer's times are
ISO 8601 in the caller's zone (the technician's own, for session and token users alike).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from calendars.availability import (
    MAX_BUFFER,
    MAX_NOTICE,
    MAX_TECHNICIANS,
    Mode,
    Options,
    Search,
    find_slots_for,
    search_horizon,
    search_slots_for,
    working_time_for,
)
from calendars.models import CalendarSettings
from calendars.selectors import calendar_agents
from calendars.services import OverlapWarning
from helpdesk import permissions
from helpdesk.limits import SupportedDateTimeSerializerField

MAX_PERIOD = timedelta(days=62)


class OverlapSerializer(serializers.Serializer):
    """An entry in the way, without private details."""

    agent = serializers.IntegerField(source="agent_id")
    agent_name = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    external = serializers.BooleanField(help_text="Imported busy time from the technician's external calendar.")
    subject = serializers.CharField(help_text="Empty for imported and private entries.")
    message = serializers.CharField()


class OverlapConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    overlaps = OverlapSerializer(many=True)


OVERLAP_RESPONSE = OpenApiResponse(
    OverlapConflictSerializer,
    description=(
        "The time overlaps other busy entries of these technicians; send again with "
        '"confirm_overlap": true in the JSON body (a query parameter answers 400).'
    ),
)


class OverlapConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "overlap"

    def __init__(self, warning: OverlapWarning) -> None:
        zone = timezone.get_current_timezone()
        overlaps = [
            {**OverlapSerializer(overlap).data, "message": overlap.message(zone)} for overlap in warning.overlaps
        ]
        super().__init__(detail=warning.messages[0])
        # APIException turns every value of a dict detail into a string ("1", "False"); the
        # answer keeps the JSON types of OverlapConflictSerializer instead.
        self.detail = {"detail": self.detail, "overlaps": overlaps}


CONFIRM_OVERLAP_IN_BODY = (
    'confirm_overlap is a field of the JSON request body ({"confirm_overlap": true}), not a query parameter: '
    "send it in the body. Nothing was saved."
)


class ConfirmOverlapInBody:
    """For viewsets whose writes take `confirm_overlap`: it is a body field only. Sent as a query
    parameter it would be ignored and the write answer 409 anyway, which reads as if the
    confirmation did not count; so a write with `?confirm_overlap=` answers 400 naming the body
    field, before anything is written (after authentication and permissions, which come first)."""

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS and "confirm_overlap" in request.query_params:
            raise serializers.ValidationError({"confirm_overlap": [CONFIRM_OVERLAP_IN_BODY]})


@contextmanager
def overlap_conflicts() -> Iterator[None]:
    """A service's OverlapWarning becomes a 409 naming the overlaps."""
    try:
        yield
    except OverlapWarning as warning:
        raise OverlapConflict(warning) from warning


class PeriodQuerySerializer(serializers.Serializer):
    """Technicians (or a team) and a period, as the calendar widget asks for its window."""

    agent = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="Technicians (repeat the parameter)."
    )
    team = serializers.IntegerField(required=False, min_value=1, help_text="Or the members of this team.")
    start = SupportedDateTimeSerializerField(help_text="Period start; a naive time is on your wall clock.")
    end = SupportedDateTimeSerializerField(help_text=f"Period end; at most {MAX_PERIOD.days} days after the start.")

    def validate(self, attrs: dict) -> dict:
        # Without an end (availability only), the search itself stops at the calendars' horizon.
        end = attrs.get("end", attrs["start"] + MAX_PERIOD)
        if end <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        if end - attrs["start"] > MAX_PERIOD:
            raise serializers.ValidationError({"end": [f"Ask for at most {MAX_PERIOD.days} days at a time."]})
        if not attrs.get("agent") and not attrs.get("team"):
            raise serializers.ValidationError({"agent": ["Choose technicians or a team."]})
        if len(attrs.get("agent", [])) > MAX_TECHNICIANS:
            raise serializers.ValidationError({"agent": [f"Choose at most {MAX_TECHNICIANS} technicians."]})
        return attrs

    @classmethod
    def of(cls, request) -> dict:
        """The validated query of `request` (agent may repeat); ValidationError (400) otherwise."""
        query = cls(data={**request.query_params.dict(), "agent": request.query_params.getlist("agent")})
        query.is_valid(raise_exception=True)
        return query.validated_data


class AvailabilityQuerySerializer(PeriodQuerySerializer):
    end = SupportedDateTimeSerializerField(
        required=False,
        help_text=f"Period end; at most {MAX_PERIOD.days} days after the start. Leave it out to search as far "
        "ahead as the calendars are known (the import window's future days), stopping at `limit` slots.",
    )
    duration = serializers.IntegerField(min_value=5, max_value=24 * 60 * 5, help_text="Minutes.")
    mode = serializers.ChoiceField(choices=[m.value for m in Mode], default=Mode.TOGETHER.value)
    buffer = serializers.IntegerField(
        min_value=0, max_value=MAX_BUFFER // timedelta(minutes=1), default=0, help_text="Minutes, each side."
    )
    notice = serializers.IntegerField(
        min_value=0, max_value=MAX_NOTICE // timedelta(minutes=1), default=0, help_text="Minutes from now."
    )
    step = serializers.IntegerField(min_value=5, max_value=24 * 60, default=30, help_text="Minutes.")
    limit = serializers.IntegerField(min_value=1, max_value=500, default=20)


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    agents = serializers.ListField(
        child=serializers.IntegerField(), source="agent_ids", help_text="Free for all of it; fairest first."
    )


class AvailabilitySerializer(serializers.Serializer):
    agents = serializers.DictField(child=serializers.CharField(), help_text="Names of the technicians, by id.")
    slots = SlotSerializer(many=True)
    searched_from = serializers.DateTimeField(help_text="Start of the period searched.")
    searched_until = serializers.DateTimeField(
        help_text="End of the period searched: with fewer slots than the limit, nothing else is free before it."
    )


def available_agents(agent_ids: list[int] | None, team: int | None) -> list[Agent]:
    """The active technicians chosen, or the team's members, with their users (for names)."""
    return list(calendar_agents(ids=agent_ids or None, team=team))


class AvailabilityView(APIView):
    """Free slots of technicians for a piece of work: in their working hours and zones, outside
    helpdesk appointments, imported busy time and their public holidays."""

    @extend_schema(
        parameters=[AvailabilityQuerySerializer],
        responses={200: AvailabilitySerializer},
        operation_id="availability",
    )
    def get(self, request):
        if permissions.agent_of(request.user) is None and not permissions.is_coordinator(request.user):
            raise PermissionDenied("Only technicians and coordinators may look for free slots.")
        data = AvailabilityQuerySerializer.of(request)
        agents = available_agents(data.get("agent"), data.get("team"))
        options = Options(
            duration=timedelta(minutes=data["duration"]),
            mode=Mode(data["mode"]),
            buffer=timedelta(minutes=data["buffer"]),
            notice=timedelta(minutes=data["notice"]),
            step=timedelta(minutes=data["step"]),
            limit=data["limit"],
        )
        now = timezone.now()
        if "end" in data:
            found = Search(
                find_slots_for(agents, start=data["start"], end=data["end"], options=options, now=now),
                data["start"],
                data["end"],
            )
        else:
            settings = CalendarSettings.load()
            horizon = search_horizon(settings, now)
            if data["start"] >= horizon:
                raise serializers.ValidationError(
                    {"start": [f"Give a start before {horizon:%Y-%m-%d}: the calendars are not known further."]}
                )
            found = search_slots_for(
                agents, start=data["start"], horizon=horizon, options=options, now=now, settings=settings
            )
        answer = {
            "agents": {str(agent.pk): agent.name for agent in agents},
            "slots": found.slots,
            "searched_from": found.start,
            "searched_until": found.end,
        }
        return Response(AvailabilitySerializer(answer).data)


class IntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class DayOffSerializer(IntervalSerializer):
    name = serializers.CharField()


class WorkingHoursSerializer(serializers.Serializer):
    agents = serializers.DictField(
        child=IntervalSerializer(many=True), help_text="Working hours within the period, by technician id."
    )
    days_off = serializers.DictField(
        child=DayOffSerializer(many=True),
        help_text="Public holidays on working days, by technician id: midnight to midnight on the technician's "
        "clock (on yours it may span parts of two days).",
    )


class WorkingHoursView(APIView):
    """Each technician's working hours and public holidays within a period, read on their own wall
    clock (zone, working days, hours, holidays of their country and region: what the free slots
    use), answered in the caller's zone so the calendar shades and checks them without zone
    arithmetic of its own."""

    @extend_schema(
        parameters=[PeriodQuerySerializer],
        responses={200: WorkingHoursSerializer},
        operation_id="working_hours",
    )
    def get(self, request):
        data = PeriodQuerySerializer.of(request)
        agents = available_agents(data.get("agent"), data.get("team"))
        found = working_time_for(agents, start=data["start"], end=data["end"])
        answer = {
            "agents": {
                str(agent_id): [{"start": b, "end": e} for b, e in hours] for agent_id, (hours, _) in found.items()
            },
            "days_off": {
                str(agent_id): [{"start": b, "end": e, "name": name} for b, e, name in off]
                for agent_id, (_, off) in found.items()
            },
        }
        return Response(WorkingHoursSerializer(answer).data)
