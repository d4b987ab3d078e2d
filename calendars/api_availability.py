"""Dispatch over REST (issue 15): free slots (`/api/availability/`) and the 409 answer of a write
that would double-book.

Reads go through calendars.availability (itself through the selectors); the answer's times are
ISO 8601 in the caller's zone (the technician's own, for session and token users alike).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
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
from calendars.selectors import calendar_agents, team_size, unknown_choices
from calendars.services import OverlapWarning
from calendars.times import midnight, next_whole_hour
from helpdesk import permissions
from helpdesk.api_common import IdSerializerField, KnownQueryParameters, MinutesSerializerField, NamedChoiceField
from helpdesk.limits import SupportedDateTimeSerializerField
from helpdesk.moments import end_before_start_text, when_text

MAX_PERIOD = timedelta(days=62)


class OverlapSerializer(serializers.Serializer):
    """An entry in the way, without private details."""

    agent = serializers.IntegerField(source="agent_id")
    agent_name = serializers.CharField()
    start = serializers.DateTimeField(
        help_text="An all-day entry: the midnight its first day begins on this technician's clock."
    )
    end = serializers.DateTimeField(
        help_text="An all-day entry: the midnight after its last day on this technician's clock."
    )
    external = serializers.BooleanField(help_text="Imported busy time from the technician's external calendar.")
    subject = serializers.CharField(help_text="Empty for imported and private entries.")
    message = serializers.CharField()


class OutsideSpanSerializer(serializers.Serializer):
    """One part of a booking outside a technician's working hours: [start, end), instants."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class OutsideHoursSerializer(serializers.Serializer):
    """A technician whose working hours (days, hours, public holidays) a booking leaves."""

    agent = serializers.IntegerField(source="agent_id")
    agent_name = serializers.CharField()
    start = serializers.DateTimeField(
        help_text="Where the first part outside working hours starts (with `end`: the hull of `spans`, which may "
        "hold working hours between its parts; read `spans` for the parts)."
    )
    end = serializers.DateTimeField(help_text="Where the last part outside working hours ends.")
    spans = serializers.SerializerMethodField(
        help_text="Each part outside the technician's working hours, days and public holidays, in order: the "
        "hours before or after their working day and the days they do not work, on their own wall clock, "
        "as instants [start, end). A split booked over two days outside the evening of one and the morning "
        "of the next gives two parts, not the night between."
    )
    working_hours = serializers.CharField(help_text='On the technician\'s clock: "Mon–Fri 08:00–17:00 Europe/London".')
    holidays = serializers.ListField(child=serializers.CharField(), help_text="Public holidays among those parts.")
    message = serializers.CharField()

    @extend_schema_field(OutsideSpanSerializer(many=True))
    def get_spans(self, outside) -> list[dict]:
        """`outside.spans` (a selectors.OutsideHours: the parts outside the technician's working
        hours, aware UTC instants, in order) as OutsideSpanSerializer dicts {"start", "end"}, each
        [start, end) and written as the API writes every instant."""
        return [OutsideSpanSerializer({"start": begin, "end": finish}).data for begin, finish in outside.spans]


class OverlapConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    overlaps = OverlapSerializer(many=True)
    outside_working_hours = OutsideHoursSerializer(
        many=True,
        required=False,
        help_text="Bookings (book-slot, book-split): the technicians whose working hours the time leaves.",
    )


OVERLAP_RESPONSE = OpenApiResponse(
    OverlapConflictSerializer,
    description=(
        "The time overlaps other busy entries of these technicians (`overlaps`), or a booking leaves their "
        "working hours (`outside_working_hours`); send again with "
        '"confirm_overlap": true in the JSON body (a query parameter answers 400).'
    ),
)


def overlap_answers(serializer: type[serializers.Serializer]):
    """The schema of a viewset whose saves may answer 409 (OVERLAP_RESPONSE): create (201),
    update and partial update (200) answer `serializer` otherwise. A class decorator."""
    return extend_schema_view(
        create=extend_schema(responses={201: serializer, 409: OVERLAP_RESPONSE}),
        update=extend_schema(responses={200: serializer, 409: OVERLAP_RESPONSE}),
        partial_update=extend_schema(responses={200: serializer, 409: OVERLAP_RESPONSE}),
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
        if warning.outside:
            self.detail["outside_working_hours"] = [
                {**OutsideHoursSerializer(outside).data, "message": outside.message(zone)}
                for outside in warning.outside
            ]


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


# The period of a query that names none: today and the next six days on the caller's clock.
DEFAULT_PERIOD = timedelta(days=7)


def default_period() -> tuple[datetime, datetime]:
    """From today's midnight on the caller's wall clock, DEFAULT_PERIOD long."""
    start = midnight(timezone.localdate(), timezone.get_current_timezone())
    return start, start + DEFAULT_PERIOD


class PeriodQuerySerializer(serializers.Serializer):
    """Technicians (or a team) and a period, as the calendar widget asks for its window. Neither
    technicians nor team: the caller's own calendar, or every active technician for a coordinator
    without one (see `chosen_agents`). Neither start nor end: today and the next six days."""

    agent = serializers.ListField(
        child=IdSerializerField(name="agent"),
        required=False,
        help_text="Technicians (repeat the parameter). Neither technicians nor a team: your own calendar, or "
        f"every active technician (at most {MAX_TECHNICIANS}) if you have none.",
    )
    team = IdSerializerField(name="team", required=False, help_text="Or the members of this team.")
    start = SupportedDateTimeSerializerField(
        required=False,
        help_text="Period start; a naive time is on your wall clock. Neither start nor end: today's midnight on "
        "your clock, seven days (today and the next six).",
    )
    end = SupportedDateTimeSerializerField(
        required=False, help_text=f"Period end; at most {MAX_PERIOD.days} days after the start."
    )

    def default_start_end(self, attrs: dict) -> None:
        """Fills in a period that names neither end; a half period is refused."""
        if "start" not in attrs and "end" not in attrs:
            attrs["start"], attrs["end"] = default_period()
        for field in ("start", "end"):
            if field not in attrs:
                raise serializers.ValidationError({field: [f"Give {field} too, or neither start nor end."]})

    def validate(self, attrs: dict) -> dict:
        self.default_start_end(attrs)
        # Without an end (availability only), the search itself stops at the calendars' horizon.
        end = attrs.get("end", attrs["start"] + MAX_PERIOD)
        if end <= attrs["start"]:
            written = {name: getattr(self, "initial_data", {}).get(name) for name in ("start", "end")}
            problem = end_before_start_text(written, timezone.get_current_timezone(), read=(attrs["start"], end))
            raise serializers.ValidationError({"end": [problem]})
        if end - attrs["start"] > MAX_PERIOD:
            raise serializers.ValidationError({"end": [f"Ask for at most {MAX_PERIOD.days} days at a time."]})
        if len(attrs.get("agent", [])) > MAX_TECHNICIANS:
            raise serializers.ValidationError({"agent": [f"Choose at most {MAX_TECHNICIANS} technicians."]})
        problems = unknown_choices(agent_ids=attrs.get("agent"), team=attrs.get("team"))
        if problems:
            raise serializers.ValidationError({name: [problem] for name, problem in problems.items()})
        if attrs.get("team") and not attrs.get("agent") and team_size(attrs["team"]) > MAX_TECHNICIANS:
            # The same bound as a list of technicians: a team is not a way around it (review fault 12).
            raise serializers.ValidationError(
                {"team": [f"This team has more than {MAX_TECHNICIANS} technicians: choose at most that many."]}
            )
        return attrs

    @classmethod
    def of(cls, request) -> dict:
        """The validated query of `request` (agent may repeat); ValidationError (400) otherwise."""
        query = cls(data={**request.query_params.dict(), "agent": request.query_params.getlist("agent")})
        query.is_valid(raise_exception=True)
        return query.validated_data


def minutes_field(low: int, high: int, help_text: str, **kwargs) -> MinutesSerializerField:
    """Whole minutes from `low` to `high`, bare or as an ISO 8601 duration (`MinutesSerializerField`),
    every refusal saying the unit, the forms and the range."""
    return MinutesSerializerField(low=low, high=high, help_text=help_text, **kwargs)


class TravelAndNoticeSerializer(serializers.Serializer):
    """The options of a slot search that the availability query and a request's "Find a slot"
    share: travel kept free around busy time and the minimum notice, both in minutes."""

    buffer = minutes_field(0, MAX_BUFFER // timedelta(minutes=1), "Minutes, each side.", default=0)
    notice = minutes_field(0, MAX_NOTICE // timedelta(minutes=1), "Minutes from now.", default=0)


class AvailabilityQuerySerializer(TravelAndNoticeSerializer, PeriodQuerySerializer):
    start = SupportedDateTimeSerializerField(
        required=False, help_text="Search from; a naive time is on your wall clock. Left out: the next whole hour."
    )
    end = SupportedDateTimeSerializerField(
        required=False,
        help_text=f"Period end; at most {MAX_PERIOD.days} days after the start. Leave it out to search as far "
        "ahead as the calendars are known (the import window's future days), stopping at `limit` slots.",
    )
    duration = minutes_field(5, 24 * 60 * 5, "Minutes. Left out: the default estimate.", required=False)
    mode = NamedChoiceField(
        choices=[m.value for m in Mode],
        required=False,
        help_text="Left out: together, or any one when neither technicians nor a team are given.",
    )
    step = minutes_field(5, 24 * 60, "Minutes.", default=30)
    limit = serializers.IntegerField(
        min_value=1, max_value=500, default=20, help_text="At most this many slots, earliest first."
    )

    def default_start_end(self, attrs: dict) -> None:
        # The next whole hour on the caller's wall clock, as the page's slot proposals
        # (tickets.selectors.slot_proposals): starts then fall on the 30-minute grid there.
        attrs.setdefault("start", next_whole_hour(timezone.now(), timezone.get_current_timezone()))


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


def chosen_agents(user, data: dict) -> tuple[list[Agent], bool]:
    """(technicians, whether they were chosen) for a validated PeriodQuerySerializer query:
    those named, or the team's; else the user's own technician; else, for a user without one,
    every active technician. Raises ValidationError (400) when that is more than MAX_TECHNICIANS."""
    if data.get("agent") or data.get("team"):
        return available_agents(data.get("agent"), data.get("team")), True
    own = permissions.agent_of(user)
    if own is not None:
        return available_agents([own.pk], None), False
    everyone = list(calendar_agents()[: MAX_TECHNICIANS + 1])
    if len(everyone) > MAX_TECHNICIANS:
        raise serializers.ValidationError(
            {"agent": [f"Choose technicians or a team: there are more than {MAX_TECHNICIANS}."]}
        )
    return everyone, False


def _check_may_look(user, refusal: str) -> None:
    """403 saying `refusal` unless the user is a technician or a coordinator: others have no
    business reading technicians' free time, hours or holidays."""
    if permissions.agent_of(user) is None and not permissions.is_coordinator(user):
        raise PermissionDenied(refusal)


class AvailabilityView(KnownQueryParameters, APIView):
    """Free slots of technicians for a piece of work: in their working hours and zones, outside
    helpdesk appointments, imported busy time and their public holidays."""

    query_serializer = AvailabilityQuerySerializer

    @extend_schema(
        responses={
            200: AvailabilitySerializer,
            400: OpenApiResponse(description="A parameter is refused: messages by field."),
            403: OpenApiResponse(description="Only technicians and coordinators may look for free slots."),
        },
        operation_id="availability",
    )
    def get(self, request):
        _check_may_look(request.user, "Only technicians and coordinators may look for free slots.")
        data = AvailabilityQuerySerializer.of(request)
        agents, chosen = chosen_agents(request.user, data)
        settings = CalendarSettings.load()
        duration = timedelta(minutes=data["duration"]) if "duration" in data else settings.default_estimate
        # Everyone together is rarely free: a query naming nobody asks who is free first.
        mode = Mode(data.get("mode") or (Mode.TOGETHER if chosen or len(agents) == 1 else Mode.ANY))
        options = Options(
            duration=duration,
            mode=mode,
            buffer=timedelta(minutes=data["buffer"]),
            notice=timedelta(minutes=data["notice"]),
            step=timedelta(minutes=data["step"]),
            limit=data["limit"],
        )
        now = timezone.now()
        if "end" in data:
            found = Search(
                find_slots_for(
                    agents, start=data["start"], end=data["end"], options=options, now=now, settings=settings
                ),
                data["start"],
                data["end"],
            )
        else:
            horizon = search_horizon(settings, now)
            if data["start"] >= horizon:
                raise serializers.ValidationError(
                    {"start": [f"Give a start before {when_text(horizon)}: the calendars are not known further."]}
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


class WorkingHoursView(KnownQueryParameters, APIView):
    """Each technician's working hours and public holidays within a period, read on their own wall
    clock (zone, working days, hours, holidays of their country and region: what the free slots
    use), answered in the caller's zone so the calendar shades and checks them without zone
    arithmetic of its own."""

    query_serializer = PeriodQuerySerializer

    @extend_schema(
        responses={
            200: WorkingHoursSerializer,
            400: OpenApiResponse(
                description="A parameter is refused (an unknown technician or team): messages by field."
            ),
            403: OpenApiResponse(description="Only technicians and coordinators may read working hours."),
        },
        operation_id="working_hours",
    )
    def get(self, request):
        # Whose hours and holidays: as free slots, for technicians and coordinators only (fault 12).
        _check_may_look(request.user, "Only technicians and coordinators may read working hours.")
        data = PeriodQuerySerializer.of(request)
        agents, _ = chosen_agents(request.user, data)
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
