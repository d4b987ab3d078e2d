"""Pieces every API module shares: service errors as JSON field messages, query parameters
(and the 400 for unknown ones) and pagination."""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_duration
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.fields import empty
from rest_framework.pagination import PageNumberPagination
from rest_framework.relations import PKOnlyObject
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from helpdesk import limits
from helpdesk.parsing import MAX_ID, is_whole_number, parse_id, parse_ids


class SpelledDurationField(serializers.DurationField):
    """A duration written out: "HH:MM:SS" ("01:30:00", as answers give it, or "[DD] HH:MM:SS") or
    ISO 8601 ("PT1H30M"). A bare number is refused (400): DRF would read 60 as 60 seconds, while
    the pages and /api/availability/ count minutes, so a request estimated "60" was planned
    for one minute."""

    default_error_messages = {
        "bare_number": 'Write the duration out: "01:30:00" (hours:minutes:seconds) or "PT90M" (ISO 8601); '
        "a bare number is not read, as it could mean seconds or minutes.",
    }

    def to_internal_value(self, value):
        if isinstance(value, int | float) or (isinstance(value, str) and is_whole_number(value.strip(), signed=True)):
            self.fail("bare_number")
        return super().to_internal_value(value)


@extend_schema_field(
    {"oneOf": [{"type": "integer"}, {"type": "string", "format": "duration", "pattern": "^P", "example": "PT1H30M"}]}
)
class MinutesSerializerField(serializers.Field):
    """A length of time in whole minutes, as a bare number ("90": minutes, as always read here)
    or an ISO 8601 duration ("PT1H30M", "P1DT2H": days, hours, minutes, seconds; ISO 8601-1:2019
    5.5.2, read by Django's `parse_duration`, as the API's duration fields in bodies are). Validates
    to an int of minutes from `low` to `high`; anything else (weeks, years, months, a part of a
    minute, text) is refused (400) with one message naming both forms and the range, which the
    schema shows in the field's description."""

    def __init__(self, *, low: int, high: int, help_text: str = "", **kwargs) -> None:
        self.low, self.high = low, high
        self.message = f"Give a whole number of minutes from {low} to {high}, or an ISO 8601 duration such as PT1H30M."
        super().__init__(help_text=f"{help_text} {self.message}".strip(), **kwargs)

    def to_internal_value(self, data) -> int:
        text = data.strip() if isinstance(data, str) else str(data) if type(data) is int else ""
        minutes = None
        if is_whole_number(text) and len(text) <= 9:  # a bare number is minutes (and int() of it cheap)
            minutes = int(text)
        elif text[:1] in ("P", "p") and any(c.isdigit() for c in text) and len(text) <= 40:
            # ISO 8601 designators are upper case; "pt90m" is read as "PT90M".
            length = parse_duration(text.upper())
            if length is not None and not length % timedelta(minutes=1):
                minutes = length // timedelta(minutes=1)
        if minutes is None or not self.low <= minutes <= self.high:
            raise serializers.ValidationError(self.message)
        return minutes

    def to_representation(self, value: int) -> int:
        return value


@contextmanager
def service_errors(fields: Mapping[str, str] | None = None) -> Iterator[None]:
    """A service's ValidationError becomes a 400 with the same field messages, each on the field
    `fields` names for the service's (service field -> API field; default the same name)."""
    names = {"__all__": "non_field_errors", **(fields or {})}
    try:
        yield
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            detail = {names.get(field, field): messages for field, messages in error.message_dict.items()}
        else:
            detail = {"non_field_errors": error.messages}
        raise serializers.ValidationError(detail) from error


class Pages(PageNumberPagination):
    """Numbered pages of a list (`page` from 1, `page_size` up to 1000). A `page` that is not a
    whole number from 1 on answers 400 on the field, and one past the last 404, each naming
    the pages there are; DRF's own answer to both was a bare 404 "Invalid page."."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request: Request, view: APIView | None = None) -> list | None:
        """The asked page's items (None when unpaged). Raises ValidationError (400) for a `page`
        that is not a page number, NotFound (404) for one past the last."""
        asked = request.query_params.get(self.page_query_param)
        if asked is None or asked in self.last_page_strings:
            return super().paginate_queryset(queryset, request, view)
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        paginator = self.django_paginator_class(queryset, page_size)
        last = paginator.num_pages
        try:
            number = int(asked)
        except ValueError:
            number = 0
        if number < 1:
            raise serializers.ValidationError(
                {self.page_query_param: [f"“{asked[:40]}” is not a page number: give a whole number from 1 to {last}."]}
            )
        if number > last:
            raise NotFound(
                f"There is no page {number}: the last is page {last} ({paginator.count} in all, {page_size} a page)."
            )
        # As DRF's own, on the paginator that counted already (one COUNT query, not two).
        self.request = request
        self.page = paginator.page(number)
        if last > 1 and self.template is not None:
            self.display_page_controls = True
        return list(self.page)


# --- query parameters, as django-filter fields (shown in the drf-spectacular schema) ---------

TRUE_VALUES = ("1", "true", "yes", "on")


def parse_bool(value: str | None) -> bool:
    """A yes/no query parameter: 1, true, yes or on (any case) is yes; anything else no."""
    return (value or "").strip().lower() in TRUE_VALUES


def parse_moment(value: str) -> datetime:
    """A query parameter's moment, read by the one parser of the times people send
    (calendars.times.parse_moment: ISO 8601, a date alone its midnight, a naive time on the current
    zone's wall clock, the signed-in technician's, see AgentTimeZoneMiddleware), so `?start=` and a
    body's `start` read alike. Raises django's ValidationError with that parser's message, the same
    a body's field gets (code "out_of_range" outside helpdesk.limits' supported range)."""
    from calendars.times import parse_moment as read_moment

    try:
        return read_moment(value, timezone.get_current_timezone())
    except ValueError as error:
        out_of_range = str(error) == limits.range_message()
        raise DjangoValidationError(str(error), code="out_of_range" if out_of_range else "invalid") from None


class MomentField(forms.Field):
    """A query parameter holding a moment (see `parse_moment`); empty: None."""

    def to_python(self, value: str | None) -> datetime | None:
        if value in (None, ""):
            return None
        return parse_moment(str(value))


class IdField(forms.Field):
    """One database id (a positive whole number); empty: None."""

    def to_python(self, value: str | None) -> int | None:
        if value in (None, ""):
            return None
        return parse_id(value, name=self.label or "the id")


class IdsField(forms.Field):
    """Database ids given by repeating the parameter (`?agent=1&agent=2`); empty ones are skipped."""

    widget = forms.SelectMultiple

    def to_python(self, value) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        return parse_ids(values, name=self.label or "the ids")


class IdSerializerField(serializers.IntegerField):
    """A database id in a serializer (a JSON body, or a query read by one), read as the pages and
    the list filters read it (helpdesk.parsing.parse_id); `name`: what the message calls it."""

    def __init__(self, *, name: str, **kwargs) -> None:
        self.name = name
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)

    def to_internal_value(self, data) -> int:
        try:
            return parse_id(data, name=self.name)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error


FALSE_VALUES = ("0", "false", "no", "off")


class FlagField(forms.Field):
    """A yes/no query parameter (see `parse_bool`; empty: no). Any other text is refused (400
    naming the values taken): read as no, a typo such as `?recurring=ture` answered everything
    as if the filter were off (trial F8's kind: an answer that does not say what to send)."""

    def to_python(self, value: str | None) -> bool:
        text = (value or "").strip().lower()
        if text and text not in TRUE_VALUES + FALSE_VALUES:
            raise DjangoValidationError(
                f"“{text[:20]}” is not yes or no: give true or false (also 1 or 0, yes or no, on or off).",
                code="invalid",
            )
        return parse_bool(value)


class MomentFilter(filters.IsoDateTimeFilter):
    field_class = MomentField


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    field_class = IdField


@extend_schema_field(OpenApiTypes.INT)
class IdsFilter(filters.MultipleChoiceFilter):
    """Repeated ids; shown in the schema as an exploded array of integers."""

    field_class = IdsField


class FlagFilter(filters.BooleanFilter):
    field_class = FlagField

    def __init__(self, *args, **kwargs) -> None:
        # The text as given, read by FlagField (DRF's BooleanWidget would take "yes" for unknown).
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


def choice_filter(choices, *, help_text: str = "") -> filters.ChoiceFilter:
    """One of `choices` (a TextChoices' .choices); anything else: "Choose one of: a, b."."""
    values = ", ".join(value for value, _ in choices)
    return filters.ChoiceFilter(
        choices=choices, help_text=help_text, error_messages={"invalid_choice": f"Choose one of: {values}."}
    )


class ParameterFilterSet(filters.FilterSet):
    """A FilterSet whose parameters a selector applies: `filter_queryset` hands the cleaned values
    to `select(queryset, **values)` instead of letting each filter add its own lookups, so reads
    stay in the apps' selectors. Field names are the parameters' names."""

    def select(self, queryset: QuerySet, **values) -> QuerySet:
        raise NotImplementedError

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return self.select(queryset, **self.form.cleaned_data)


# --- unknown query parameters: 400 instead of an unfiltered answer ---------------------------


class UnknownParameters(APIException):
    """A request named a query parameter its endpoint does not take (a typo such as `?master=94`
    for `?agent=94`, or `DELETE ...?scope=all`). Answered 400 rather than ignored, since ignoring
    it answers everything, or writes something other than what was asked. `note`: a sentence
    added to the message."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "unknown_parameter"

    def __init__(self, unknown: list[str], accepted: list[str], note: str = "") -> None:
        names = ", ".join(unknown)
        takes = ", ".join(accepted) if accepted else "none"
        plural = "s" if len(unknown) > 1 else ""
        message = f"Unknown query parameter{plural}: {names}. This endpoint takes: {takes}."
        super().__init__(detail=f"{message} {note}".strip())
        # Lists stay lists (APIException would turn a dict's values into strings).
        self.detail = {"detail": self.detail, "unknown": unknown, "accepted": accepted}


class NamedChoiceField(serializers.ChoiceField):
    """A ChoiceField whose 400 lists the values it takes ("“all” is not a choice: choose one of
    together, any."): DRF's own said only "is not a valid choice", so a caller could not tell
    what to send (trial F8). Body serializers get it for model fields with choices too
    (`KnownFields.serializer_choice_field`)."""

    default_error_messages = {"invalid_choice": "“{input}” is not a choice: choose one of {choices}."}

    def fail(self, key: str, **kwargs) -> None:
        if key == "invalid_choice":
            kwargs["input"] = str(kwargs.get("input", ""))[:40]
            kwargs["choices"] = ", ".join(str(value) for value in self.choices)
        super().fail(key, **kwargs)


class KnownFields:
    """For every serializer that reads a request body: a field the serializer does not have
    answers 400, one message per unknown name saying what the endpoint takes, instead of being
    dropped without a word (a `time_zone` on an appointment would otherwise leave its times read
    on another clock). A read-only field answers 400 too ("read-only: ...", `read_only_refusals`)
    when sent with a value other than its current one, which DRF would drop while the client
    believes it changed; sent back as read (GET, edit, PUT) it is accepted and left alone.
    Put it first in the bases: `class XSerializer(KnownFields, serializers.Serializer)`.
    A ModelSerializer's fields with choices name their choices when refused (NamedChoiceField);
    booleans read alike from JSON and form data (`get_fields`)."""

    serializer_choice_field = NamedChoiceField

    def get_fields(self) -> dict[str, serializers.Field]:
        """The serializer's fields; a boolean left out of form data is left out, as in JSON.

        DRF reads a boolean missing from form data (a QueryDict) as false, an unticked HTML
        checkbox: a form-encoded POST of an appointment made it free (`busy` false, kept out of
        overlap checks) where the same JSON body took the model's default, busy (trial F7). Left
        out, it takes its default (or stays as it is on an update) whatever the content type."""
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.BooleanField):
                field.default_empty_html = empty
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                takes = ", ".join(sorted(n for n, f in self.fields.items() if not f.read_only))
                raise serializers.ValidationError(
                    {name: [f"Unknown field: this endpoint does not take it. It takes: {takes}."] for name in unknown}
                )
            refused = read_only_refusals(self, data)
            if refused:
                raise serializers.ValidationError(refused)
        return super().to_internal_value(data)


def _as_text(value) -> str:
    """A value as a form field or JSON would write it (`5`, `true`, `"x"` as `x`)."""
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def _same_value(field: serializers.Field, sent, current) -> bool:
    """Whether `sent` says what `current` (the field's representation) says: equal as read,
    equal as text (form data sends `5` as "5"), or read alike by the field (a time with another
    offset for the same moment). Serializers (nested, read-only) compare only as read, as their
    own reading of read-only children keeps nothing."""
    if sent == current or (isinstance(sent, str) and sent == _as_text(current)):
        return True
    if isinstance(field, serializers.BaseSerializer | serializers.SerializerMethodField | serializers.ReadOnlyField):
        return False
    try:
        return field.to_internal_value(sent) == field.to_internal_value(current)
    except Exception:  # a value the field cannot read (any error of its parser) is not its current value
        return False


def _current_value(field: serializers.Field, instance):
    """The field's value in a read of `instance`, as Serializer.to_representation gives it;
    `empty` when there is no instance (a create) or the field has no value to read."""
    if instance is None or isinstance(instance, list | tuple | QuerySet):
        return empty
    try:
        attribute = field.get_attribute(instance)
    except (serializers.SkipField, AttributeError, KeyError):
        return empty
    check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
    return None if check is None else field.to_representation(attribute)


def read_only_refusals(serializer: serializers.Serializer, data: Mapping) -> dict[str, list[str]]:
    """The read-only fields of `serializer` that a write's body `data` (JSON or form data)
    changes, each with the message its 400 gives: {name: ["read-only: ..."]}, empty when none.

    On an update a field sent with its current value (as a read of `serializer.instance` gives
    it) is not a change; on a create, nothing is current, so any value but an empty one (null,
    "", [], {}) is. DRF itself drops read-only fields without a word (trial: `part`, `source`,
    `created_at` sent and "saved")."""
    refused = {}
    for name in sorted(set(data) & set(serializer.fields)):
        field = serializer.fields[name]
        if not field.read_only or (serializer.instance is not None and _moves_by_itself(serializer, field)):
            continue
        sent = field.get_value(data) if isinstance(data, QueryDict) else data[name]
        current = _current_value(field, serializer.instance)
        if current is empty:
            if sent in (None, "", [], {}):
                continue
            message = f"read-only: {name} is set by the helpdesk, not by a write. Leave it out."
        elif _same_value(field, sent, current):
            continue
        else:
            message = (
                f"read-only: {name} cannot be changed (it is {_as_text(current)[:80]}). "
                "Leave it out, or send it as a read gives it."
            )
        refused[name] = [message]
    return refused


def _moves_by_itself(serializer: serializers.Serializer, field: serializers.Field) -> bool:
    """Does the helpdesk move this read-only field on every write (an auto_now time, the
    iCalendar SEQUENCE of RFC 5545 3.8.7.4)? A client that PUTs back an older read carries a stale
    value of it, which is no attempt to change it (and a lost update is not this check's to tell)."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None or field.source == "*":
        return False
    try:
        model_field = model._meta.get_field(field.source)
    except Exception:  # a computed field, not a column
        return False
    return getattr(model_field, "auto_now", False) or model_field.name == "sequence"


class UnknownParametersSerializer(serializers.Serializer):
    """The 400 answer of a read: for a query parameter its endpoint does not take, `detail`,
    `unknown` and `accepted`; for a refused value of a parameter it takes, messages by
    parameter name instead (so none of these three is required)."""

    detail = serializers.CharField(required=False)
    unknown = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The parameters not taken."
    )
    accepted = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Every parameter the endpoint takes."
    )


def _filterset_parameters(filterset_class: type[filters.FilterSet]) -> set[str]:
    """A FilterSet's query parameters: each filter's name, or name_suffix for the parts of a
    filter whose widget splits it (django-filter's SuffixedMultiWidget: `x_min`, `x_max`)."""
    names = set()
    for name, declared in filterset_class.base_filters.items():
        suffixes = getattr(declared.field.widget, "suffixes", None) or [""]
        names.update(f"{name}_{suffix}" if suffix else name for suffix in suffixes)
    return names


def accepted_parameters(view: APIView) -> list[str]:
    """The query parameters a read of `view` (after `initial` set its action) takes, sorted: the
    format override (`format`); the view's `query_serializer` fields (endpoints that read their
    query with a serializer); and for a collection (any view but a viewset's detail routes) its
    paginator's (`page`, `page_size`) and filter backends' parameters (a django-filter FilterSet's
    fields, DRF's `search` / `ordering` where those backends are on)."""
    names = {api_settings.URL_FORMAT_OVERRIDE} - {None}
    query_serializer = getattr(view, "query_serializer", None)
    if query_serializer is not None:
        names.update(query_serializer().fields)
    if not getattr(view, "detail", False):
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            names.update(parameter["name"] for parameter in paginator.get_schema_operation_parameters(view))
        for backend_class in getattr(view, "filter_backends", ()):
            backend = backend_class()
            if isinstance(backend, DjangoFilterBackend):
                filterset_class = backend.get_filterset_class(view, view.get_queryset())
                names.update(_filterset_parameters(filterset_class) if filterset_class else ())
            else:
                names.update(parameter["name"] for parameter in backend.get_schema_operation_parameters(view))
    return sorted(names)


WRITE_PARAMETERS_NOTE = "A write takes its fields in the request body. Nothing was changed."


class KnownQueryParameters:
    """For every API view: a request with a query parameter the endpoint does not take answers
    400 (UnknownParameters) naming it and listing those taken, after authentication and
    permissions (and before anything is written). A read (GET, HEAD) takes `accepted_parameters`;
    a write (POST, PUT, PATCH, DELETE) only the format override, as it takes its fields in the
    body: `DELETE .../<occurrence>/?scope=all` answered 204 and removed that one occurrence (trial
    F6). Views that read their query with a serializer name it as `query_serializer` (per action
    too: `@action(..., query_serializer=...)`), which also puts its fields in the OpenAPI schema
    (helpdesk.api_schema)."""

    query_serializer: type[serializers.Serializer] | None = None

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "OPTIONS":  # DRF's metadata answer, no parameters read
            return
        note = ""
        if request.method in ("GET", "HEAD"):
            accepted = accepted_parameters(self)
        else:
            accepted, note = sorted({api_settings.URL_FORMAT_OVERRIDE} - {None}), WRITE_PARAMETERS_NOTE
        unknown = sorted(set(request.query_params) - set(accepted))
        if unknown:
            raise UnknownParameters(unknown, accepted, note)
