"""Requests and their actions over REST, through the same services as the pages."""

from datetime import timedelta

from django.db import models
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from agents.models import Agent, Team
from calendars.api_availability import (
    OVERLAP_RESPONSE,
    ConfirmOverlapInBody,
    SlotSerializer,
    TravelAndNoticeSerializer,
    overlap_answers,
    overlap_conflicts,
)
from calendars.models import CalendarSettings
from calendars.times import midnight
from helpdesk import permissions
from helpdesk.api_common import (
    IdFilter,
    IdsFilter,
    KnownFields,
    KnownQueryParameters,
    Pages,
    ParameterFilterSet,
    SpelledDurationField,
    choice_filter,
    service_errors,
)
from helpdesk.limits import SupportedDateTimeSerializerField
from tickets import selectors, services
from tickets.models import Action, HistoryLine, Request

MAX_DURATION = timedelta(days=366)


def _check_duration(value: timedelta | None, *, allow_zero: bool) -> timedelta | None:
    if value is None:
        return value
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero):
        raise serializers.ValidationError("Give a duration longer than zero.")
    if value > MAX_DURATION:
        raise serializers.ValidationError("Give a duration of at most a year.")
    return value


class HistoryLineSerializer(serializers.ModelSerializer):
    """A line of the request's history (`tickets.models.HistoryLine`): what changed the request from
    outside its pages (its planned appointment deleted in a technician's calendar), and when."""

    text = serializers.CharField(
        source="shown",
        read_only=True,
        help_text="The line, its times on the signed-in user's clock with the zone's abbreviation.",
    )
    at = SupportedDateTimeSerializerField(source="created_at", read_only=True)

    class Meta:
        model = HistoryLine
        fields = ["text", "agent", "at"]
        read_only_fields = fields


class RequestSerializer(KnownFields, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: SupportedDateTimeSerializerField,
        models.DurationField: SpelledDurationField,
    }
    number = serializers.IntegerField(source="pk", read_only=True)
    assigned_agents = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Agent.objects.filter(is_active=True), required=False
    )
    can_edit = serializers.SerializerMethodField()
    history = HistoryLineSerializer(many=True, read_only=True)
    confirm_overlap = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text=(
            "A JSON body field, not a query parameter: plan even if the planned time overlaps busy entries "
            "of its technicians or leaves their working hours (else 409 naming them)."
        ),
    )

    class Meta:
        model = Request
        fields = [
            "id",
            "number",
            "summary",
            "description",
            "customer",
            "site",
            "status",
            "assigned_agents",
            "planned_start",
            "estimate",
            "planned_length",
            "can_edit",
            "history",
            "created_at",
            "updated_at",
            "confirm_overlap",
        ]
        extra_kwargs = {"description": {"max_length": 50000}}
        read_only_fields = ["planned_length"]

    def get_can_edit(self, request: Request) -> bool:
        return permissions.can_edit_request(self.context["request"].user, request)

    def validate_estimate(self, value):
        return _check_duration(value, allow_zero=False)


class ActionSerializer(KnownFields, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: SupportedDateTimeSerializerField,
        models.DurationField: SpelledDurationField,
    }
    agent = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.filter(is_active=True),
        required=False,
        help_text="The technician who did the work; yours if left out.",
    )
    appointment = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Action
        fields = ["id", "request", "agent", "note", "done_at", "time_taken", "add_to_calendar", "appointment"]
        read_only_fields = ["request"]
        extra_kwargs = {"note": {"max_length": 50000}}

    def validate_time_taken(self, value):
        return _check_duration(value, allow_zero=True)

    def validate_add_to_calendar(self, value: bool) -> bool:
        if value and not CalendarSettings.load().show_add_to_calendar:
            raise serializers.ValidationError("Adding actions to the calendar is switched off.")
        return value


class RequestFilter(ParameterFilterSet):
    """The list's query parameters; tickets.selectors.request_list applies them."""

    status = choice_filter(Request.Status.choices, help_text="In this status.")
    agent = IdsFilter(label="agent", help_text="Assigned to these (repeat the parameter).")
    team = IdFilter(label="team", help_text="Assigned to members of this team.")
    search = filters.CharFilter(help_text="Number, summary, customer or site.")

    class Meta:
        model = Request
        fields: list[str] = []

    def select(self, queryset, *, status, agent, team, search):
        return selectors.request_list(
            status=status or None, agents=agent, team=team, search=(search or "")[:200], base=queryset
        )


class FindSlotQuerySerializer(TravelAndNoticeSerializer):
    """ "Find a slot" on a request, as on its page."""

    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        required=False,
        help_text="Anyone of this team, least booked first; left out: the assigned technicians together.",
    )
    after = serializers.DateField(
        required=False, help_text="Search from this day (from its midnight on your wall clock) instead of from now."
    )
    count = serializers.IntegerField(
        min_value=1,
        max_value=50,
        default=selectors.PROPOSALS,
        help_text="At most this many slots, a spread of choices: one per technician per morning or afternoon "
        "first (on your wall clock), then the earliest others; in time order.",
    )


class PartSerializer(KnownFields, serializers.Serializer):
    start = SupportedDateTimeSerializerField()
    end = SupportedDateTimeSerializerField()


class SplitSerializer(KnownFields, serializers.Serializer):
    """Work longer than a working day, proposed in parts (calendars.availability.Split)."""

    parts = PartSerializer(many=True, help_text="In order, on consecutive working days; each at least an hour.")
    agents = serializers.ListField(
        child=serializers.IntegerField(),
        source="agent_ids",
        help_text="The same technician for every part (a team), or the assigned technicians together.",
    )


class SlotProposalsSerializer(serializers.Serializer):
    # Durations are written out across the API ("01:30:00", as a request's `estimate` is answered
    # and taken; README "/api/"); this answer gave minutes as a bare number (trial fault 13).
    estimate = SpelledDurationField(
        help_text="The request's estimate, or the default estimate, written out as a request's `estimate` "
        'is: "01:30:00".'
    )
    agents = serializers.DictField(child=serializers.CharField(), help_text="Names of the technicians, by id.")
    slots = SlotSerializer(many=True, help_text="Empty when the estimate is longer than a working day (see `split`).")
    longest_working_day = SpelledDurationField(
        allow_null=True,
        help_text='Written out ("08:00:00"), set only when the estimate is longer than this, the longest '
        "working day of those "
        "searched (all at once for the assigned technicians together): no slot can hold it, and `split` "
        "proposes the work in parts instead. Null: the estimate fits in a working day.",
    )
    split = SplitSerializer(
        allow_null=True,
        help_text="With `longest_working_day`: the earliest parts of at least an hour on consecutive working days "
        "of the same technician(s), adding up to the estimate; book them with POST book-split. Null otherwise, "
        "or when no run of days up to `searched_until` holds the estimate.",
    )
    split_refused = serializers.CharField(
        allow_null=True,
        help_text="Why `split` is null although the estimate is longer than a working day: even on the longest "
        "working days it would take more parts than one booking makes (100). Null otherwise.",
    )
    searched_from = serializers.DateTimeField(allow_null=True, help_text="Null when nobody was chosen.")
    searched_until = serializers.DateTimeField(
        allow_null=True,
        help_text="As far ahead as the calendars are known, unless `count` slots were found sooner: with fewer "
        "slots, nothing else is free before it.",
    )


def _valid(serializer: serializers.Serializer) -> dict:
    """The serializer's validated data; 400 with messages by field when refused."""
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ReplacedPartSerializer(serializers.Serializer):
    """A later part of the earlier booking that a new booking removed (calendars.services.RemovedPart)."""

    part = serializers.IntegerField(help_text="Its number: 2 for the second part, and so on.")
    subject = serializers.CharField(help_text="Its subject when it was removed.")
    start = serializers.DateTimeField(help_text="Its start when it was removed.")
    end = serializers.DateTimeField(help_text="Its end when it was removed.")
    edited = serializers.BooleanField(
        help_text="It had been changed since it was booked (moved, renamed, other technicians; on a page, over "
        "the API or in an external calendar) and was replaced all the same."
    )


class BookingSerializer(RequestSerializer):
    """The request as a booking left it, and what of the earlier booking it replaced."""

    replaced = ReplacedPartSerializer(
        many=True,
        read_only=True,
        help_text="The later parts of the request's earlier booking in parts, deleted by this booking (their "
        "technicians' external calendars lose them too); empty when there were none.",
    )

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "replaced"]


class _BookingRequestSerializer(KnownFields, serializers.Serializer):
    """What every "Find a slot" booking takes besides its time(s)."""

    agents = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Agent.objects.filter(is_active=True),
        allow_empty=False,
        help_text="The technicians find-slot proposed (`slots[].agents` or `split.agents`): the request is "
        "assigned to them, and every part is theirs.",
    )
    confirm_overlap = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "Book even if the slot or a part overlaps busy entries of its technicians or leaves their "
            "working hours (else 409 naming them)."
        ),
    )


class BookSlotSerializer(_BookingRequestSerializer):
    start = SupportedDateTimeSerializerField(help_text="The start of a slot find-slot proposed (`slots[].start`).")


class BookSplitSerializer(_BookingRequestSerializer):
    parts = PartSerializer(many=True, help_text="The parts find-slot proposed (`split.parts`), in order.")


@overlap_answers(RequestSerializer)
class RequestViewSet(KnownQueryParameters, ConfirmOverlapInBody, viewsets.ModelViewSet):
    """Service requests: planning one (a planned start) puts it on its technicians' calendars."""

    serializer_class = RequestSerializer
    pagination_class = Pages
    filter_backends = [DjangoFilterBackend]
    filterset_class = RequestFilter

    def get_queryset(self):
        return selectors.request_list() if self.action != "list" else Request.objects.all()

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def perform_create(self, serializer: RequestSerializer) -> None:
        if not permissions.can_create_request(self.request.user):
            raise PermissionDenied("Only technicians and coordinators create requests.")
        data = dict(serializer.validated_data)
        confirmed = data.pop("confirm_overlap", False)
        with service_errors(), overlap_conflicts():
            try:
                serializer.instance = services.create_request(by=self.request.user, check_overlap=not confirmed, **data)
            except services.PlannedForOthers:
                raise PermissionDenied(permissions.PLANNED_FOR_OTHERS) from None

    def perform_update(self, serializer: RequestSerializer) -> None:
        if not permissions.can_edit_request(self.request.user, serializer.instance):
            raise PermissionDenied("You may change only requests assigned to you.")
        data = dict(serializer.validated_data)
        confirmed = data.pop("confirm_overlap", False)
        agents = data.pop("assigned_agents", None)
        if agents is not None and not permissions.can_reassign_request(self.request.user, serializer.instance):
            raise PermissionDenied("You may not change who this request is assigned to.")
        with service_errors(), overlap_conflicts():
            serializer.instance = services.update_request(
                serializer.instance, by=self.request.user, assigned_agents=agents, check_overlap=not confirmed, **data
            )

    def _to_plan(self, refusal: str) -> Request:
        """The request of the URL, for those who may plan it (else 403 saying `refusal`)."""
        ticket = self.get_object()
        if not permissions.can_edit_request(self.request.user, ticket):
            raise PermissionDenied(refusal)
        return ticket

    @extend_schema(
        responses={
            200: SlotProposalsSerializer,
            400: OpenApiResponse(
                description="A parameter is refused (a day beyond the calendars' horizon): messages by field."
            ),
            403: OpenApiResponse(description="You may not plan this request."),
        },
        operation_id="find_slot",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="find-slot",
        url_name="find-slot",
        filter_backends=[],
        query_serializer=FindSlotQuerySerializer,
    )
    def find_slot(self, request, pk=None, format=None):
        """ "Find a slot" (issue 15): the next free slots for the request's estimate, searched as far
        ahead as the calendars are known and stopping at `count`; for those who may plan it. An
        estimate longer than a working day fits in no slot: `slots` is empty, `longest_working_day`
        says why, and `split` proposes the work in parts on consecutive working days (book-split)."""
        ticket = self._to_plan("You may look for slots only for requests you may plan.")
        data = _valid(FindSlotQuerySerializer(data=request.query_params))
        after = data.get("after")
        if after is not None:
            after = midnight(after, timezone.get_current_timezone())
        try:
            found = selectors.slot_proposals(
                ticket,
                team=data.get("team"),
                buffer=timedelta(minutes=data["buffer"]),
                notice=timedelta(minutes=data["notice"]),
                after=after,
                count=data["count"],
            )
        except ValueError as error:
            raise serializers.ValidationError({"after": [str(error)]}) from error
        answer = {
            "estimate": found.estimate,
            "agents": {str(pk): agent.name for pk, agent in found.agents.items()},
            "slots": found.slots,
            "longest_working_day": found.longest_day if found.too_long else None,
            "split": {
                "parts": [{"start": a, "end": b} for a, b in found.split.parts],
                "agent_ids": found.split.agent_ids,
            }
            if found.split
            else None,
            "split_refused": found.split_refused,
            "searched_from": found.searched_from,
            "searched_until": found.searched_until,
        }
        return Response(SlotProposalsSerializer(answer).data)

    def _booked(self, ticket: Request, booking: services.Booking) -> Response:
        ticket = selectors.request_detail(ticket.pk).get()
        ticket.replaced = booking.replaced
        return Response(BookingSerializer(ticket, context=self.get_serializer_context()).data)

    @extend_schema(
        request=BookSlotSerializer,
        responses={
            200: BookingSerializer,
            400: OpenApiResponse(description="No technicians, or a start without a time zone or offset."),
            403: OpenApiResponse(description="You may not plan this request."),
            409: OVERLAP_RESPONSE,
        },
        operation_id="book_slot",
    )
    @action(detail=True, methods=["post"], url_path="book-slot", url_name="book-slot", filter_backends=[])
    def book_slot(self, request, pk=None, format=None):
        """Book a slot that find-slot proposed, as the page's "Book": the request is planned at `start` with
        `agents`, its planned appointment holding the whole estimate. It replaces the earlier booking: the
        later parts of a booking in parts are deleted (`replaced` lists them, `edited` those changed by hand
        since)."""
        ticket = self._to_plan("You may book only requests you may plan.")
        data = _valid(BookSlotSerializer(data=request.data))
        with service_errors(), overlap_conflicts():
            booking = services.book_slot(
                ticket,
                start=data["start"],
                agents=data["agents"],
                by=request.user,
                check_overlap=not data["confirm_overlap"],
            )
        return self._booked(ticket, booking)

    @extend_schema(
        request=BookSplitSerializer,
        responses={
            200: BookingSerializer,
            400: OpenApiResponse(
                description="Parts that overlap, are fewer than two or more than 100, last less than an hour "
                "or do not add up to the estimate."
            ),
            403: OpenApiResponse(description="You may not plan this request."),
            409: OVERLAP_RESPONSE,
        },
        operation_id="book_split",
    )
    @action(detail=True, methods=["post"], url_path="book-split", url_name="book-split", filter_backends=[])
    def book_split(self, request, pk=None, format=None):
        """Book a split that find-slot proposed, as the page's "Book in parts": the request is planned
        at the first part (its planned appointment covers that part: `planned_length`), each later part
        becomes an appointment on the request ("#12 Server move (part 2 of 3)"), all for `agents`. It
        replaces the earlier booking: its later parts are deleted (`replaced` lists them, `edited` those
        changed by hand since)."""
        ticket = self._to_plan("You may book only requests you may plan.")
        data = _valid(BookSplitSerializer(data=request.data))
        parts = [(part["start"], part["end"]) for part in data["parts"]]
        with service_errors(), overlap_conflicts():
            booking = services.book_split(
                ticket, parts=parts, agents=data["agents"], by=request.user, check_overlap=not data["confirm_overlap"]
            )
        return self._booked(ticket, booking)

    def perform_destroy(self, request: Request) -> None:
        if not permissions.can_delete_request(self.request.user, request):
            raise PermissionDenied("Only coordinators delete requests.")
        services.delete_request(request, by=self.request.user)


class ActionViewSet(KnownQueryParameters, viewsets.ModelViewSet):
    """The work log of one request."""

    serializer_class = ActionSerializer
    pagination_class = Pages

    def _request(self) -> Request:
        if not hasattr(self, "_parent"):
            self._parent = get_object_or_404(selectors.request_list(), pk=self.kwargs["request_pk"])
        return self._parent

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Action.objects.none()
        return selectors.actions_of(self._request())

    def perform_create(self, serializer: ActionSerializer) -> None:
        request = self._request()
        data = dict(serializer.validated_data)
        agent = data.pop("agent", None) or permissions.agent_of(self.request.user)
        if agent is None:
            raise serializers.ValidationError({"agent": ["Choose the technician who did the work."]})
        if not permissions.can_log_action(self.request.user, request, for_agent=agent):
            raise PermissionDenied("You may log your own work on requests assigned to you.")
        with service_errors():
            serializer.instance = services.log_action(request, agent=agent, by=self.request.user, **data)

    def perform_update(self, serializer: ActionSerializer) -> None:
        action = serializer.instance
        data = dict(serializer.validated_data)
        if not permissions.can_edit_action(self.request.user, action):
            raise PermissionDenied("You may change only your own actions.")
        new_agent = data.get("agent")
        reassigning = new_agent is not None and new_agent.pk != action.agent_id
        if reassigning and not permissions.can_reassign_action(self.request.user, action):
            raise PermissionDenied("Only coordinators log work for someone else.")
        with service_errors():
            serializer.instance = services.update_action(action, by=self.request.user, **data)

    def perform_destroy(self, action: Action) -> None:
        if not permissions.can_delete_action(self.request.user, action):
            raise PermissionDenied("You may delete only your own actions.")
        services.delete_action(action, by=self.request.user)
